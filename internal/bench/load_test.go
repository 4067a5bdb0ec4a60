package bench

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/client"
)

// testRun is a run over streams with a window of [1s, 3s), no clock and
// no network: tests call its parts with the times they choose.
func testRun(t *testing.T, streams []*stream, rate float64) (*run, context.Context) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	r := &run{o: &Options{Warmup: time.Second}, rate: rate, exhaustAt: -1, cancel: cancel, capFloor: 100,
		win: window{start: time.Second, end: 3 * time.Second}}
	r.book = newBook(streams)
	r.follow = &follower{r: r}
	return r, ctx
}

func lines(prefix string, n int, ordered bool, node int) *stream {
	s := &stream{node: node, ordered: ordered}
	for i := range n {
		s.add(fmt.Appendf(nil, "%s%d=v", prefix, i))
	}
	return s
}

func ok() client.BatchResult { return client.BatchResult{Hash: "h", Status: "pending"} }
func refused(e string) client.BatchResult {
	return client.BatchResult{Error: e}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		res  client.BatchResult
		want int
	}{
		{ok(), lineAccepted},
		{refused("busy: mempool: full: 100000 transactions"), lineBusy},
		{refused("transaction already committed at height 3"), lineAccepted},
		{refused("bank: nonce 7 is ahead of the next nonce 5 (pending transfers included): submit the missing nonces first"), lineGap},
		{refused("bank: bad signature"), lineRejected},
		{refused("bank: nonce 3 already used or pending, next is 4"), lineRejected},
		{client.BatchResult{Status: "weird"}, lineRejected},
	} {
		if got := classify(c.res); got != c.want {
			t.Errorf("classify(%+v) = %d, want %d", c.res, got, c.want)
		}
	}
}

func TestTakeOpenLoop(t *testing.T) {
	a, b := lines("a", 100, true, 0), lines("b", 100, true, 0)
	r, _ := testRun(t, []*stream{a, b}, 1000)
	f := &feeder{r: r, strms: []*stream{a, b}, failSince: -1, pace: pacer{rate: 1000}}
	r.feeders = []*feeder{f}
	// 20 owed at 20 ms: split over both free streams.
	segs, n := f.take(20 * time.Millisecond)
	if n != 20 || len(segs) != 2 || segs[0].to-segs[0].from != 10 || !a.inFlight || !b.inFlight {
		t.Fatalf("take = %+v, %d", segs, n)
	}
	// Both streams in flight: nothing more, however much is owed.
	if _, n := f.take(50 * time.Millisecond); n != 0 {
		t.Fatalf("took %d lines with every stream in flight", n)
	}
	// One answer frees its stream, which takes all that is owed.
	f.book(segs[:1], make10(ok), nil, 20*time.Millisecond, false)
	segs, n = f.take(50 * time.Millisecond)
	if n != 30 || len(segs) != 1 || segs[0].s != a || segs[0].from != 10 || segs[0].to != 40 {
		t.Fatalf("take after an answer = %+v, %d", segs, n)
	}
	if got := r.cnt.accepted.Load(); got != 10 {
		t.Errorf("accepted %d, want 10", got)
	}
}

func make10(f func() client.BatchResult) []client.BatchResult {
	out := make([]client.BatchResult, 10)
	for i := range out {
		out[i] = f()
	}
	return out
}

