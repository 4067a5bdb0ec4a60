package transport

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// A peer that is down pins at most its queues' byte budgets, however many
// large frames are sent to it: Consensus keeps the newest frames, Sync and
// Gossip refuse what does not fit, and every frame dropped is counted with
// its reason.
func TestDownPeerQueuesStayWithinByteBudget(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	tn.lns[1].Close() // node 1 is down
	tr := start(t, tn.config(t, 0))
	const frames, size = 100, 1 << 20 // 100 MiB per class; the budget is 8 MiB
	budget := 2 * DefaultMaxFrame
	for c := range Class(NumClasses) {
		refused := 0
		for k := range frames {
			f := make([]byte, size)
			f[0] = byte(k)
			if err := tr.Send(1, c, f); err != nil {
				if !errors.Is(err, ErrPeerDown) {
					t.Fatalf("%s frame %d: %v, want %v", c, k, err, ErrPeerDown)
				}
				refused++
			}
		}
		if want := frames - budget/size; c != Consensus && refused != want {
			t.Errorf("%s: %d frames refused, want %d", c, refused, want)
		}
		if c == Consensus && refused != 0 {
			t.Errorf("consensus: %d frames refused, want none (the oldest make room)", refused)
		}
	}
	ps := peerStats(t, tr, 1)
	for c := range NumClasses {
		if ps.QueuedBytes[c] > budget || ps.QueuedBytes[c] != ps.QueuedFrames[c]*size {
			t.Errorf("%s: %d bytes in %d frames queued, budget %d", Class(c), ps.QueuedBytes[c], ps.QueuedFrames[c], budget)
		}
		if got, want := ps.Drops[c][DropPeerDown], uint64(frames-budget/size); got != want || ps.Dropped[c] != want {
			t.Errorf("%s: %d frames dropped as peer down (%d in all), want %d", Class(c), got, ps.Dropped[c], want)
		}
	}
	// The consensus frames kept are the newest.
	o := tr.byIndex[1].out
	o.mu.Lock()
	first := o.q[Consensus].buf[o.q[Consensus].head][0]
	o.mu.Unlock()
	if want := byte(frames - budget/size); first != want {
		t.Errorf("oldest consensus frame kept is #%d, want #%d", first, want)
	}
}

// Broadcast says which peers did not take a frame and why, and counts each:
// an oversize frame for every peer, a full queue for the peer that is down
// only, while the live peer receives every other frame.
func TestBroadcastDropsAreCounted(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 3)
	tn.lns[2].Close() // node 2 is down
	cfg := tn.config(t, 0)
	cfg.QueueLen, cfg.MaxFrame = 4, 1000
	a, b := start(t, cfg), start(t, tn.config(t, 1))

	if err := a.Broadcast(Gossip, make([]byte, 1001)); !errors.Is(err, ErrOversize) || Reason(err) != "oversize" {
		t.Errorf("oversize Broadcast: %v (reason %q)", err, Reason(err))
	}
	var downErrs int
	const frames = 10
	for k := range frames {
		f := fmt.Appendf(nil, "gossip %d", k)
		err := a.Broadcast(Gossip, f)
		switch {
		case err == nil:
		case errors.Is(err, ErrPeerDown) && !errors.Is(err, ErrQueueFull):
			downErrs++
		default:
			t.Errorf("Broadcast %d: %v", k, err)
		}
		expect(t, b, 0, Gossip, f) // the live peer's queue drains
	}
	if downErrs != frames-4 {
		t.Errorf("%d Broadcasts reported the down peer, want %d", downErrs, frames-4)
	}
	for _, tc := range []struct {
		peer         uint32
		over, down   uint64
		queuedFrames int
	}{{1, 1, 0, 0}, {2, 1, frames - 4, 4}} {
		ps := peerStats(t, a, tc.peer)
		if ps.Drops[Gossip][DropOversize] != tc.over || ps.Drops[Gossip][DropPeerDown] != tc.down || ps.QueuedFrames[Gossip] != tc.queuedFrames {
			t.Errorf("peer %d: drops %v, %d frames queued; want %d oversize, %d peer down, %d queued",
				tc.peer, ps.Drops[Gossip], ps.QueuedFrames[Gossip], tc.over, tc.down, tc.queuedFrames)
		}
	}
	if a.MaxFrame() != 1000 {
		t.Errorf("MaxFrame() = %d, want 1000", a.MaxFrame())
	}
}

