package transport

import (
	"fmt"
	"log/slog"
	"runtime"
	"testing"
)

// BenchmarkThroughput streams Consensus frames from one transport to another
// over loopback TLS; it reports frames/s and MB/s (payload bytes). Consensus
// is the class whose receiver waits rather than discard frames, so that
// every frame sent arrives.
//
//	go test -run '^$' -bench Throughput -benchtime 3s ./internal/transport
func BenchmarkThroughput(b *testing.B) {
	for _, size := range []int{200, 64 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			tn := newTestNet(b, 2)
			trs := tn.startAll(b, func(i int, cfg *Config) {
				cfg.QueueLen = 4096
				cfg.Logger = slog.New(slog.DiscardHandler)
			})
			a, r := trs[0], trs[1]
			frame := make([]byte, size)
			a.Send(1, Consensus, frame) // the connection is up once it arrives
			recv(b, r, Consensus)

			done := make(chan struct{})
			b.SetBytes(int64(size))
			b.ResetTimer()
			go func() {
				defer close(done)
				for range b.N {
					<-r.Inbound(Consensus)
				}
			}()
			for range b.N {
				for queueFull(a, 1, Consensus, size) {
					runtime.Gosched() // let the writer catch up rather than evict
				}
				a.Send(1, Consensus, frame)
			}
			<-done
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
