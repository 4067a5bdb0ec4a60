package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

// loadSeconds is how many seconds of load to pre-generate: warm-up,
// window and a few seconds of cool-down.
func loadSeconds(o *Options) float64 {
	return (o.Warmup + o.Duration + 3*time.Second).Seconds()
}

// prepare generates (and signs) the run's transactions.
func prepare(ctx context.Context, o *Options, targets []*target, keysDir string) ([]*stream, error) {
	perSec := o.Rate
	if perSec == 0 {
		perSec = closedKVTPS
		if o.App == "bank" {
			perSec = closedBankTPS
		}
	}
	total := int(perSec*loadSeconds(o)) + 100*len(targets)
	if o.App == "kv" || o.App == "abci" { // abci: any app that takes key=value, as CometBFT's kvstore
		fmt.Fprintf(o.Progress, "bench: generating %d kv transactions of %d bytes\n", total, kvTxSize)
		var id [4]byte
		rand.Read(id[:])
		return kvStreams(hex.EncodeToString(id[:]), len(targets), kvStreamsOfNode, total), nil
	}
	senders, err := loadSenders(keysDir, targets)
	if err != nil {
		return nil, err
	}
	per := (total + len(senders) - 1) / len(senders)
	for i := range senders {
		if err := firstNonce(ctx, targets[senders[i].node], &senders[i], per); err != nil {
			return nil, fmt.Errorf("bench: sender %d: %w", i, err)
		}
	}
	fmt.Fprintf(o.Progress, "bench: signing %d transfers from %d accounts\n", per*len(senders), len(senders))
	began := time.Now()
	streams, err := bankStreams(targets[0].status.ChainID, senders, per)
	if err == nil {
		fmt.Fprintf(o.Progress, "bench: signed in %v\n", time.Since(began).Round(time.Millisecond))
	}
	return streams, err
}

// loadSenders reads the account keys of keysDir (account0.key, ...),
// pins sender i to target i mod n, and takes each one's first nonce from
// its node's pending_nonce.
func loadSenders(dir string, targets []*target) ([]sender, error) {
	if dir == "" {
		return nil, errors.New("bench: a bank bench of running nodes needs --keys DIR with funded key files (account0.key, account1.key, ...), such as a testnet's keys/")
	}
	var out []sender
	for k := 0; ; k++ {
		path := filepath.Join(dir, fmt.Sprintf("account%d.key", k))
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		key, err := keys.Read(path)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		out = append(out, sender{key: key, node: k % len(targets)})
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("bench: %s holds %d account key files (account0.key, ...); a bank bench needs at least 2", dir, len(out))
	}
	return out, nil
}

// firstNonce sets s's first nonce from its node's pending_nonce and
// checks that the account can pay n transfers of 1 unit.
func firstNonce(ctx context.Context, t *target, s *sender, n int) error {
	addr := chain.AddressOf(s.key.Public().(ed25519.PublicKey))
	a, err := t.c.Account(ctx, addr)
	if err != nil {
		return err
	}
	if a.Balance < uint64(n) {
		return fmt.Errorf("account %s holds %d units, too few for %d transfers of 1", addr, a.Balance, n)
	}
	s.nonce = a.PendingNonce
	return nil
}
