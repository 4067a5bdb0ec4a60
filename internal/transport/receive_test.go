package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
)

// unstarted returns a transport of a three-validator set, as node 0, that
// is never started: the tests drive its readers' side (deliver) and its
// dispatchers by hand. Peers 1 and 2 are at positions 0 and 1 of t.peers.
func unstarted(t *testing.T, inboundLen, peerInboundLen int) *Transport {
	t.Helper()
	tn := newTestNet(t, 3)
	tn.lns[1].Close()
	tn.lns[2].Close()
	cfg := tn.config(t, 0)
	cfg.InboundLen, cfg.PeerInboundLen = inboundLen, peerInboundLen
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// runDispatcher runs the dispatcher of class c until the test ends.
func runDispatcher(t *testing.T, tr *Transport, c Class) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tr.dispatch(ctx, c)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// frames returns the next n frames of class c as "from:data" strings.
func frames(t *testing.T, tr *Transport, c Class, n int) []string {
	t.Helper()
	var got []string
	for range n {
		in := recv(t, tr, c)
		got = append(got, fmt.Sprintf("%d:%s", in.From, in.Data))
	}
	return got
}

// The dispatcher takes one frame from each peer that has one in turn, oldest
// first within a peer: a peer with many frames waiting does not get ahead of
// one with few. A full Gossip queue discards the frame at once and counts
// it; it does not wait.
func TestDispatchRoundRobin(t *testing.T) {
	checkGoroutines(t)
	tr := unstarted(t, 1, 4)
	p1, p2 := tr.byIndex[1], tr.byIndex[2]
	ctx := t.Context()
	for _, f := range []string{"a1", "a2", "a3", "a4", "a5"} {
		if err := tr.deliver(ctx, p1, Inbound{From: 1, Class: Gossip, Data: []byte(f)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"b1", "b2"} {
		if err := tr.deliver(ctx, p2, Inbound{From: 2, Class: Gossip, Data: []byte(f)}); err != nil {
			t.Fatal(err)
		}
	}
	ps := peerStats(t, tr, 1)
	if ps.InQueued[Gossip] != 4 || ps.InDropped[Gossip] != 1 {
		t.Fatalf("peer 1: %d gossip frames queued, %d dropped; want 4 and 1 (a5)", ps.InQueued[Gossip], ps.InDropped[Gossip])
	}

	runDispatcher(t, tr, Gossip)
	got := fmt.Sprint(frames(t, tr, Gossip, 6))
	if want := "[1:a1 2:b1 1:a2 2:b2 1:a3 1:a4]"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	expectNone(t, tr)
}

// A full Consensus queue makes its reader wait, until the dispatcher makes
// room or the transport stops; another peer's reader is not held up.
func TestConsensusQueueWaits(t *testing.T) {
	checkGoroutines(t)
	tr := unstarted(t, 1, 2)
	p1, p2 := tr.byIndex[1], tr.byIndex[2]
	ctx := t.Context()
	for _, f := range []string{"c1", "c2"} {
		if err := tr.deliver(ctx, p1, Inbound{From: 1, Class: Consensus, Data: []byte(f)}); err != nil {
			t.Fatal(err)
		}
	}
	waiting := make(chan error)
	go func() { waiting <- tr.deliver(ctx, p1, Inbound{From: 1, Class: Consensus, Data: []byte("c3")}) }()
	// Peer 2's reader is not held up (this call would block the test).
	if err := tr.deliver(ctx, p2, Inbound{From: 2, Class: Consensus, Data: []byte("d1")}); err != nil {
		t.Fatal(err)
	}

	runDispatcher(t, tr, Consensus)
	got := fmt.Sprint(frames(t, tr, Consensus, 4))
	if want := "[1:c1 2:d1 1:c2 1:c3]"; got != want {
		t.Errorf("order %s, want %s", got, want)
	}
	if err := <-waiting; err != nil {
		t.Fatal(err)
	}
	if ps := peerStats(t, tr, 1); ps.InDropped != [NumClasses]uint64{} {
		t.Errorf("peer 1: %v frames dropped", ps.InDropped)
	}

	// Without a dispatcher, a reader waiting on a full queue returns once
	// its context is done.
	tr = unstarted(t, 1, 1)
	p1 = tr.byIndex[1]
	tr.deliver(ctx, p1, Inbound{From: 1, Class: Consensus, Data: []byte("x")})
	stop, cancel := context.WithCancel(ctx)
	go func() { waiting <- tr.deliver(stop, p1, Inbound{From: 1, Class: Consensus, Data: []byte("y")}) }()
	cancel()
	if err := <-waiting; err != context.Canceled {
		t.Errorf("waiting deliver returned %v, want %v", err, context.Canceled)
	}
}

// flood makes tr send numbered frames of class c to validator to, as fast as
// its queue takes them (never making it drop a frame), until the test ends.
func flood(t *testing.T, tr *Transport, to uint32, c Class) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for k := uint64(0); ; {
			select {
			case <-stop:
				return
			default:
			}
			f := make([]byte, 256)
			binary.BigEndian.PutUint64(f, k)
			if queueFull(tr, to, c, len(f)) {
				time.Sleep(50 * time.Microsecond) // rather than evict or be refused
			} else if err := tr.Send(to, c, f); errors.Is(err, ErrStopping) {
				return // t.Context() is done: the test is ending
			} else if err != nil {
				panic(err) // only this goroutine sends to this peer
			} else {
				k++
			}
		}
	}()
	t.Cleanup(func() { // before the transports close
		close(stop)
		<-done
	})
}

// A peer that floods Gossip at a receiver that reads only its Consensus
// channel (so that its Gossip channel and that peer's queue are full) holds
// up neither the Consensus frames of another peer nor its own.
func TestGossipFloodDoesNotDelayConsensus(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 3)
	trs := tn.startAll(t, func(i int, cfg *Config) {
		if i == 1 {
			cfg.InboundLen, cfg.PeerInboundLen = 16, 8
		}
	})
	a, b, c := trs[0], trs[1], trs[2]
	// Both votes of a round arrive, from a and from c in either order.
	round := func(f []byte) {
		t.Helper()
		c.Send(1, Consensus, f)
		a.Send(1, Consensus, f)
		got := map[uint32]bool{}
		for range 2 {
			in := recv(t, b, Consensus)
			if string(in.Data) != string(f) || got[in.From] || (in.From != 0 && in.From != 2) {
				t.Fatalf("got %q from %d, want %q from 0 and from 2", in.Data, in.From, f)
			}
			got[in.From] = true
		}
	}
	round([]byte("up")) // both connections are up

	flood(t, a, 1, Gossip)
	eventually(t, "the flood to fill b's Gossip channel and a's queue", func() bool {
		return len(b.Inbound(Gossip)) == 16 && peerStats(t, b, 0).InQueued[Gossip] == 8
	})
	// After each round, wait for b to have read more of the flood, so that
	// every round overlaps it.
	var slowest time.Duration
	read := peerStats(t, b, 0).Received[Gossip].Frames
	for k := range 50 {
		sent := time.Now()
		round(fmt.Appendf(nil, "vote %d", k))
		slowest = max(slowest, time.Since(sent))
		eventually(t, "b to read more of the flood", func() bool {
			n := peerStats(t, b, 0).Received[Gossip].Frames
			more := n > read
			read = n
			return more
		})
	}
	ps := peerStats(t, b, 0)
	t.Logf("slowest consensus round trip %v; b read %d gossip frames from a and dropped %d",
		slowest, ps.Received[Gossip].Frames, ps.InDropped[Gossip])
	if len(b.Inbound(Gossip)) != 16 {
		t.Errorf("b's Gossip channel holds %d frames, want 16: b read it", len(b.Inbound(Gossip)))
	}
	// The flood goes on to thousands of frames, none of which b consumes.
	eventually(t, "thousands of gossip frames", func() bool { return peerStats(t, b, 0).Received[Gossip].Frames >= 5000 })
	if ps := peerStats(t, b, 0); ps.InDropped[Gossip] < 5000-16-8-1 {
		t.Errorf("b read %d gossip frames from a but dropped only %d", ps.Received[Gossip].Frames, ps.InDropped[Gossip])
	}
}

