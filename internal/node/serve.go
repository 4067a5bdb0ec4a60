package node

import (
	"context"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// Peers' block and sync requests are answered by a worker from the store,
// never on the consensus loop: reading and encoding megabytes of blocks
// must not cost a round. Each peer has a budget of requests and of bytes
// per second; what is over it, or finds the worker's queue full, is
// dropped and counted (the requester retries, from another peer).
const (
	serveQueue        = 64            // requests waiting for the worker, from all peers
	serveRate         = 50            // requests per second per peer
	serveBurst        = 25            // and their burst
	serveBytesPerSec  = 64 << 20      // response bytes per second per peer
	serveBytesBurst   = 16 << 20      // and their burst
	serveBucketMaxAge = 1 * time.Hour // never-refilled buckets do not overflow
)

type serveRequest struct {
	from uint32
	m    consensus.Message
	snap *wire.SnapshotRequest // a state sync request instead of m
}

// bucket is a token bucket refilled at rate per second up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, n, rate, burst float64) bool {
	if b.last.IsZero() || now.Sub(b.last) > serveBucketMaxAge {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// server holds the per-peer budgets.
type server struct {
	mu    sync.Mutex
	reqs  map[uint32]*bucket
	bytes map[uint32]*bucket
	queue chan serveRequest
}

func newServer() *server {
	return &server{reqs: map[uint32]*bucket{}, bytes: map[uint32]*bucket{}, queue: make(chan serveRequest, serveQueue)}
}

func (s *server) allow(m map[uint32]*bucket, peer uint32, now time.Time, n, rate, burst float64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := m[peer]
	if b == nil {
		b = &bucket{}
		m[peer] = b
	}
	return b.take(now, n, rate, burst)
}

// offer queues a request for the worker if the peer's request budget and
// the queue allow, and says why not otherwise.
func (s *server) offer(r serveRequest, now time.Time) (reason string, ok bool) {
	if !s.allow(s.reqs, r.from, now, 1, serveRate, serveBurst) {
		return "serve: over the peer's request rate", false
	}
	select {
	case s.queue <- r:
		return "", true
	default:
		return "serve: queue full", false
	}
}

// serveRequest hands a peer's block or sync request to the worker.
func (n *Node) serveRequest(m consensus.Message) {
	if reason, ok := n.serve.offer(serveRequest{from: m.From, m: m}, time.Now()); !ok {
		n.metrics.dropped.WithLabelValues(reason).Inc()
	}
}

// serveWorker answers queued requests from the store until ctx is done.
func (n *Node) serveWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-n.serve.queue:
			n.answer(r)
		}
	}
}

func (n *Node) answer(r serveRequest) {
	if r.snap != nil {
		if resp := n.answerSnapshot(r.snap); resp != nil {
			n.sendSnapshotAnswer(r.from, resp)
		}
		return
	}
	maxBytes := n.tr.MaxFrame() - responseOverhead
	var resp consensus.Message
	switch {
	case r.m.BlockRequest != nil:
		if bs := consensus.ServeBlocks(n.store.Block, r.m.BlockRequest, consensus.DefaultMaxFetch, maxBytes); len(bs) > 0 {
			resp.BlockResponse = &consensus.BlockResponse{Blocks: bs}
		}
	case r.m.SyncRequest != nil:
		resp.SyncResponse = consensus.ServeSync(n.store, r.m.SyncRequest, n.store.CommittedHeight(), consensus.DefaultMaxFetch, maxBytes)
	}
	if resp.BlockResponse == nil && resp.SyncResponse == nil {
		return
	}
	frame, err := wire.EncodeMessage(resp)
	if err != nil {
		n.log.Error("cannot encode a block response", "err", err)
		return
	}
	if !n.serve.allow(n.serve.bytes, r.from, time.Now(), float64(len(frame)), serveBytesPerSec, serveBytesBurst) {
		n.metrics.dropped.WithLabelValues("serve: over the peer's byte rate").Inc()
		return
	}
	n.metrics.msgsOut.WithLabelValues(resp.Kind()).Inc()
	if err := n.tr.Send(r.from, transport.Sync, frame); err != nil {
		n.metrics.dropped.WithLabelValues("outbound " + transport.Reason(err)).Inc()
	}
}
