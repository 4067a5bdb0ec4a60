package node

import (
	"log/slog"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// stepCounter is a Replica that counts what it is stepped.
type stepCounter struct{ steps int }

func (s *stepCounter) Step(consensus.Message) { s.steps++ }
func (s *stepCounter) Tick()                  {}
func (s *stepCounter) Ready() consensus.Ready { return consensus.Ready{} }

// TestRequestsAreServedBesideTheLoop is finding 4 of issue 12: block and
// sync requests were answered on the consensus goroutine (a flood cost
// 78% of commits). They now go to the serving worker, never to the core,
// within a per-peer request budget: one flooding peer is cut at its burst
// and another peer is still served.
func TestRequestsAreServedBesideTheLoop(t *testing.T) {
	core := &stepCounter{}
	n := &Node{metrics: newMetrics(), serve: newServer(), replica: core, log: slog.New(slog.DiscardHandler)}
	req := func(from uint32) inFrame {
		return inFrame{From: from, Env: wire.Envelope{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{Hash: chain.Hash{1}, Count: 64}}}}
	}
	for range 100 {
		n.receive(req(1))
	}
	n.receive(inFrame{From: 2, Env: wire.Envelope{Msg: consensus.Message{SyncRequest: &consensus.SyncRequest{From: 1, Count: 64}}}})
	if core.steps != 0 {
		t.Fatalf("the core was stepped %d requests", core.steps)
	}
	if got := len(n.serve.queue); got != serveBurst+1 {
		t.Fatalf("%d requests queued, want peer 1's burst of %d and peer 2's one", got, serveBurst)
	}
	if c := counterValue(t, n.metrics.dropped.WithLabelValues("serve: over the peer's request rate")); c != 100-serveBurst {
		t.Fatalf("%v requests dropped over the rate, want %d", c, 100-serveBurst)
	}
}

// TestBucketRefills: a peer's budget comes back at its rate.
func TestBucketRefills(t *testing.T) {
	var b bucket
	now := time.Unix(1000, 0)
	for range 5 {
		if !b.take(now, 1, 10, 5) {
			t.Fatal("refused within the burst")
		}
	}
	if b.take(now, 1, 10, 5) {
		t.Fatal("took past the burst")
	}
	if !b.take(now.Add(100*time.Millisecond), 1, 10, 5) || b.take(now.Add(100*time.Millisecond), 1, 10, 5) {
		t.Fatal("a tenth of a second at 10/s gave other than one token")
	}
}
