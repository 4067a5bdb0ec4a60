package abci

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/strategos/strategos/internal/app"
)

// ioBuffer is the size of a connection's read and write buffers.
const ioBuffer = 64 << 10

// errClosed is the error of a call on a closed client.
var errClosed = errors.New("client closed")

// conn is one of the client's connections to the application, dialled on
// first use and again after a failure. Calls on it are serialised by sem;
// mu guards nc and closed against Close, which may run during a call.
type conn struct {
	name    string // consensus, mempool, query
	network string
	addr    string
	opts    *Options
	log     *slog.Logger
	sem     chan struct{}

	mu     sync.Mutex
	nc     net.Conn
	closed bool

	// The sem holder's.
	r      *bufio.Reader
	w      *bufio.Writer
	failed bool // the last call failed: log when the application is back
}

func newConn(name, network, addr string, opts *Options) *conn {
	return &conn{
		name: name, network: network, addr: addr, opts: opts,
		log: opts.Logger.With("abci", name),
		sem: make(chan struct{}, 1),
	}
}

// call writes reqs and a Flush, and returns the responses to reqs, each
// of its request's type. Every error wraps app.ErrUnavailable; an error
// of the exchange also closes the connection, so that the next call dials
// again.
func (c *conn) call(ctx context.Context, reqs ...*abcitypes.Request) ([]*abcitypes.Response, error) {
	op := opName(reqs)
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, c.unavailable(op, fmt.Errorf("waiting for the connection: %w", ctx.Err()))
	}
	defer func() { <-c.sem }()
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	nc, err := c.connect(ctx)
	if err != nil {
		c.failed = true
		return nil, c.unavailable(op, err)
	}
	resps, err := c.exchange(ctx, nc, reqs)
	if err != nil {
		c.drop(nc)
		c.failed = true
		return nil, c.unavailable(op, withCause(ctx, err))
	}
	return resps, nil
}

// withCause adds to an exchange's err why ctx ended, if it did: the
// connection's deadline is ctx's, and may be met before ctx's own timer
// says so.
func withCause(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", err, ctx.Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: %w", err, context.DeadlineExceeded)
	}
	return err
}

// call1 is call for one request.
func (c *conn) call1(ctx context.Context, req *abcitypes.Request) (*abcitypes.Response, error) {
	resps, err := c.call(ctx, req)
	if err != nil {
		return nil, err
	}
	return resps[0], nil
}

// unavailable wraps err, of op, as the application being unavailable.
func (c *conn) unavailable(op string, err error) error {
	return fmt.Errorf("abci: %s connection: %s: %w: %w", c.name, op, app.ErrUnavailable, err)
}

// connect returns the open connection, dialling it if there is none.
func (c *conn) connect(ctx context.Context) (net.Conn, error) {
	c.mu.Lock()
	nc, closed := c.nc, c.closed
	c.mu.Unlock()
	switch {
	case closed:
		return nil, errClosed
	case nc != nil && c.r.Buffered() == 0 && idle(nc):
		return nc, nil
	case nc != nil:
		c.drop(nc) // closed by the application, or it spoke unasked
		c.failed = true
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, c.network, c.addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		nc.Close()
		return nil, errClosed
	}
	c.nc = nc
	c.r, c.w = bufio.NewReaderSize(nc, ioBuffer), bufio.NewWriterSize(nc, ioBuffer)
	if c.failed {
		c.log.Info("connected to the application again", "addr", c.addr)
		c.failed = false
	}
	return nc, nil
}

// drop closes nc and forgets it.
func (c *conn) drop(nc net.Conn) {
	c.mu.Lock()
	if c.nc == nc {
		c.nc = nil
	}
	c.mu.Unlock()
	nc.Close()
}

