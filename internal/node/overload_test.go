package node

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// Offered far more than it takes, a validator refuses the excess as busy,
// and every transaction it accepted ends committed: nothing accepted is
// dropped, whatever the overload. Both bounds are exercised: the queue
// waiting for a block (clients), and the pool (gossip too).
func TestOverloadRefusesBusyAndLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	for _, bound := range []struct{ pool, waiting int }{{300, 100_000}, {100_000, 300}} {
		t.Run(fmt.Sprintf("pool=%d,waiting=%d", bound.pool, bound.waiting), func(t *testing.T) {
			overload(t, bound.pool, bound.waiting)
		})
	}
}

func overload(t *testing.T, pool, waiting int) {
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) {
		h.Node.MempoolMaxTxs, h.Node.MempoolMaxWaiting = pool, waiting
	})
	var (
		mu       sync.Mutex
		accepted []chain.Hash
		busy     int
		wg       sync.WaitGroup
	)
	for w := range 8 {
		wg.Go(func() {
			for b := range 10 {
				batch := make([][]byte, 200)
				for i := range batch {
					batch[i] = fmt.Appendf(nil, "load-%d-%d-%d=%0100d", w, b, i, i)
				}
				hs, errs := c.nodes[w%2].SubmitBatch(batch)
				mu.Lock()
				for i, err := range errs {
					switch {
					case err == nil:
						accepted = append(accepted, hs[i])
					case IsBusy(err):
						busy++
					default:
						t.Errorf("unexpected refusal: %v", err)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if busy == 0 {
		t.Fatalf("16,000 transactions into bounds of %d/%d and none refused as busy", pool, waiting)
	}
	if len(accepted) == 0 {
		t.Fatal("nothing accepted")
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, h := range accepted {
		for {
			// The accepting node, or any other: once committed, every
			// node answers it.
			st, ok, err := c.nodes[0].Tx(h)
			if err != nil {
				t.Fatal(err)
			}
			if ok && st.Status == "committed" {
				break
			}
			if ok && st.Status == "rejected" {
				t.Fatalf("accepted %s rejected: %s", h.Short(), st.Error)
			}
			if time.Now().After(deadline) {
				t.Fatalf("accepted %s still %+v (known %v) after the load", h.Short(), st, ok)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("accepted %d, refused busy %d", len(accepted), busy)
}
