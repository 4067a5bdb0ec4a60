package journal

import "testing"

// BenchmarkAccept measures durable acceptance of 200-byte transactions:
// one per call from one caller (an fsync each), a batch of 256 per call,
// and one per call from many concurrent callers (group commit).
func BenchmarkAccept(b *testing.B) {
	for _, c := range []struct {
		name  string
		batch int
		par   bool
	}{{"serial-1", 1, false}, {"serial-256", 256, false}, {"parallel-1", 1, true}} {
		b.Run(c.name, func(b *testing.B) {
			j, _ := open(b, b.TempDir(), Config{MaxBytes: 1 << 30})
			txs, hs := txsOf(c.name, c.batch*max(b.N, 1), 200)
			b.SetBytes(int64(200 * c.batch))
			b.ResetTimer()
			if c.par {
				b.SetParallelism(16)
				next := make(chan int, b.N)
				for i := range b.N {
					next <- i
				}
				close(next)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := <-next
						if err := j.Accept(txs[i:i+1], hs[i:i+1]); err != nil {
							b.Error(err)
							return
						}
						j.Settle(hs[i : i+1])
					}
				})
			} else {
				for i := range b.N {
					k := i * c.batch
					if err := j.Accept(txs[k:k+c.batch], hs[k:k+c.batch]); err != nil {
						b.Fatal(err)
					}
					j.Settle(hs[k : k+c.batch])
				}
			}
			b.StopTimer()
			s := j.Stats()
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(float64(b.N*c.batch)/float64(max(s.Syncs, 1)), "tx/fsync")
		})
	}
}
