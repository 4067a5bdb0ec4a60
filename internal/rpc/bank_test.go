package rpc_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

// On the bank, check_tx judges a transfer against the sender's committed
// and pending state without counting it as pending: checking it twice
// says the same, and it can still be broadcast.
func TestBankCheckTx(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a validator")
	}
	n := startValidator(t, "bank")
	var ks []ed25519.PrivateKey
	for i := range 2 {
		k, _, err := keys.ReadFor(filepath.Join(n.dir, "keys", fmt.Sprintf("account%d.key", i)))
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	to := chain.AddressOf(ks[1].Public().(ed25519.PublicKey))
	transfer := func(amount, nonce uint64) types.Tx {
		b, err := bank.Sign(ks[0], n.home.Genesis.ChainID, to, amount, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c, err := rpchttp.New("tcp://"+n.rpc, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitHeight(t, ctx, c, 1)
	check := func(tx types.Tx, code uint32, what string) {
		t.Helper()
		res, err := c.CheckTx(ctx, tx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if res.Code != code {
			t.Errorf("%s: check_tx code %d (%s), want %d", what, res.Code, res.Log, code)
		}
	}
	first := transfer(5, 0)
	check(first, 0, "nonce 0")
	check(first, 0, "nonce 0 again") // the first check counted nothing pending
	check(transfer(5, 1), bank.CodeNonceGap, "nonce 1 before 0")
	check(transfer(1<<62, 0), bank.CodeInsufficientFunds, "more than the balance")
	sent, err := c.BroadcastTxSync(ctx, first)
	if err != nil || sent.Code != 0 {
		t.Fatalf("broadcast after check_tx: %+v %v", sent, err)
	}
	check(first, bank.CodeNonceUsed, "nonce 0 once pending")
	check(transfer(5, 1), 0, "nonce 1 after the pending 0")
	done, err := c.BroadcastTxCommit(ctx, transfer(7, 1))
	if err != nil || done.CheckTx.Code != 0 || done.TxResult.Code != 0 || done.Height < 1 {
		t.Fatalf("broadcast_tx_commit: %+v %v", done, err)
	}
	q, err := c.ABCIQuery(ctx, "account", to[:])
	if err != nil || q.Response.Code != 0 || !strings.Contains(string(q.Response.Value), fmt.Sprintf(`"balance":%d`, 1_000_000_000+12)) {
		t.Errorf("abci_query account: %s %v", q.Response.Value, err)
	}
}
