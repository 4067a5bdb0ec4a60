package mempool

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// The O(1) counters (Ready, Len, bytes, lanes) always equal a recount of
// the entries, whatever sequence of adds, flights, commits and removals
// runs.
func TestCountersMatchRecount(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	p := New(Config{MaxTxs: 500})
	var all []*app.Tx
	blocks := 0
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 5:
			tx := app.NewTx(fmt.Appendf(nil, "tx-%d", step))
			tx.Lane = fmt.Sprintf("s%d", rng.IntN(4))
			if err := p.Add(tx); err == nil {
				all = append(all, tx)
			}
		case op < 7 && len(all) > 0:
			var hs []chain.Hash
			for range 1 + rng.IntN(8) {
				hs = append(hs, all[rng.IntN(len(all))].Hash)
			}
			blocks++
			p.InFlight(chain.TxHash(fmt.Appendf(nil, "block-%d", blocks)), uint64(blocks), hs)
		case op < 9 && len(all) > 0:
			p.Committed(uint64(rng.IntN(blocks+1)), []chain.Hash{all[rng.IntN(len(all))].Hash})
		case len(all) > 0:
			p.Remove(all[rng.IntN(len(all))].Hash)
		}
		recount(t, p, step)
	}
}

func recount(t *testing.T, p *Pool, step int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	ready, bytes := 0, 0
	lanes := map[string]int{}
	for _, e := range p.byHash {
		if e.inFlight.IsZero() {
			ready++
		}
		bytes += len(e.tx.Bytes)
		lanes[e.tx.Lane]++
	}
	if int(p.count.Load()) != len(p.byHash) {
		t.Fatalf("step %d: count %d, recount %d", step, p.count.Load(), len(p.byHash))
	}
	if ready != p.ready {
		t.Fatalf("step %d: ready counter %d, recount %d", step, p.ready, ready)
	}
	if bytes != p.bytes {
		t.Fatalf("step %d: bytes %d, recount %d", step, p.bytes, bytes)
	}
	for l, es := range p.lanes {
		if len(es) != lanes[l] {
			t.Fatalf("step %d: lane %s holds %d, recount %d", step, l, len(es), lanes[l])
		}
	}
}
