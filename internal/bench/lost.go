package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/client"
)

// checkLost looks up the accepted transactions that were not seen
// committed on the node that accepted them (a sample if there are many).
func (r *run) checkLost(ctx context.Context, targets []*target) (lost, dropped, pending int64, checked int) {
	var todo []int
	for id := range r.book.len() {
		if r.book.state[id].Load() == stAccepted {
			todo = append(todo, id)
		}
	}
	scale := 1.0
	if len(todo) > lostCheck {
		step := float64(len(todo)) / lostCheck
		sample := make([]int, 0, lostCheck)
		for i := range lostCheck {
			sample = append(sample, todo[int(float64(i)*step)])
		}
		scale, todo = float64(len(todo))/lostCheck, sample
	}
	if len(todo) == 0 {
		return 0, 0, 0, 0
	}
	fmt.Fprintf(r.o.Progress, "bench: looking up %d accepted transactions not seen committed\n", len(todo))
	var l, d, p atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				s, k := r.book.locate(id)
				h := chain.TxHash(s.line(k))
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				tx, err := targets[s.node].c.Tx(cctx, h)
				cancel()
				switch {
				case errors.Is(err, client.ErrNotFound):
					l.Add(1)
				case err != nil:
					p.Add(1) // cannot tell: not counted as lost
				case tx.Status == client.StatusCommitted:
					// committed, but after the follower stopped
				case tx.Status == client.StatusRejected:
					d.Add(1)
				default:
					p.Add(1)
				}
			}
		}()
	}
	for _, id := range todo {
		work <- id
	}
	close(work)
	wg.Wait()
	up := func(v int64) int64 { return int64(float64(v)*scale + 0.5) }
	return up(l.Load()), up(d.Load()), up(p.Load()), len(todo)
}
