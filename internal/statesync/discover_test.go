package statesync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/wire"
)

// silentNet takes requests and never answers, as peers that are down.
type silentNet struct{ sent atomic.Int32 }

func (n *silentNet) Send(uint32, wire.Envelope) { n.sent.Add(1) }
func (n *silentNet) Recv(ctx context.Context) (uint32, wire.Envelope, error) {
	<-ctx.Done()
	return 0, wire.Envelope{}, ctx.Err()
}

func testValidators(t *testing.T, n int) *chain.ValidatorSet {
	t.Helper()
	var vs []chain.Validator
	for i := range n {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		vs = append(vs, chain.Validator{PubKey: ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), Power: 1})
	}
	s, err := chain.NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDiscoverGivesUpAtItsTimeout: a running validator's jump (MinHeight,
// DiscoverTimeout) among peers that never list their snapshots ends with
// ErrNoSnapshot once the timeout has passed, having asked again in the
// meantime, rather than waiting for ever.
func TestDiscoverGivesUpAtItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &silentNet{}
		cfg := Config{ChainID: testChain, Validators: testValidators(t, 4), Self: 3, App: noApp{}, Net: net,
			MinHeight: 100, DiscoverTimeout: time.Minute, RequestTimeout: 5 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		_, err := Sync(ctx, cfg)
		took := time.Since(start)
		if !errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("Sync among silent peers: %v; want ErrNoSnapshot", err)
		}
		if took < time.Minute || took > time.Minute+cfg.RequestTimeout {
			t.Fatalf("gave up after %v; want its timeout, %v", took, cfg.DiscoverTimeout)
		}
		if sent := net.sent.Load(); sent <= 3 {
			t.Fatalf("%d requests sent; want the 3 peers asked again", sent)
		}
	})
}