func TestTakeClosedLoop(t *testing.T) {
	s := lines("k", 1000, false, 0)
	r, _ := testRun(t, []*stream{s}, 0)
	f := &feeder{r: r, strms: []*stream{s}, failSince: -1, share: 1}
	r.feeders = []*feeder{f}
	// The floor of 100 outstanding bounds the first batch.
	segs, n := f.take(0)
	if n != 100 {
		t.Fatalf("first closed-loop batch of %d lines, want 100 (the floor)", n)
	}
	r.cnt.inFlight.Add(int64(n)) // as send does
	s.inFlight = false           // pretend another stream: room is what bounds it now
	if _, n := f.take(0); n != 0 {
		t.Fatalf("took %d more with no room", n)
	}
	r.cnt.inFlight.Add(-100)
	f.mu.Lock()
	f.book(segs, make100(ok), nil, 0, false)
	f.mu.Unlock()
	f.inFlight--
	// 100 accepted, none committed: still no room.
	if _, n := f.take(0); n != 0 {
		t.Fatalf("took %d with 100 accepted and uncommitted", n)
	}
	// Commits make room; a faster network gets a larger bound.
	r.follow.committed.Add(100)
	r.recent.Store(300)
	// A node that said busy gets a pause.
	f.busyUntil = 50 * time.Millisecond
	if _, n := f.take(10 * time.Millisecond); n != 0 {
		t.Fatalf("took %d during the busy pause", n)
	}
	if _, n := f.take(60 * time.Millisecond); n != int(closedQueue*300) {
		t.Fatalf("took %d with a bound of %v", n, closedQueue*300)
	}
}

func make100(f func() client.BatchResult) []client.BatchResult {
	out := make([]client.BatchResult, 100)
	for i := range out {
		out[i] = f()
	}
	return out
}

// An ordered (bank) stream goes back to its first refused nonce; the
// gaps after it are part of that refusal, and an unordered (kv) stream
// moves on.
func TestBookRewind(t *testing.T) {
	bankS, kvS := lines("n", 10, true, 0), lines("k", 10, false, 0)
	r, _ := testRun(t, []*stream{bankS, kvS}, 1000)
	f := &feeder{r: r, strms: []*stream{bankS, kvS}, failSince: -1, pace: pacer{rate: 1000}}
	segs, n := f.take(10 * time.Millisecond)
	if n != 10 {
		t.Fatalf("took %d", n)
	}
	gap := refused("bank: nonce 3 is ahead of the next nonce 2")
	busy := refused("busy: mempool: full")
	res := []client.BatchResult{ok(), ok(), busy, gap, gap /* kv: */, ok(), busy, ok(), busy, ok()}
	f.book(segs, res, nil, 2*time.Second, true)
	if bankS.next != 2 || bankS.inFlight || bankS.dead != nil {
		t.Errorf("bank stream: next %d inFlight %v dead %v; want back at 2", bankS.next, bankS.inFlight, bankS.dead)
	}
	if kvS.next != 5 || kvS.inFlight {
		t.Errorf("kv stream: next %d inFlight %v; want 5", kvS.next, kvS.inFlight)
	}
	if a, b, rj := r.cnt.accepted.Load(), r.cnt.busy.Load(), r.cnt.rejected.Load(); a != 5 || b != 5 || rj != 0 {
		t.Errorf("accepted %d busy %d rejected %d; want 5, 5, 0", a, b, rj)
	}
	if r.cnt.winBusy.Load() != 5 {
		t.Errorf("window busy %d, want 5", r.cnt.winBusy.Load())
	}
	// A first refusal that is a gap means an accepted nonce vanished: the
	// sender stops for good (the run goes on while other streams live).
	segs = []segment{{bankS, 2, 4}}
	bankS.inFlight = true
	f.book(segs, []client.BatchResult{gap, gap}, nil, 2*time.Second, true)
	if bankS.dead == nil || r.cnt.rejected.Load() != 1 {
		t.Errorf("after a leading gap: dead %v, rejected %d", bankS.dead, r.cnt.rejected.Load())
	}
}