// A peer's inbound queues are bounded in bytes as well as frames: with a
// budget of two 1 MiB frames, a third Gossip frame is discarded and
// counted, and a third Consensus frame makes its reader wait until the
// dispatcher has taken one.
func TestInboundQueueByteBudget(t *testing.T) {
	checkGoroutines(t)
	tr := unstarted(t, 1, 64) // 64 frames would allow 64 MiB
	p1 := tr.byIndex[1]
	const size = 1 << 20
	budget := 2 * size
	for c := range NumClasses {
		tr.inBudget[c] = int64(budget)
	}
	ctx := t.Context()
	for k := range 3 {
		if err := tr.deliver(ctx, p1, Inbound{From: 1, Class: Gossip, Data: make([]byte, size)}); err != nil {
			t.Fatalf("gossip frame %d: %v", k, err)
		}
	}
	ps := peerStats(t, tr, 1)
	if ps.InQueued[Gossip] != 2 || ps.InQueuedBytes[Gossip] != budget || ps.InDropped[Gossip] != 1 {
		t.Fatalf("gossip: %d frames, %d bytes queued, %d dropped; want 2, %d, 1",
			ps.InQueued[Gossip], ps.InQueuedBytes[Gossip], ps.InDropped[Gossip], budget)
	}

	for range 2 {
		if err := tr.deliver(ctx, p1, Inbound{From: 1, Class: Consensus, Data: make([]byte, size)}); err != nil {
			t.Fatal(err)
		}
	}
	waiting := make(chan error)
	go func() { waiting <- tr.deliver(ctx, p1, Inbound{From: 1, Class: Consensus, Data: []byte("third")}) }()
	select {
	case err := <-waiting:
		t.Fatalf("a consensus frame beyond the byte budget was queued at once (%v)", err)
	case <-time.After(50 * time.Millisecond): // a check that it waits, not a synchronisation
	}
	if got := peerStats(t, tr, 1).InQueuedBytes[Consensus]; got != budget {
		t.Errorf("consensus: %d bytes queued, want %d", got, budget)
	}
	runDispatcher(t, tr, Consensus)
	recv(t, tr, Consensus)
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		recv(t, tr, Consensus)
	}
	eventually(t, "the consensus queue to empty", func() bool { return peerStats(t, tr, 1).InQueuedBytes[Consensus] == 0 })
}

// An Inbound channel is bounded in bytes as well as frames: with a budget
// of two 1 MiB frames and room for 64, the dispatcher hands it two and
// waits, holding the third, until the consumer takes one.
func TestInboundChannelByteBudget(t *testing.T) {
	checkGoroutines(t)
	tr := unstarted(t, 64, 64)
	const size = 1 << 20
	tr.chanBudget[Gossip] = 2 * size
	ctx := t.Context()
	for k := range 4 {
		f := make([]byte, size)
		f[0] = byte(k)
		if err := tr.deliver(ctx, tr.byIndex[1], Inbound{From: 1, Class: Gossip, Data: f}); err != nil {
			t.Fatal(err)
		}
	}
	runDispatcher(t, tr, Gossip)
	eventually(t, "two frames in the channel, one held, one queued", func() bool {
		return len(tr.Inbound(Gossip)) == 2 && peerStats(t, tr, 1).InQueued[Gossip] == 1
	})
	for k := range 4 {
		if in := recv(t, tr, Gossip); in.Data[0] != byte(k) {
			t.Fatalf("frame %d received as #%d", in.Data[0], k)
		}
	}
}
