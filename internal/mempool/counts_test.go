package mempool

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// The O(1) counters (Ready, SenderPending) always equal a recount of the
// entries, whatever sequence of adds, flights, commits and removals runs.
func TestCountersMatchRecount(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	p := New(Config{MaxTxs: 500})
	var all [][]byte
	blocks := 0
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 5:
			s := fmt.Sprintf("s%d", rng.IntN(4))
			tx := fmt.Appendf(nil, "tx-%d", step)
			if _, err := p.AddSeq(tx, s, uint64(step), uint64(rng.IntN(100))); err == nil {
				all = append(all, tx)
			}
		case op < 7 && len(all) > 0:
			var txs [][]byte
			for range 1 + rng.IntN(8) {
				txs = append(txs, all[rng.IntN(len(all))])
			}
			blocks++
			p.InFlight(chain.TxHash(fmt.Appendf(nil, "block-%d", blocks)), uint64(blocks), txs)
		case op < 9 && len(all) > 0:
			p.Committed(uint64(rng.IntN(blocks+1)), [][]byte{all[rng.IntN(len(all))]})
		case len(all) > 0:
			p.Remove(chain.TxHash(all[rng.IntN(len(all))]))
		}
		recount(t, p, step)
	}
}

func recount(t *testing.T, p *Pool, step int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ready := 0
	count := map[string]int{}
	spend := map[string]uint64{}
	for _, e := range p.byHash {
		if e.inFlight.IsZero() {
			ready++
		}
		count[e.sender]++
		spend[e.sender] += e.spend
	}
	if int(p.count.Load()) != len(p.byHash) {
		t.Fatalf("step %d: count %d, recount %d", step, p.count.Load(), len(p.byHash))
	}
	if ready != p.ready {
		t.Fatalf("step %d: ready counter %d, recount %d", step, p.ready, ready)
	}
	for s, st := range p.senders {
		if len(st.txs) != count[s] || st.spend != spend[s] {
			t.Fatalf("step %d: sender %s counters %d/%d, recount %d/%d", step, s, len(st.txs), st.spend, count[s], spend[s])
		}
	}
}
