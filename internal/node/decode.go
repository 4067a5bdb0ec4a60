package node

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// Frames are decoded beside the consensus loop, one goroutine per traffic
// class (so each class keeps its order), and reach the loop as envelopes:
// a large or hostile frame costs its decoder's time, never a round's.

// maxGossipTxs bounds the transactions of one gossiped batch, in both
// directions: sendGossip splits at it and the decoder refuses more.
const maxGossipTxs = 10_000

// decodedDepth is how many decoded frames of a class wait for the loop;
// beyond it the decoder waits, and the transport's per-peer inbound
// budgets (in bytes) take the excess.
var decodedDepth = [transport.NumClasses]int{transport.Consensus: 256, transport.Sync: 4, transport.Gossip: 8}

// inFrame is a decoded frame from a validator.
type inFrame struct {
	From uint32
	Env  wire.Envelope
}

// decodeLimits are what a frame from a peer of this network may hold.
func (n *Node) decodeLimits() wire.Limits {
	return wire.NewLimits(n.vals.Len(), maxBlockTxs, maxGossipTxs, n.tr.MaxFrame())
}

// startDecoders starts one decoder per class and returns the channels of
// decoded frames, in class order; each is closed when the transport stops.
func (n *Node) startDecoders(ctx context.Context, wg *sync.WaitGroup) [transport.NumClasses]<-chan inFrame {
	d := wire.Decoder{Limits: n.decodeLimits()}
	var out [transport.NumClasses]<-chan inFrame
	for c := range transport.Class(transport.NumClasses) {
		ch := make(chan inFrame, decodedDepth[c])
		out[c] = ch
		wg.Go(func() { n.decodeClass(ctx, d, n.tr.Inbound(c), ch) })
	}
	return out
}

func (n *Node) decodeClass(ctx context.Context, d wire.Decoder, in <-chan transport.Inbound, out chan<- inFrame) {
	defer close(out)
	for {
		var f transport.Inbound
		var ok bool
		select {
		case <-ctx.Done():
			return
		case f, ok = <-in:
			if !ok {
				return
			}
		}
		if n.muted.muted(f.From, time.Now()) {
			n.metrics.dropped.WithLabelValues("sender muted").Inc()
			continue
		}
		env, err := d.Decode(f.Data)
		if err != nil {
			n.refuseFrame(f, err)
			continue
		}
		select {
		case out <- inFrame{From: f.From, Env: env}:
		case <-ctx.Done():
			return
		}
	}
}

// refuseFrame counts a frame that did not decode and logs it, at most
// once per interval with how many were suppressed: a peer sending garbage
// must not fill the log.
func (n *Node) refuseFrame(f transport.Inbound, err error) {
	reason := "undecodable"
	if wire.IsLimit(err) {
		// No honest validator builds a frame over the network's limits:
		// its sender's frames are dropped undecoded for a while, so a
		// flood of them costs this node nothing but reading them.
		reason = "over decode limits"
		n.quarantine(f.From, reason)
	}
	n.metrics.dropped.WithLabelValues(reason).Inc()
	if s, ok := n.decodeLog.allow(time.Now()); ok {
		n.log.Warn("dropped frames that do not decode", "from", f.From, "class", f.Class.String(), "bytes", len(f.Data),
			"reason", reason, "err", err, "suppressed", s)
	}
}

// logLimiter lets one line through per interval and counts the rest.
type logLimiter struct {
	next       atomic.Int64 // unix nanoseconds before which lines are suppressed
	suppressed atomic.Uint64
}

const logInterval = 10 * time.Second

func (l *logLimiter) allow(now time.Time) (suppressed uint64, ok bool) {
	next := l.next.Load()
	if now.UnixNano() < next || !l.next.CompareAndSwap(next, now.Add(logInterval).UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// quarantine drops peer's frames undecoded, and has the transport refuse
// its connections, for muteFor: it sent what no honest validator sends.
func (n *Node) quarantine(peer uint32, why string) {
	until := time.Now().Add(muteFor)
	n.muted.mute(peer, until)
	n.metrics.dropped.WithLabelValues("quarantined: " + why).Inc()
	if n.tr != nil {
		n.tr.Quarantine(peer, until)
	}
}

// muteFor is how long a validator that sent a frame over the limits has
// its frames dropped without decoding.
const muteFor = 5 * time.Second

// mutes holds, per validator index, the time until which its frames are
// dropped undecoded. Safe for concurrent use by the decoders.
type mutes struct {
	mu    sync.Mutex
	until map[uint32]time.Time
}

func (m *mutes) mute(peer uint32, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.until == nil {
		m.until = make(map[uint32]time.Time)
	}
	m.until[peer] = until
}

func (m *mutes) muted(peer uint32, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return now.Before(m.until[peer])
}
