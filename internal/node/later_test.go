package node

import (
	"crypto/ed25519"
	"github.com/strategos/strategos/internal/app/apps"
	"path/filepath"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/keys"
	"github.com/strategos/strategos/internal/testbin"
)

// A leader (Byzantine, or just early) that orders a transfer before the
// sender's earlier nonce cannot get it rejected for good: the block
// leaves it pending on the node that accepted it, unrecorded, and it
// commits once a block carries the nonce it waited for.
func TestTransferAheadOfItsNonceStaysPending(t *testing.T) {
	dir := t.TempDir()
	h, err := testbin.OneValidator(dir, "bank")
	if err != nil {
		t.Fatal(err)
	}
	// Not run: blocks are committed by hand below, as a leader ordered them.
	n, err := New(Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	key, err := keys.Read(filepath.Join(dir, "keys", "account0.key"))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(nonce uint64) []byte {
		tx, err := bank.Sign(key, h.Genesis.ChainID, chain.Address{7}, 10, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	tx0, tx1 := sign(0), sign(1)
	for _, tx := range [][]byte{tx0, tx1} {
		if _, err := n.Submit(tx); err != nil {
			t.Fatal(err)
		}
	}
	chainID := h.Genesis.ChainID
	parent := chain.Genesis(chainID, n.vals).Hash(chainID)
	parentQC := chain.GenesisQC(parent)
	commit := func(height uint64, txs ...[]byte) {
		t.Helper()
		b := &chain.Block{Height: height, Round: height, Parent: parent, QC: parentQC, Payload: txs, StateRoot: genesisRoot(t, n)}
		hash := b.Hash(chainID)
		qc := &chain.QC{Round: height, BlockHash: hash}
		if err := n.commit([]consensus.Commit{{Block: b, Hash: hash, QC: qc}}); err != nil {
			t.Fatal(err)
		}
		parent, parentQC = hash, qc
	}
	status := func(tx []byte) TxStatus {
		st, _, err := n.Tx(chain.TxHash(tx))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	commit(1, tx1) // nonce 1 before nonce 0
	if st := status(tx1); st.Status != "pending" {
		t.Fatalf("a transfer ordered ahead of its nonce ended %+v; want it still pending", st)
	}
	if _, ok, err := n.TxResult(chain.TxHash(tx1)); err != nil || ok {
		t.Fatal("a transfer that did not apply was recorded as committed")
	}
	if _, nonce, _, _, err := n.Account(chain.AddressOf(key.Public().(ed25519.PublicKey))); err != nil || nonce != 0 {
		t.Fatalf("nonce %d after a block that applied nothing", nonce)
	}

	commit(2, tx0, tx1)
	for i, tx := range [][]byte{tx0, tx1} {
		if st := status(tx); st.Status != "committed" || st.Height != 2 {
			t.Fatalf("transfer %d: %+v, want committed at height 2", i, st)
		}
	}
}
