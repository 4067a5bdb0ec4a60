package sim

import (
	"fmt"
	"testing"
)

// BenchmarkScale runs calm networks of 4 to 100 validators through the
// real cores and reports, per committed height: messages sent in all
// (linear in n for chained HotStuff: a proposal to n-1 peers and n-1
// votes to the next leader), virtual milliseconds (the rounds' latency
// under the simulator's delays), and the wall time of the whole network
// on this machine (signature checks are memoised in the simulator, so it
// measures the protocol's own work, not ed25519). docs/performance.md
// turns these into the scaling model.
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{4, 10, 31, 64, 100} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var heights, msgs, virt int64
			seed := uint64(1)
			for b.Loop() {
				r, err := Run(Config{Nodes: n, Heights: 20, Seed: seed, Calm: true})
				if err != nil || r.Failed() {
					b.Fatal(err, r)
				}
				seed++
				heights += int64(r.MinHeight)
				msgs += int64(r.Messages)
				virt += r.Time
			}
			b.ReportMetric(float64(msgs)/float64(heights), "msgs/height")
			b.ReportMetric(float64(virt)/float64(heights), "virtual-ms/height")
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(heights), "wall-µs/height")
		})
	}
}
