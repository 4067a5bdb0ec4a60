package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/client"
)

// Load shape.
const (
	maxBatch         = 10_000                 // lines per batch, the contract's limit
	closedBatch      = 4_000                  // lines per batch of the closed loop
	openInFlight     = 4                      // batches in flight per node, open loop
	closedInFlight   = 2                      // batches in flight per node, closed loop
	busyBackoff      = 100 * time.Millisecond // closed loop: pause after a node said busy (25 ms flooded the nodes with refusals: ~10% less committed kv)
	tick             = 10 * time.Millisecond
	unreachableAfter = 5 * time.Second // a node failing this long ends the run
)

// counters are the load's counts, over the whole run and over the window
// (by the time a line was sent). Every field is updated atomically.
type counters struct {
	sent, accepted, busy, rejected, errors atomic.Int64 // lines
	winSent, winAccepted, winBusy          atomic.Int64
	winRejected, winErrors                 atomic.Int64
	inFlight                               atomic.Int64 // lines in batches not answered yet
	winInFlight                            atomic.Int64 // batches sent in the window not answered yet
}

// segment is a run of lines of one stream in a batch.
type segment struct {
	s        *stream
	from, to int
}

// feeder offers one node its share of the load.
type feeder struct {
	r     *run
	node  int
	c     *client.Client
	pace  pacer
	share float64 // of the load: its streams' part of all streams
	wake  chan struct{}
	mu    sync.Mutex // guards the streams' cursors and inFlight
	strms []*stream

	inFlight  int
	failSince time.Duration // run time since which every batch failed, or -1
	busyUntil time.Duration // closed loop: no batch before this run time (the node said busy)
	sawBusy   bool          // the batch being booked had busy refusals
}

// loop offers load until ctx ends, then waits for its batches.
func (f *feeder) loop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		}
		for {
			segs, n := f.take(f.r.now())
			if n == 0 {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				f.send(ctx, segs, n)
			}()
		}
	}
}

// take picks the next batch, if one is due: its segments and line count.
func (f *feeder) take(now time.Duration) ([]segment, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.r
	want := 0
	if r.rate > 0 {
		if f.inFlight >= openInFlight {
			return nil, 0
		}
		want = int(min(f.pace.due(now), maxBatch))
	} else {
		if f.inFlight >= closedInFlight || now < f.busyUntil {
			return nil, 0
		}
		room := rateCap(r.recentRate(), r.capFloor) - r.outstanding()
		want = int(min(int64(float64(room)*f.share), closedBatch))
		if want < min(100, closedBatch) && f.inFlight > 0 {
			return nil, 0 // wait for room rather than send crumbs
		}
	}
	if want <= 0 {
		return nil, 0
	}
	var free []*stream
	exhausted := true
	for _, s := range f.strms {
		if s.dead != nil {
			continue
		}
		if s.left() > 0 {
			exhausted = false
			if !s.inFlight {
				free = append(free, s)
			}
		}
	}
	if exhausted {
		r.exhausted(now)
		return nil, 0
	}
	if len(free) == 0 {
		return nil, 0
	}
	var segs []segment
	n := 0
	share := (want + len(free) - 1) / len(free)
	for _, s := range free {
		k := min(share, want-n, s.left())
		if k <= 0 {
			continue
		}
		segs = append(segs, segment{s: s, from: s.next, to: s.next + k})
		s.next += k
		s.inFlight = true
		n += k
	}
	f.inFlight++
	if r.rate > 0 {
		f.pace.took(n)
	}
	return segs, n
}

