package transport

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"net"
	"slices"
	"testing"
	"time"
)

// The writer's dequeue order: Consensus before Sync before Gossip, oldest
// first within a class, whatever the order of arrival.
func TestOutboxOrder(t *testing.T) {
	o := newOutbox(4, bigBudget)
	for _, f := range []string{"g1", "s1", "g2", "c1", "s2", "c2", "g3"} {
		c := map[byte]Class{'c': Consensus, 's': Sync, 'g': Gossip}[f[0]]
		if _, ok := o.push(c, []byte(f)); !ok {
			t.Fatalf("push %s refused", f)
		}
	}
	var got []string
	pop := func() {
		c, f, ok := o.pop()
		if !ok {
			t.Fatal("pop found nothing")
		}
		if want := map[byte]Class{'c': Consensus, 's': Sync, 'g': Gossip}[f[0]]; c != want {
			t.Fatalf("frame %s popped as %s", f, c)
		}
		got = append(got, string(f))
	}
	pop()
	pop()
	pop()
	o.push(Consensus, []byte("c3")) // a late consensus frame overtakes the rest
	for queuedFrames(o, Consensus)+queuedFrames(o, Sync)+queuedFrames(o, Gossip) > 0 {
		pop()
	}
	if want := []string{"c1", "c2", "s1", "c3", "s2", "g1", "g2", "g3"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
	if _, _, ok := o.pop(); ok {
		t.Error("pop from an empty outbox succeeded")
	}
}

func TestOutboxBounded(t *testing.T) {
	o := newOutbox(3, bigBudget)
	for i := range 5 {
		if _, got := o.push(Gossip, []byte{byte(i)}); got != (i < 3) {
			t.Fatalf("push %d: %v, want %v", i, got, i < 3)
		}
	}
	if _, ok := o.push(Sync, []byte{9}); !ok {
		t.Fatal("a full Gossip queue refused a Sync frame")
	}
	var got []byte
	pop := func() {
		_, f, _ := o.pop()
		got = append(got, f[0])
	}
	pop()              // the Sync frame
	for i := range 2 { // the ring wraps around
		pop()
		if _, ok := o.push(Gossip, []byte{byte(10 + i)}); !ok {
			t.Fatal("push after pop refused")
		}
	}
	for queuedFrames(o, Gossip) > 0 {
		pop()
	}
	if want := []byte{9, 0, 1, 2, 10, 11}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

var bigBudget = [NumClasses]int{1 << 20, 1 << 20, 1 << 20}

func queuedFrames(o *outbox, c Class) int {
	n, _ := o.queued(c)
	return n
}

// Queues are bounded in bytes as well as frames: a full Sync or Gossip
// queue refuses the new frame, a full Consensus queue drops its oldest
// frames to take it; an empty queue takes any frame.
func TestOutboxByteBudget(t *testing.T) {
	o := newOutbox(100, [NumClasses]int{10, 10, 10})
	for _, c := range []Class{Consensus, Sync, Gossip} {
		for i, size := range []int{4, 4} {
			if ev, ok := o.push(c, make([]byte, size)); ev != 0 || !ok {
				t.Fatalf("%s push %d: evicted %d, queued %v", c, i, ev, ok)
			}
		}
	}
	for _, c := range []Class{Sync, Gossip} {
		if ev, ok := o.push(c, make([]byte, 3)); ev != 0 || ok {
			t.Errorf("%s: a frame beyond the budget: evicted %d, queued %v", c, ev, ok)
		}
		if n, b := o.queued(c); n != 2 || b != 8 {
			t.Errorf("%s: %d frames, %d bytes queued, want 2, 8", c, n, b)
		}
	}
	if ev, ok := o.push(Consensus, []byte("abcdefg")); ev != 2 || !ok {
		t.Errorf("consensus: a 7-byte frame evicted %d frames, queued %v; want 2, true", ev, ok)
	}
	if n, b := o.queued(Consensus); n != 1 || b != 7 {
		t.Errorf("consensus: %d frames, %d bytes queued, want 1, 7", n, b)
	}
	if c, f, _ := o.pop(); c != Consensus || string(f) != "abcdefg" {
		t.Errorf("popped %s %q, want the newest consensus frame", c, f)
	}
	e := newOutbox(2, [NumClasses]int{1, 1, 1})
	if _, ok := e.push(Gossip, make([]byte, 5)); !ok {
		t.Error("an empty queue refused a frame larger than its budget")
	}
}

// With a receiver that has stopped reading, a peer's Gossip queue fills; a
// Consensus frame queued then is written before every Gossip frame that was
// still queued at that moment. The moment is exact: the test holds the
// queue's lock while it reads the backlog and queues the Consensus frame.
// The receiver is played by the test, which reads the frames off the
// connection in the order they were written.
func TestConsensusOvertakesGossipBacklog(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	cfg := tn.config(t, 0)
	cfg.QueueLen = 64
	a := start(t, cfg)
	b, err := New(tn.config(t, 1)) // never started: it lends its TLS configuration
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() }) // closes tn.lns[1]
	tn.lns[1].(*net.TCPListener).SetDeadline(time.Now().Add(waitLimit))
	raw, err := tn.lns[1].Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn := tls.Server(raw, b.serverTLS)
	if p, err := b.serverHandshake(conn, time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	} else if p.index != 0 {
		t.Fatalf("handshake with peer %d, want 0", p.index)
	}
	r := bufio.NewReaderSize(conn, bufSize)
	read := func() (Class, []byte) {
		t.Helper()
		raw.SetReadDeadline(time.Now().Add(waitLimit))
		c, f, err := readFrame(r, DefaultMaxFrame)
		if err != nil {
			t.Fatal(err)
		}
		return c, f
	}
	gossip := func(k int) []byte {
		f := make([]byte, 16<<10)
		binary.BigEndian.PutUint64(f, uint64(k))
		return f
	}
	a.Send(1, Consensus, []byte("hello")) // the connection is up once this arrives
	if c, f := read(); c != Consensus || string(f) != "hello" {
		t.Fatalf("got %s frame %q", c, f)
	}

	// The test reads nothing now: keep a's queue full until its writer
	// has stalled (queue full, nothing written since the previous poll).
	accepted, written := 0, uint64(0)
	eventually(t, "a's writer to stall", func() bool {
		for a.Send(1, Gossip, gossip(accepted)) == nil {
			accepted++
		}
		w := peerStats(t, a, 1).Sent[Gossip].Frames
		stalled := w > 0 && w == written && queuedFrames(a.byIndex[1].out, Gossip) == 64
		written = w
		return stalled
	})
	out := a.byIndex[1].out
	out.mu.Lock()
	backlog := out.q[Gossip].n
	out.q[Consensus].push([]byte("urgent"))
	out.mu.Unlock()
	select {
	case out.ready <- struct{}{}:
	default: // already signalled
	}
	firstQueued := accepted - backlog
	t.Logf("%d gossip frames accepted, %d written, %d queued behind the stalled writer", accepted, written, backlog)
	if backlog == 0 {
		t.Fatal("no gossip backlog")
	}

	before := -1 // gossip frames read before the consensus frame
	for next := 0; next < accepted || before < 0; {
		c, f := read()
		if c == Consensus {
			if string(f) != "urgent" {
				t.Fatalf("consensus frame %q", f)
			}
			before = next
			continue
		}
		if k := int(binary.BigEndian.Uint64(f)); c != Gossip || k != next {
			t.Fatalf("%s frame %d arrived, want gossip frame %d", c, k, next)
		}
		next++
	}
	// The writer sends what it had already taken, then the consensus
	// frame, then the backlog.
	if before != firstQueued {
		t.Errorf("consensus frame arrived after %d gossip frames, want right after the %d taken before it was queued", before, firstQueued)
	}
}

