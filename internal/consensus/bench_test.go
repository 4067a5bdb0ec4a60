package consensus

import "testing"

// BenchmarkStep measures end-to-end core steps on four honest validators:
// one op is one message delivered through the harness (Step, Ready,
// persist, route), signature checks included. It reports the blocks
// committed per op and the steps per second.
func BenchmarkStep(b *testing.B) {
	n := newTestNet(b, 4, nil)
	ops := 0
	for b.Loop() {
		if len(n.queue) == 0 {
			n.step() // nothing in flight: let time pass
			continue
		}
		n.deliverOne()
		ops++
	}
	b.StopTimer()
	if ops == 0 {
		b.Fatal("no message was delivered")
	}
	n.checkAgreement()
	b.ReportMetric(float64(len(n.committed(0)))/float64(ops), "blocks/op")
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "steps/s")
}
