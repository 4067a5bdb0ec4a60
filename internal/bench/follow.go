package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/client"
)

// Polls of the committed blocks.
const (
	pollBlocks  = 20 // blocks asked for at most: an answer stays small even with full blocks
	pollTimeout = 10 * time.Second
)

// follower follows the committed blocks of one node and books the run's
// transactions in them as committed, with their latency.
type follower struct {
	r    *run
	c    *client.Client
	poll time.Duration
	next uint64 // the next height to fetch

	height      atomic.Uint64 // the last height seen
	committed   atomic.Int64  // the run's transactions seen committed
	winCommit   atomic.Int64  // ... seen during the window
	winResolved atomic.Int64  // ... sent (and accepted) during the window
	blocks      atomic.Int64  // blocks seen during the window
	foreign     atomic.Int64  // transactions in blocks that are not the run's
	lastCommit  atomic.Int64  // run time of the last commit of one of the run's transactions

	mu      sync.Mutex
	samples []time.Duration // latencies of the window's transactions
	all     hist            // every latency, for the progress display
	inWin   hist            // the window's latencies
}

// loop polls until ctx ends.
func (f *follower) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	failSince := time.Duration(-1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, pollTimeout)
		blocks, err := f.c.Blocks(pctx, f.next, f.next+pollBlocks-1)
		cancel()
		now := f.r.now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.r.noteError(err)
			if failSince < 0 {
				failSince = now
			} else if now-failSince > unreachableAfter {
				f.r.fail(fmt.Errorf("bench: cannot follow the blocks of %s for %v: %w", f.c.URL(), unreachableAfter, err))
				return
			}
			t.Reset(f.poll)
			continue
		}
		failSince = -1
		for _, b := range blocks {
			if b.Height != f.next {
				f.r.fail(fmt.Errorf("bench: %s answered block %d when asked for %d", f.c.URL(), b.Height, f.next))
				return
			}
			f.block(b, now)
			f.next++
		}
		if len(blocks) > 0 {
			f.height.Store(f.next - 1)
		}
		if len(blocks) >= pollBlocks {
			t.Reset(0) // more are waiting
		} else {
			t.Reset(f.poll)
		}
	}
}

// block books one committed block seen at run time now.
func (f *follower) block(b client.Block, now time.Duration) {
	r := f.r
	inWin := r.win.contains(now)
	if inWin {
		f.blocks.Add(1)
	}
	var lat, winLat []time.Duration
	for _, h := range b.Txs {
		key, ok := hexKey(h)
		id, mine := r.book.ids[key]
		if !ok || !mine {
			f.foreign.Add(1)
			continue
		}
		old := r.book.state[id].Or(stCommitted)
		if old&stAccepted == 0 {
			r.accepted(int(id)) // its answer has not been booked yet
		}
		if old&stCommitted != 0 {
			continue
		}
		f.committed.Add(1)
		f.lastCommit.Store(int64(now))
		if inWin {
			f.winCommit.Add(1)
		}
		sent := time.Duration(r.book.sent[id].Load())
		if sent <= 0 {
			continue // never sent by this run: an earlier run's, or a colliding key
		}
		lat = append(lat, now-sent)
		if r.win.contains(sent) {
			f.winResolved.Add(1)
			winLat = append(winLat, now-sent)
		}
	}
	if len(lat) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range lat {
		f.all.add(d)
	}
	for _, d := range winLat {
		f.samples = append(f.samples, d)
		f.inWin.add(d)
	}
}

// p50 is the running median latency for the progress display: of the
// window's transactions once there are some, else of all so far.
func (f *follower) p50() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inWin.n > 0 {
		return f.inWin.percentile(50)
	}
	return f.all.percentile(50)
}
