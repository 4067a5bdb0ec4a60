package transport

import "sync"

// outbox holds the frames waiting to be written to one peer: a bounded FIFO
// per class. push never blocks; pop takes from the highest-priority class
// that has a frame.
type outbox struct {
	mu    sync.Mutex
	q     [NumClasses]fifo
	ready chan struct{} // capacity 1; signalled after every successful push
}

func newOutbox(capacity int) *outbox {
	o := &outbox{ready: make(chan struct{}, 1)}
	for c := range o.q {
		o.q[c].buf = make([][]byte, capacity)
	}
	return o
}

// push appends f to class c's queue and reports whether it fitted.
func (o *outbox) push(c Class, f []byte) bool {
	o.mu.Lock()
	ok := o.q[c].push(f)
	o.mu.Unlock()
	if ok {
		select {
		case o.ready <- struct{}{}:
		default:
		}
	}
	return ok
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

// len returns the number of frames queued in class c.
func (o *outbox) len(c Class) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.q[c].n
}

// fifo is a fixed-capacity ring of frames.
type fifo struct {
	buf     [][]byte
	head, n int
}

func (q *fifo) push(f []byte) bool {
	if q.n == len(q.buf) {
		return false
	}
	q.buf[(q.head+q.n)%len(q.buf)] = f
	q.n++
	return true
}

func (q *fifo) pop() ([]byte, bool) {
	if q.n == 0 {
		return nil, false
	}
	f := q.buf[q.head]
	q.buf[q.head] = nil
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	return f, true
}