// send posts one batch and books its answer.
func (f *feeder) send(ctx context.Context, segs []segment, n int) {
	r := f.r
	body := batchBody(segs)
	at := r.now()
	inWin := r.win.contains(at)
	for _, g := range segs {
		for k := g.from; k < g.to; k++ {
			id := g.s.first + k
			if r.book.state[id].Load()&stAccepted == 0 {
				r.book.sent[id].Store(int64(at))
			}
		}
	}
	r.cnt.sent.Add(int64(n))
	r.cnt.inFlight.Add(int64(n))
	if inWin {
		r.cnt.winSent.Add(int64(n))
		r.cnt.winInFlight.Add(1)
	}
	res, err := f.c.SubmitBatch(ctx, body)
	r.cnt.inFlight.Add(-int64(n))
	if ctx.Err() != nil {
		err = ctx.Err() // the load stopped: not the node's fault
	}
	f.mu.Lock()
	f.sawBusy = false
	f.book(segs, res, err, at, inWin)
	if f.sawBusy {
		f.busyUntil = r.now() + busyBackoff
	}
	f.inFlight--
	f.mu.Unlock()
	if inWin {
		r.cnt.winInFlight.Add(-1)
	}
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// batchBody joins the lines of segs; one segment is sent without a copy.
func batchBody(segs []segment) []byte {
	if len(segs) == 1 {
		g := segs[0]
		return g.s.data[g.s.off[g.from]:g.s.off[g.to]]
	}
	size := 0
	for _, g := range segs {
		size += g.s.off[g.to] - g.s.off[g.from]
	}
	body := make([]byte, 0, size)
	for _, g := range segs {
		body = append(body, g.s.data[g.s.off[g.from]:g.s.off[g.to]]...)
	}
	return body
}

// Kinds of refused lines.
const (
	lineAccepted = iota
	lineBusy     // the node cannot take more now: offer again later
	lineGap      // a bank nonce ahead of the node's next: follows a refused line
	lineRejected // refused for good
)

// classify sorts a batch line's answer.
func classify(res client.BatchResult) int {
	if res.Accepted() {
		return lineAccepted
	}
	e := strings.ToLower(res.Error)
	switch {
	case strings.Contains(e, "already committed"):
		return lineAccepted // an earlier submission was accepted and committed
	case strings.Contains(e, "busy"), strings.Contains(e, "full"):
		return lineBusy
	case strings.Contains(e, "nonce") && strings.Contains(e, "ahead"):
		return lineGap
	}
	return lineRejected
}

// book records the answer to a batch: the lines' states, the counters,
// and the streams' cursors. The caller holds f.mu.
func (f *feeder) book(segs []segment, res []client.BatchResult, err error, at time.Duration, inWin bool) {
	r := f.r
	if err != nil {
		f.batchFailed(segs, err, at, inWin)
		return
	}
	f.failSince = -1
	i := 0
	for _, g := range segs {
		s := g.s
		s.inFlight = false
		stop := -1        // the first line of an ordered stream that was not accepted
		busyTail := false // every line from stop on was refused as busy
		for k := g.from; k < g.to; k, i = k+1, i+1 {
			kind := classify(res[i])
			if stop >= 0 && kind == lineGap {
				kind = lineBusy // a consequence of the refusal before it
			}
			switch kind {
			case lineAccepted:
				r.accepted(s.first + k)
				busyTail = false
				continue
			case lineBusy:
				if stop < 0 {
					busyTail = true
				}
				f.sawBusy = true
				r.cnt.busy.Add(1)
				if inWin {
					r.cnt.winBusy.Add(1)
				}
			default:
				busyTail = false
				r.cnt.rejected.Add(1)
				if inWin {
					r.cnt.winRejected.Add(1)
				}
				r.noteError(fmt.Errorf("node %d refused a transaction: %s", f.node, res[i].Error))
				if s.ordered && stop < 0 {
					r.streamDied(s, fmt.Errorf("node %d refused a transfer for good: %s", f.node, res[i].Error))
				}
			}
			if stop < 0 {
				stop = k
			}
		}
		if s.ordered && stop >= 0 && s.dead == nil {
			s.next = stop // offer the refused nonce again, and what follows it
		} else if !s.ordered && stop >= 0 && busyTail {
			// A node answers busy for the tail of a batch it could not
			// take: offer that tail again rather than spend the
			// prepared load on refusals.
			s.next = stop
		}
	}
}

// batchFailed books a batch that got no per-line answer.
func (f *feeder) batchFailed(segs []segment, err error, at time.Duration, inWin bool) {
	r := f.r
	n := int64(0)
	for _, g := range segs {
		g.s.inFlight = false
		if g.s.ordered || errors.Is(err, client.ErrBusy) {
			g.s.next = g.from // nothing of it is known to be admitted: offer it again
		}
		n += int64(g.to - g.from)
	}
	switch {
	case errors.Is(err, client.ErrBusy):
		f.sawBusy = true
		r.cnt.busy.Add(n)
		if inWin {
			r.cnt.winBusy.Add(n)
		}
		return
	case errors.Is(err, context.Canceled):
		return
	case errors.Is(err, client.ErrRefused):
		r.fail(fmt.Errorf("bench: node %d refused a whole batch: %w", f.node, err))
		return
	}
	r.cnt.errors.Add(n)
	if inWin {
		r.cnt.winErrors.Add(n)
	}
	r.noteError(err)
	if f.failSince < 0 {
		f.failSince = at
	} else if at-f.failSince > unreachableAfter {
		r.fail(fmt.Errorf("bench: node %d failed every batch for %v: %w", f.node, unreachableAfter, err))
	}
}
