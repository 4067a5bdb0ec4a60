package node

import (
	"github.com/strategos/strategos/internal/app/apps"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
	"github.com/strategos/strategos/internal/mempool"
	"github.com/strategos/strategos/internal/testbin"
)

// BenchmarkAdmitBatch measures client admission of 1,000 signed transfers
// from 10 senders (what one POST /v1/txs/batch line costs, times 1,000):
// hashing, the committed-index read, decoding, batch signature checks on
// every core, per-sender nonce and balance checks, and the mempool. Each
// iteration starts from an empty pool and signature cache.
func BenchmarkAdmitBatch(b *testing.B) {
	dir := b.TempDir()
	h, err := testbin.OneValidator(dir, "bank")
	if err != nil {
		b.Fatal(err)
	}
	n, err := New(Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	chainID := h.Genesis.ChainID
	var txs [][]byte
	for a := range 10 {
		k, err := keys.Read(filepath.Join(dir, "keys", "account"+strconv.Itoa(a)+".key"))
		if err != nil {
			b.Fatal(err)
		}
		to := chain.Address{byte(a + 1)}
		for nonce := range 100 {
			tx, err := bank.Sign(k, chainID, to, 1, uint64(nonce))
			if err != nil {
				b.Fatal(err)
			}
			txs = append(txs, tx)
		}
	}
	batch := make([][]byte, len(txs))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		n.pool = mempool.New(mempool.Config{})
		n.app = bank.New(n.store, chainID)
		copy(batch, txs)
		b.StartTimer()
		_, errs := n.SubmitBatch(batch)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
