package bank

import (
	"testing"

	"github.com/strategos/strategos/internal/app"
)

// BenchmarkCheckTx measures admission of one transfer as it arrives
// (hashed, decoded, checked against its sender's committed and pending
// state): with the verified signature cache warm (the cost of a transfer
// seen before, e.g. gossiped back), and without a cache (a signature check
// each time). The sender's pending state is reset between admissions.
func BenchmarkCheckTx(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cached", DefaultCacheSize}, {"uncached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, 2, 1_000_000)
			f.app.sigs = newSigCache(bc.cache)
			body := f.tx(b, 0, 1, 1, 0)
			check := func() {
				errs, err := f.app.CheckTx(ctx, app.CheckNew, []*app.Tx{app.NewTx(body)})
				if err != nil || errs[0] != nil {
					b.Fatal(errs, err)
				}
				f.app.mu.Lock()
				clear(f.app.pending)
				f.app.mu.Unlock()
			}
			check()
			b.ReportAllocs()
			for b.Loop() {
				check()
			}
		})
	}
}

// BenchmarkFinalize1000 finalizes a block of 1,000 transfers among 100
// accounts (10 each, consecutive nonces) over the in-memory state: "cold"
// verifies every signature in FinalizeBlock, "checked" after CheckTx saw
// them (the normal path: a transfer is decoded and its signature verified
// once per node).
func BenchmarkFinalize1000(b *testing.B) {
	balances := make([]uint64, 100)
	for i := range balances {
		balances[i] = 1_000_000
	}
	base := newFixture(b, 100, balances...)
	var block [][]byte
	for n := range uint64(10) {
		for i := range 100 {
			block = append(block, base.tx(b, i, (i+1+int(n))%100, 1+n, n))
		}
	}
	for _, checked := range []bool{false, true} {
		name := "cold"
		if checked {
			name = "checked"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				st := base.st.Clone()
				a := New(st, testChain)
				txs := app.NewTxs(block)
				if checked {
					if _, err := a.CheckTx(ctx, app.CheckNew, txs); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				res, err := a.finalizeCommit(st, txs)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				a.Close()
				b.StartTimer()
				if r := res.TxResults[len(block)-1]; !r.OK() {
					b.Fatal(r.Log)
				}
			}
			b.ReportMetric(float64(len(block))*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