func TestBookBatchFailures(t *testing.T) {
	s := lines("n", 10, true, 0)
	r, ctx := testRun(t, []*stream{s}, 1000)
	f := &feeder{r: r, strms: []*stream{s}, failSince: -1, pace: pacer{rate: 1000}}
	take := func() []segment {
		segs, n := f.take(time.Duration(10+s.next) * time.Hour)
		if n == 0 {
			t.Fatal("nothing to take")
		}
		f.inFlight-- // as send does once answered
		return segs
	}
	segs := take()
	f.book(segs, nil, fmt.Errorf("wrapped: %w", client.ErrBusy), time.Second, true)
	if s.next != 0 || r.cnt.busy.Load() != 10 || ctx.Err() != nil {
		t.Errorf("429: next %d busy %d ctx %v", s.next, r.cnt.busy.Load(), ctx.Err())
	}
	// Unreachable: counted; the run fails only after unreachableAfter.
	unreach := fmt.Errorf("x: %w", client.ErrUnreachable)
	f.book(take(), nil, unreach, time.Second, false)
	f.book(take(), nil, unreach, time.Second+unreachableAfter/2, false)
	if ctx.Err() != nil || r.cnt.errors.Load() != 20 {
		t.Fatalf("failed too early: %v, errors %d", ctx.Err(), r.cnt.errors.Load())
	}
	f.book(take(), nil, unreach, 2*time.Second+unreachableAfter, false)
	if !errors.Is(context.Cause(ctx), client.ErrUnreachable) {
		t.Errorf("after %v of failures: cause %v", unreachableAfter, context.Cause(ctx))
	}
}

// The follower books commits: the window's throughput by when they are
// seen, the window's latency by when they were sent.
func TestFollowerWindow(t *testing.T) {
	s := lines("k", 6, false, 0)
	r, _ := testRun(t, []*stream{s}, 0)
	sentAt := []time.Duration{500 * time.Millisecond, 1500 * time.Millisecond, 1600 * time.Millisecond, 2500 * time.Millisecond, 2900 * time.Millisecond, 0}
	for id, at := range sentAt {
		if at > 0 {
			r.book.sent[id].Store(int64(at))
			r.accepted(id)
		}
	}
	if got := r.cnt.winAccepted.Load(); got != 4 {
		t.Fatalf("window accepted %d, want 4", got)
	}
	hash := func(id int) string { return chain.TxHash(s.line(id)).String() }
	foreign := chain.TxHash([]byte("someone else's")).String()
	// Seen during the warm-up: tx 0; during the window: 1, 2 (and a
	// foreign one); after it: 3, 4, and 1 again.
	r.follow.block(client.Block{Height: 1, Txs: []string{hash(0)}}, 900*time.Millisecond)
	r.follow.block(client.Block{Height: 2, Txs: []string{hash(1), foreign, hash(2)}}, 1700*time.Millisecond)
	r.follow.block(client.Block{Height: 3}, 2*time.Second)
	r.follow.block(client.Block{Height: 4, Txs: []string{hash(3), hash(4), hash(1)}}, 3100*time.Millisecond)
	f := r.follow
	if f.committed.Load() != 5 || f.winCommit.Load() != 2 || f.blocks.Load() != 2 || f.foreign.Load() != 1 {
		t.Errorf("committed %d, in window %d, blocks %d, foreign %d; want 5, 2, 2, 1",
			f.committed.Load(), f.winCommit.Load(), f.blocks.Load(), f.foreign.Load())
	}
	if f.winResolved.Load() != 4 {
		t.Errorf("window transactions resolved %d, want 4", f.winResolved.Load())
	}
	want := []time.Duration{200 * time.Millisecond, 100 * time.Millisecond, 600 * time.Millisecond, 200 * time.Millisecond}
	if fmt.Sprint(f.samples) != fmt.Sprint(want) {
		t.Errorf("latency samples %v, want %v", f.samples, want)
	}
	rep := r.report(r.win, 0)
	if rep.CommittedTPS != 1 || rep.Blocks != 2 || rep.Accepted != 4 || rep.LatencySamples != 4 || rep.Latency.P50 != 200 || rep.Latency.Max != 600 {
		t.Errorf("report %+v", rep)
	}
	// A transaction whose accepted answer is booked after its commit was
	// seen is counted once.
	r.book.sent[5].Store(int64(2 * time.Second))
	r.follow.block(client.Block{Height: 5, Txs: []string{hash(5)}}, 2100*time.Millisecond)
	r.accepted(5)
	if r.cnt.accepted.Load() != 6 || r.cnt.winAccepted.Load() != 5 {
		t.Errorf("accepted %d (window %d), want 6 (5)", r.cnt.accepted.Load(), r.cnt.winAccepted.Load())
	}
}
