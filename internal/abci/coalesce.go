package abci

import (
	"context"
	"fmt"
	"sync"

	abcitypes "github.com/cometbft/cometbft/abci/types"
)

// coalescer merges concurrent calls on one connection into shared
// exchanges. Calls queue; one goroutine at a time drains the queue,
// sending everything waiting (up to max requests) as one pipelined
// exchange and handing each caller its responses. Many small admissions
// at once (JSON-RPC broadcasts of ten transactions each) then cost one
// round trip to the application per exchange, not one per caller, each
// behind the previous one on the connection.
type coalescer struct {
	cn  *conn
	max int // requests per exchange, at least one call's whole

	mu    sync.Mutex
	queue []*queued
	busy  bool // a drain is running
}

type queued struct {
	reqs  []*abcitypes.Request
	resps []*abcitypes.Response
	err   error
	done  chan struct{}
}

func newCoalescer(cn *conn, max int) *coalescer { return &coalescer{cn: cn, max: max} }

// call is conn.call for reqs, shared with whatever else is waiting. A
// caller whose ctx ends while it waits gets an error; its requests may
// still be sent, and their answers are dropped (CheckTx changes nothing
// a later CheckTx of the same transaction would not see).
func (q *coalescer) call(ctx context.Context, reqs []*abcitypes.Request) ([]*abcitypes.Response, error) {
	c := &queued{reqs: reqs, done: make(chan struct{})}
	q.mu.Lock()
	q.queue = append(q.queue, c)
	if !q.busy {
		q.busy = true
		go q.drain()
	}
	q.mu.Unlock()
	select {
	case <-c.done:
		return c.resps, c.err
	case <-ctx.Done():
		return nil, q.cn.unavailable(opName(reqs), fmt.Errorf("waiting for the connection: %w", ctx.Err()))
	}
}

// drain sends what is queued until nothing is.
func (q *coalescer) drain() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.busy = false
			q.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(q.queue) && (n == 0 || size+len(q.queue[n].reqs) <= q.max) {
			size += len(q.queue[n].reqs)
			n++
		}
		batch := q.queue[:n:n]
		q.queue = q.queue[n:]
		q.mu.Unlock()

		all := make([]*abcitypes.Request, 0, size)
		for _, c := range batch {
			all = append(all, c.reqs...)
		}
		// Not any one caller's context: the exchange serves them all, and
		// the connection's own timeout bounds it.
		resps, err := q.cn.call(context.Background(), all...)
		for _, c := range batch {
			if err == nil {
				c.resps, resps = resps[:len(c.reqs):len(c.reqs)], resps[len(c.reqs):]
			}
			c.err = err
			close(c.done)
		}
	}
}
