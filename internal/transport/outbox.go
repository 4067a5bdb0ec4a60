package transport

import "sync"

// outbox holds the frames waiting to be written to one peer: a FIFO per
// class bounded in frames and in payload bytes. push never blocks; pop
// takes from the highest-priority class that has a frame.
type outbox struct {
	mu     sync.Mutex
	q      [NumClasses]fifo
	budget [NumClasses]int // payload bytes per class
	ready  chan struct{}   // capacity 1; signalled after every successful push
}

func newOutbox(capacity int, budget [NumClasses]int) *outbox {
	o := &outbox{ready: make(chan struct{}, 1), budget: budget}
	for c := range o.q {
		o.q[c].buf = make([][]byte, capacity)
	}
	return o
}

// evictsOldest reports whether a full queue of class c makes room for a
// new frame by dropping its oldest ones (Consensus: a stale consensus
// message is worth nothing once newer ones exist) rather than refusing the
// new one (Sync and Gossip, whose senders retry or re-gossip).
func evictsOldest(c Class) bool { return c == Consensus }

// push appends f to class c's queue. It reports how many older frames it
// dropped to make room, and whether f was queued.
func (o *outbox) push(c Class, f []byte) (evicted int, ok bool) {
	o.mu.Lock()
	q := &o.q[c]
	if evictsOldest(c) {
		for q.n > 0 && !q.fits(len(f), o.budget[c]) {
			q.pop()
			evicted++
		}
	}
	ok = q.fits(len(f), o.budget[c])
	if ok {
		q.push(f)
	}
	o.mu.Unlock()
	if ok {
		select {
		case o.ready <- struct{}{}:
		default:
		}
	}
	return evicted, ok
}

// pop removes and returns the oldest frame of the highest-priority class
// that has one: Consensus, then Sync, then Gossip.
func (o *outbox) pop() (Class, []byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for c := range Class(NumClasses) {
		if f, ok := o.q[c].pop(); ok {
			return c, f, true
		}
	}
	return 0, nil, false
}

// queued returns the number of frames and payload bytes queued in class c.
func (o *outbox) queued(c Class) (frames, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.q[c].n, o.q[c].bytes
}

// fifo is a fixed-capacity ring of frames that counts their bytes.
type fifo struct {
	buf     [][]byte
	head, n int
	bytes   int
}

// fits reports whether a frame of size bytes can be appended within the
// ring's capacity and budget bytes. An empty ring takes any frame, so that
// a frame within MaxFrame (and budgets are at least MaxFrame) is never
// refused for its size alone.
func (q *fifo) fits(size, budget int) bool {
	return q.n < len(q.buf) && (q.n == 0 || q.bytes+size <= budget)
}

func (q *fifo) push(f []byte) {
	q.buf[(q.head+q.n)%len(q.buf)] = f
	q.n++
	q.bytes += len(f)
}

func (q *fifo) pop() ([]byte, bool) {
	if q.n == 0 {
		return nil, false
	}
	f := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	q.bytes -= len(f)
	return f, true
}
