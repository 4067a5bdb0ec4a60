package transport

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// Four transports exchange frames of every class in every direction, by
// Send and by Broadcast; each stream (sender, class) arrives complete and in
// order, and the counters agree.
func TestExchangeAllClasses(t *testing.T) {
	checkGoroutines(t)
	const n, perStream = 4, 40
	trs := newTestNet(t, n).startAll(t, nil)
	frame := func(from, to int, c Class, k int) []byte {
		return fmt.Appendf(nil, "%d->%d %s #%d", from, to, c, k)
	}
	for from, tr := range trs {
		for k := range perStream {
			for to := range n {
				for c := range Class(NumClasses) {
					if to != from && tr.Send(uint32(to), c, frame(from, to, c, k)) != nil {
						t.Fatalf("Send %d->%d refused", from, to)
					}
				}
			}
		}
		for c := range Class(NumClasses) {
			tr.Broadcast(c, fmt.Appendf(nil, "%d->all %s", from, c))
		}
	}
	for to, tr := range trs {
		for c := range Class(NumClasses) {
			next := map[uint32]int{} // sender -> frames of class c received
			for range (n - 1) * (perStream + 1) {
				in := recv(t, tr, c)
				want := fmt.Appendf(nil, "%d->all %s", in.From, c)
				if k := next[in.From]; k < perStream {
					want = frame(int(in.From), to, c, k)
				}
				if string(in.Data) != string(want) {
					t.Fatalf("node %d got %q, want %q", to, in.Data, want)
				}
				next[in.From]++
			}
		}
		expectNone(t, tr)
	}
	for i, tr := range trs {
		eventually(t, "sent counters", func() bool {
			for _, ps := range tr.Stats().Peers {
				for c := range NumClasses {
					if ps.Sent[c].Frames != perStream+1 || ps.Received[c].Frames != perStream+1 {
						return false
					}
				}
			}
			return true
		})
		for _, ps := range tr.Stats().Peers {
			if !ps.OutConnected || !ps.InConnected || ps.Connects != 1 || ps.Refused != 0 || slices.Max(ps.Dropped[:]) != 0 || slices.Max(ps.InDropped[:]) != 0 {
				t.Errorf("node %d, peer %d: %+v", i, ps.Index, ps)
			}
			want := len(fmt.Sprintf("%d->all sync", i))
			for k := range perStream {
				want += len(frame(i, int(ps.Index), Sync, k))
			}
			if ps.Sent[Sync].Bytes != uint64(want) {
				t.Errorf("node %d, peer %d: sent %d sync bytes, want %d", i, ps.Index, ps.Sent[Sync].Bytes, want)
			}
		}
	}
}

// Send never blocks: a full queue (here, to a peer that is down) refuses the
// frame and says why, and counts it by reason. Frames that can never be sent
// are refused too.
func TestSendFullQueueSaysWhy(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	tn.lns[1].Close() // node 1 is down, so its queue only fills
	cfg := tn.config(t, 0)
	cfg.QueueLen, cfg.MaxFrame = 8, 100
	tr := start(t, cfg)

	done := make(chan []error)
	go func() {
		var res []error
		for range 10 {
			res = append(res, tr.Send(1, Gossip, []byte("x")))
		}
		res = append(res, tr.Send(1, Consensus, []byte("y"))) // another class has its own queue
		done <- res
	}()
	select {
	case res := <-done:
		want := []error{nil, nil, nil, nil, nil, nil, nil, nil, ErrPeerDown, ErrPeerDown, nil}
		if !slices.Equal(res, want) {
			t.Fatalf("Send results %v, want %v", res, want)
		}
	case <-time.After(waitLimit):
		t.Fatal("Send blocked")
	}
	for _, tc := range []struct {
		to   uint32
		c    Class
		n    int
		want error
	}{{1, Sync, 101, ErrOversize}, {0, Consensus, 1, ErrUnknownPeer}, {9, Consensus, 1, ErrUnknownPeer}, {1, Class(NumClasses), 1, ErrUnknownClass}} {
		if err := tr.Send(tc.to, tc.c, make([]byte, tc.n)); !errors.Is(err, tc.want) {
			t.Errorf("Send(%d, %s, %d bytes): %v, want %v", tc.to, tc.c, tc.n, err, tc.want)
		}
	}
	ps := peerStats(t, tr, 1)
	if ps.Dropped != [NumClasses]uint64{0, 1, 2} || ps.OutConnected {
		t.Errorf("stats %+v, want 2 gossip and 1 sync frame dropped, not connected", ps)
	}
	if ps.Drops[Sync][DropOversize] != 1 || ps.Drops[Gossip][DropPeerDown] != 2 {
		t.Errorf("drops by reason %v, want 1 oversize sync and 2 peer-down gossip frames", ps.Drops)
	}
	if ps.QueuedFrames != [NumClasses]int{1, 0, 8} || ps.QueuedBytes != [NumClasses]int{1, 0, 8} {
		t.Errorf("queued %v frames, %v bytes; want 1, 0, 8 of each", ps.QueuedFrames, ps.QueuedBytes)
	}
}

// A validator that was never started fills only its own queues: every frame
// still reaches the live peer.
func TestDeadPeerDoesNotBlockOthers(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 3)
	tn.lns[2].Close()
	cfg := tn.config(t, 0)
	cfg.QueueLen = 16
	a, b := start(t, cfg), start(t, tn.config(t, 1))
	const frames = 200
	for k := range frames {
		f := fmt.Appendf(nil, "frame %d", k)
		a.Broadcast(Consensus, f)
		expect(t, b, 0, Consensus, f)
	}
	if ps := peerStats(t, a, 2); ps.Dropped[Consensus] != frames-16 {
		t.Errorf("dead peer: %d frames dropped, want %d", ps.Dropped[Consensus], frames-16)
	}
}

