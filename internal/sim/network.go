package sim

import (
	"container/heap"
	"math/rand/v2"

	"github.com/strategos/strategos/internal/consensus"
)

// Virtual time is counted in milliseconds.
const (
	tickMillis = 10
)

type eventKind uint8

const (
	evDeliver eventKind = iota
	evTick
	evCrash
	evRestart
)

type event struct {
	at   int64
	seq  uint64
	kind eventKind
	node int
	msg  consensus.Message
}

// queue is a min-heap of events ordered by time, then by insertion order,
// so that runs are reproducible.
type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// network decides the fate of every message: when it arrives, or whether
// it is lost. Before GST it is hostile (long delays, loss, a partition);
// after GST every message arrives within maxDelayStable.
type network struct {
	rng       *rand.Rand
	gst       int64
	loss      float64
	partFrom  int64
	partTo    int64
	side      []int // partition side of each validator; -1 for traitors
	byzantine []bool
	hostile   bool
}

const (
	maxDelayStable = 20  // ms, after GST
	maxDelayStormy = 250 // ms, the long tail before GST
)

func newNetwork(rng *rand.Rand, n int, byz []bool, gst int64, hostile bool) *network {
	nw := &network{rng: rng, gst: gst, byzantine: byz, side: make([]int, n), hostile: hostile}
	if !hostile {
		return nw
	}
	nw.loss = 0.02 + 0.08*rng.Float64()
	if rng.IntN(2) == 0 {
		nw.partFrom = rng.Int64N(gst / 2)
		nw.partTo = nw.partFrom + rng.Int64N(gst-nw.partFrom)
		for i := range nw.side {
			nw.side[i] = rng.IntN(2)
		}
	}
	return nw
}

// fate returns the delivery delay of a message sent at now from a to b, or
// false if the message is lost.
func (nw *network) fate(now int64, a, b int) (int64, bool) {
	if now >= nw.gst {
		return 1 + nw.rng.Int64N(maxDelayStable), true
	}
	if nw.rng.Float64() < nw.loss {
		return 0, false
	}
	// The adversary controls its own links: partitions split honest
	// validators only.
	if now >= nw.partFrom && now < nw.partTo && !nw.byzantine[a] && !nw.byzantine[b] && nw.side[a] != nw.side[b] {
		return 0, false
	}
	d := 1 + nw.rng.Int64N(maxDelayStable)
	if nw.hostile && nw.rng.IntN(10) == 0 {
		d += nw.rng.Int64N(maxDelayStormy)
	}
	return d, true
}

func (s *run) schedule(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.events, e)
}
