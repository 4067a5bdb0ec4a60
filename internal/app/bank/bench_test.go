package bank

import (
	"testing"
)

// BenchmarkCheckTx measures admission of one transfer: with the verified
// signature cache warm (the cost of a transfer seen before, e.g. gossiped
// back or re-checked), and without a cache (a signature check each time).
func BenchmarkCheckTx(b *testing.B) {
	for _, bc := range []struct {
		name  string
		cache int
	}{{"cached", DefaultCacheSize}, {"uncached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, 2, 1_000_000)
			f.app.sigs = newSigCache(bc.cache)
			tx := f.tx(b, 0, 1, 1, 0)
			if err := f.app.CheckTx(tx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := f.app.CheckTx(tx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkExecute1000 executes a block of 1,000 transfers among 100
// accounts (10 each, consecutive nonces) over the in-memory state: "cold"
// verifies every signature in Execute, "checked" after CheckTx saw them
// (the normal path: a transfer's signature is verified once per node).
func BenchmarkExecute1000(b *testing.B) {
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
				a := New(base.st.clone(), testChain)
				if checked {
					for _, tx := range block {
						_ = a.CheckTx(tx)
					}
				}
				b.StartTimer()
				res, err := a.executeCommit(1, block)
				if err != nil {
					b.Fatal(err)
				}
				if !res.Results[len(block)-1].OK {
					b.Fatal(res.Results[len(block)-1].Error)
				}
			}
			b.ReportMetric(float64(len(block))*float64(b.N)/b.Elapsed().Seconds(), "tx/s")
		})
	}
}