// A peer that is closed and started again on the same address is redialed
// automatically, in both directions.
func TestRestartedPeerIsReconnected(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	a := start(t, tn.config(t, 0))
	cfgB := tn.config(t, 1)
	b := start(t, cfgB)
	a.Send(1, Consensus, []byte("before"))
	expect(t, b, 0, Consensus, []byte("before"))
	b.Send(0, Consensus, []byte("hello"))
	expect(t, a, 1, Consensus, []byte("hello"))

	b.Close()
	eventually(t, "a to notice that b is gone", func() bool {
		ps := peerStats(t, a, 1)
		return !ps.OutConnected && !ps.InConnected
	})
	cfgB.Listener, cfgB.ListenAddr = nil, tn.peers[1].Addr
	b = start(t, cfgB)
	a.Send(1, Consensus, []byte("after")) // waits in the queue until a reconnects
	expect(t, b, 0, Consensus, []byte("after"))
	b.Send(0, Sync, []byte("back"))
	expect(t, a, 1, Sync, []byte("back"))
	if ps := peerStats(t, a, 1); ps.Connects != 2 {
		t.Errorf("a connected %d times to b, want 2", ps.Connects)
	}
}

// A peer that stops reading makes writes to it time out; its connection is
// dropped and redialed, and traffic to the other peers goes on meanwhile.
// Node 1's consumer reads nothing; the flood is of Consensus frames, for
// which its reader waits when its queue is full (it would discard Gossip).
func TestSlowPeerWriteTimeout(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 3)
	trs := tn.startAll(t, func(i int, cfg *Config) {
		cfg.WriteTimeout = 100 * time.Millisecond
		cfg.InboundLen, cfg.PeerInboundLen = 1, 1 // node 1's inbound is never read
	})
	a, c := trs[0], trs[2]
	big := make([]byte, 64<<10)
	for k := 0; peerStats(t, a, 1).Connects < 2; k++ {
		a.Send(1, Consensus, big)
		f := fmt.Appendf(nil, "frame %d", k)
		a.Send(2, Consensus, f)
		expect(t, c, 0, Consensus, f)
		if k > 100_000 {
			t.Fatal("the connection to the slow peer was never dropped")
		}
	}
}

// Cancelling Start's context stops the transport and closes Inbound; Close
// is idempotent, works before Start, and Start after Close fails.
func TestShutdown(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	b := start(t, tn.config(t, 1))
	a, err := New(tn.config(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if a.Start(ctx) == nil {
		t.Error("second Start succeeded")
	}
	b.Send(0, Gossip, []byte("x"))
	expect(t, a, 1, Gossip, []byte("x"))
	cancel()
	for c := range Class(NumClasses) {
		for range a.Inbound(c) {
		}
	}
	if err := a.Send(1, Gossip, []byte("late")); !errors.Is(err, ErrStopping) {
		t.Errorf("Send after shutdown: %v, want %v", err, ErrStopping)
	}
	a.Close()
	a.Close()

	idle, err := New(tn.config(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	idle.Close()
	for c := range Class(NumClasses) {
		if _, ok := <-idle.Inbound(c); ok {
			t.Errorf("Inbound(%s) open after Close", c)
		}
	}
	if idle.Inbound(Class(NumClasses)) != nil {
		t.Error("Inbound of an unknown class is not nil")
	}
	if idle.Start(context.Background()) == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tn := newTestNet(t, 2)
	defer tn.lns[0].Close()
	defer tn.lns[1].Close()
	other := newKey(t)
	for name, mod := range map[string]func(*Config){
		"self missing":          func(c *Config) { c.Self = 5 },
		"wrong key":             func(c *Config) { c.Key = other },
		"short key":             func(c *Config) { c.Key = c.Key[:10] },
		"short peer key":        func(c *Config) { c.Peers[1].PubKey = c.Peers[1].PubKey[:31] },
		"duplicate index":       func(c *Config) { c.Peers[1].Index = 0 },
		"duplicate key":         func(c *Config) { c.Peers[1].PubKey = c.Peers[0].PubKey },
		"no peer address":       func(c *Config) { c.Peers[1].Addr = "" },
		"no listen":             func(c *Config) { c.Listener, c.Peers[0].Addr = nil, "" },
		"negative frame":        func(c *Config) { c.MaxFrame = -1 },
		"negative queue":        func(c *Config) { c.QueueLen = -1 },
		"negative inbound":      func(c *Config) { c.InboundLen = -1 },
		"negative peer inbound": func(c *Config) { c.PeerInboundLen = -1 },
		"negative timeout":      func(c *Config) { c.WriteTimeout = -time.Second },
	} {
		cfg := tn.config(t, 0)
		cfg.Peers = slices.Clone(cfg.Peers)
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if math.MaxInt > math.MaxUint32 { // a 64-bit int can exceed the 32-bit length field
		cfg := tn.config(t, 0)
		cfg.MaxFrame = int(min(math.MaxInt, math.MaxUint32+1))
		if _, err := New(cfg); err == nil {
			t.Error("MaxFrame beyond 32 bits accepted")
		}
	}
	cfg := tn.config(t, 0)
	cfg.Peers[0].Addr = ""                                                                          // self needs no address when it has a listener
	cfg.Peers = append(cfg.Peers, Peer{Index: 7, PubKey: make(ed25519.PublicKey, 32), Addr: "x:1"}) // indices need not be dense
	if _, err := New(cfg); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}