// Two peers that flood the same class share it: once the channel and both
// queues are full, the frames the consumer reads alternate between them,
// each in its own order. For Consensus their readers wait; for Gossip they
// discard what does not fit.
func TestFloodingPeersShareClass(t *testing.T) {
	for _, class := range []Class{Consensus, Gossip} {
		t.Run(class.String(), func(t *testing.T) {
			checkGoroutines(t)
			const chanLen, queueLen, reads = 4, 4, 60
			tn := newTestNet(t, 3)
			trs := tn.startAll(t, func(i int, cfg *Config) {
				cfg.InboundLen, cfg.PeerInboundLen = chanLen, queueLen
			})
			a, b, c := trs[0], trs[1], trs[2]
			flood(t, a, 1, class)
			flood(t, c, 1, class)
			last := map[uint32]int64{0: -1, 2: -1}
			var from []uint32
			for range reads {
				// Read only once the channel and both queues are full
				// again, so that the dispatcher always has a choice.
				eventually(t, "the channel and both queues to fill", func() bool {
					return len(b.Inbound(class)) == chanLen &&
						peerStats(t, b, 0).InQueued[class] == queueLen &&
						peerStats(t, b, 2).InQueued[class] == queueLen
				})
				in := recv(t, b, class)
				k := int64(binary.BigEndian.Uint64(in.Data))
				if k <= last[in.From] || class == Consensus && k != last[in.From]+1 {
					t.Fatalf("frame %d from %d after frame %d", k, in.From, last[in.From])
				}
				last[in.From] = k
				from = append(from, in.From)
			}
			t.Logf("senders in reading order: %v", from)
			// The first chanLen frames were in the channel before both
			// peers had frames queued; from then on they alternate.
			for i := chanLen + 1; i < reads; i++ {
				if from[i] == from[i-1] {
					t.Fatalf("frames %d and %d both from peer %d: %v", i-1, i, from[i], from)
				}
			}
			if class == Consensus {
				for _, p := range []uint32{0, 2} {
					if ps := peerStats(t, b, p); ps.InDropped != [NumClasses]uint64{} {
						t.Errorf("peer %d: consensus frames dropped: %v", p, ps.InDropped)
					}
				}
			}
		})
	}
}