// A frame larger than the receiver's MaxFrame closes that one connection:
// other peers' connections stay up, and the sender reconnects.
func TestOversizeFrameClosesOnlyThatConnection(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 3)
	trs := tn.startAll(t, func(i int, cfg *Config) {
		if i == 1 {
			cfg.MaxFrame = 1 << 10
		}
	})
	a, b, c := trs[0], trs[1], trs[2]
	for _, tr := range []*Transport{a, c} {
		tr.Send(1, Sync, []byte("hi"))
	}
	for range 2 {
		recv(t, b, Sync)
	}

	a.Send(1, Gossip, make([]byte, 2<<10))
	eventually(t, "b to close a's connection", func() bool { return peerStats(t, b, 0).Oversize == 1 })
	c.Send(1, Consensus, []byte("still here"))
	expect(t, b, 2, Consensus, []byte("still here"))
	eventually(t, "a to reconnect", func() bool { return peerStats(t, a, 1).Connects == 2 })
	a.Send(1, Consensus, []byte("again"))
	expect(t, b, 0, Consensus, []byte("again"))

	if ps := peerStats(t, c, 1); ps.Connects != 1 {
		t.Errorf("c reconnected to b: %+v", ps)
	}
	if ps := peerStats(t, b, 0); ps.Connects != 1 || ps.Received[Gossip].Frames != 0 {
		t.Errorf("b's own connection to a was affected or it counted the frame: %+v", ps)
	}
	if ps := peerStats(t, b, 2); ps.Oversize != 0 {
		t.Errorf("c blamed: %+v", ps)
	}
	expectNone(t, b)
}