// close closes the connection for good; a call in progress fails.
func (c *conn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.nc == nil {
		return nil
	}
	err := c.nc.Close()
	c.nc = nil
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// exchange sends reqs and a Flush on nc and reads their responses, within
// ctx: its deadline is the connection's, and its cancellation interrupts
// the I/O.
func (c *conn) exchange(ctx context.Context, nc net.Conn, reqs []*abcitypes.Request) ([]*abcitypes.Response, error) {
	if d, ok := ctx.Deadline(); ok {
		if err := nc.SetDeadline(d); err != nil {
			return nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	resps, err := c.pipeline(nc, reqs)
	if !stop() && err == nil {
		c.drop(nc) // ctx ended as the answer came: the answer stands, nc's deadline may be past
	}
	return resps, err
}

// pipeline sends reqs and a Flush and reads their responses. Several
// requests are written by a goroutine while the responses are read, so
// that no server's buffering can deadlock us.
func (c *conn) pipeline(nc net.Conn, reqs []*abcitypes.Request) ([]*abcitypes.Response, error) {
	if len(reqs) == 1 {
		if err := c.send(reqs); err != nil {
			return nil, err
		}
		return c.receive(reqs)
	}
	sent := make(chan error, 1)
	go func() { sent <- c.send(reqs) }()
	resps, err := c.receive(reqs)
	if err != nil {
		nc.Close() // unblocks the writer
		<-sent
		return nil, err
	}
	if err := <-sent; err != nil {
		return nil, err
	}
	return resps, nil
}

// send writes reqs and a Flush.
func (c *conn) send(reqs []*abcitypes.Request) error {
	for _, req := range reqs {
		if err := writeRequest(c.w, req); err != nil {
			return err
		}
	}
	if err := writeRequest(c.w, abcitypes.ToRequestFlush()); err != nil {
		return err
	}
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write requests: %w", err)
	}
	return nil
}

// receive reads the responses to reqs, then the Flush's.
func (c *conn) receive(reqs []*abcitypes.Request) ([]*abcitypes.Response, error) {
	resps := make([]*abcitypes.Response, len(reqs))
	for i, req := range reqs {
		resp, err := readResponse(c.r, c.opts.maxFrame(req), c.opts.MaxElements)
		if err == nil {
			err = match(req, resp)
		}
		if err != nil {
			return nil, fmt.Errorf("response %d of %d: %w", i+1, len(reqs), err)
		}
		resps[i] = resp
	}
	resp, err := readResponse(c.r, c.opts.MaxSmallFrame, c.opts.MaxElements)
	if err == nil {
		err = match(abcitypes.ToRequestFlush(), resp)
	}
	if err != nil {
		return nil, fmt.Errorf("flush response: %w", err)
	}
	return resps, nil
}

// maxException bounds how much of an exception's text an error quotes.
const maxException = 256

// match checks that resp answers req: an exception, or a response of
// another type, is out of protocol.
func match(req *abcitypes.Request, resp *abcitypes.Response) error {
	if e, ok := resp.Value.(*abcitypes.Response_Exception); ok {
		msg := e.Exception.GetError()
		if len(msg) > maxException {
			msg = msg[:maxException] + "..."
		}
		return fmt.Errorf("the application raised an exception: %q", msg)
	}
	if !answers(req, resp) {
		return fmt.Errorf("%s answered with %s", typeName(req.Value, "Request_"), typeName(resp.Value, "Response_"))
	}
	return nil
}

// answers reports whether resp is of the type that answers req.
func answers(req *abcitypes.Request, resp *abcitypes.Response) bool {
	var ok bool
	switch req.Value.(type) {
	case *abcitypes.Request_Flush:
		_, ok = resp.Value.(*abcitypes.Response_Flush)
	case *abcitypes.Request_Info:
		_, ok = resp.Value.(*abcitypes.Response_Info)
	case *abcitypes.Request_InitChain:
		_, ok = resp.Value.(*abcitypes.Response_InitChain)
	case *abcitypes.Request_CheckTx:
		_, ok = resp.Value.(*abcitypes.Response_CheckTx)
	case *abcitypes.Request_PrepareProposal:
		_, ok = resp.Value.(*abcitypes.Response_PrepareProposal)
	case *abcitypes.Request_ProcessProposal:
		_, ok = resp.Value.(*abcitypes.Response_ProcessProposal)
	case *abcitypes.Request_FinalizeBlock:
		_, ok = resp.Value.(*abcitypes.Response_FinalizeBlock)
	case *abcitypes.Request_Commit:
		_, ok = resp.Value.(*abcitypes.Response_Commit)
	case *abcitypes.Request_Query:
		_, ok = resp.Value.(*abcitypes.Response_Query)
	case *abcitypes.Request_ListSnapshots:
		_, ok = resp.Value.(*abcitypes.Response_ListSnapshots)
	case *abcitypes.Request_LoadSnapshotChunk:
		_, ok = resp.Value.(*abcitypes.Response_LoadSnapshotChunk)
	case *abcitypes.Request_OfferSnapshot:
		_, ok = resp.Value.(*abcitypes.Response_OfferSnapshot)
	case *abcitypes.Request_ApplySnapshotChunk:
		_, ok = resp.Value.(*abcitypes.Response_ApplySnapshotChunk)
	}
	return ok
}

// opName names the call of reqs for errors: "FinalizeBlock", "CheckTx x10".
func opName(reqs []*abcitypes.Request) string {
	name := typeName(reqs[0].Value, "Request_")
	if len(reqs) > 1 {
		name = fmt.Sprintf("%s x%d", name, len(reqs))
	}
	return name
}

// typeName is the name of a oneof value's type without its prefix.
func typeName(v any, prefix string) string {
	if v == nil {
		return "nothing"
	}
	name := fmt.Sprintf("%T", v)
	if i := strings.LastIndex(name, prefix); i >= 0 {
		return name[i+len(prefix):]
	}
	return name
}
