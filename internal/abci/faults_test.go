package abci

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/strategos/strategos/internal/app"
)

// serveConns serves handle on every connection to a loopback listener
// until the test ends, and returns the listener's tcp:// address.
func serveConns(t *testing.T, handle func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Go(func() { defer nc.Close(); handle(nc) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "tcp://" + ln.Addr().String()
}

// serveAnswers is an ABCI server that answers each request with what
// answer returns, and each Flush with a Flush.
func serveAnswers(t *testing.T, answer func(*abcitypes.Request) *abcitypes.Response) string {
	return serveConns(t, func(nc net.Conn) {
		r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
		for {
			req := new(abcitypes.Request)
			if err := abcitypes.ReadMessage(r, req); err != nil {
				return
			}
			resp := abcitypes.ToResponseFlush()
			if _, ok := req.Value.(*abcitypes.Request_Flush); !ok {
				resp = answer(req)
			}
			if abcitypes.WriteMessage(resp, w) != nil || w.Flush() != nil {
				return
			}
		}
	})
}

// unavailable fails the test unless err wraps app.ErrUnavailable.
func unavailable(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, app.ErrUnavailable) {
		t.Fatalf("%s: %v, want an error wrapping app.ErrUnavailable", what, err)
	}
	t.Logf("%s: %v", what, err)
}

// allocated runs f and returns the bytes the process allocated meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestGarbage has servers answer with random bytes: every call fails as
// unavailable, at once, and the next call dials again.
func TestGarbage(t *testing.T) {
	var seed atomic.Uint64
	addr := serveConns(t, func(nc net.Conn) {
		buf := make([]byte, 4096)
		if _, err := nc.Read(buf); err != nil {
			return
		}
		rng := rand.New(rand.NewPCG(seed.Add(1), 7))
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		nc.Write(buf) // then close: a length prefix beyond the bytes sent ends at EOF
	})
	c := newTestClient(t, addr, Options{})
	for i := range 50 {
		if _, err := c.Info(testContext(t)); !errors.Is(err, app.ErrUnavailable) {
			t.Fatalf("info %d from random bytes: %v, want an error wrapping app.ErrUnavailable", i, err)
		}
	}
	if seed.Load() != 50 {
		t.Fatalf("%d connections for 50 calls: each failed call must close its connection", seed.Load())
	}
}

// TestHugePrefix has a server announce frames it never sends: a prefix
// over the bound fails at once, without allocating it, and one under the
// bound costs what was sent, not what was announced.
func TestHugePrefix(t *testing.T) {
	prefix := func(n uint64, then []byte) string {
		return serveConns(t, func(nc net.Conn) {
			if _, err := nc.Read(make([]byte, 4096)); err != nil {
				return
			}
			nc.Write(append(binary.AppendUvarint(nil, n), then...))
			io.Copy(io.Discard, nc) // and stay open
		})
	}
	c := newTestClient(t, prefix(1<<62, nil), Options{Timeout: time.Minute})
	start := time.Now()
	var err error
	if n := allocated(func() { _, err = c.Info(testContext(t)) }); n > 1<<20 {
		t.Errorf("a 2^62-byte prefix cost %d bytes", n)
	}
	unavailable(t, "info behind a 2^62-byte prefix", err)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a 2^62-byte prefix failed after %v: it must not wait for the frame", d)
	}

	// 60 MiB announced, 1 KiB sent, then the server stalls: the deadline
	// ends the call, and the buffer never grew to 60 MiB.
	c = newTestClient(t, prefix(60<<20, make([]byte, 1024)), Options{Timeout: 200 * time.Millisecond})
	if n := allocated(func() { _, err = c.FinalizeBlock(testContext(t), app.Block{Height: 1}) }); n > 4<<20 {
		t.Errorf("a 60 MiB prefix with 1 KiB behind it cost %d bytes", n)
	}
	unavailable(t, "finalize block behind a 60 MiB prefix", err)
}

// TestAmplification sends a response whose decoding would cost a hundred
// times its size: refused, before it is decoded.
func TestAmplification(t *testing.T) {
	const n = 1 << 18 // empty transaction results, 2 bytes each
	empty := make([]*abcitypes.ExecTxResult, n)
	for i := range empty {
		empty[i] = &abcitypes.ExecTxResult{}
	}
	addr := serveAnswers(t, func(*abcitypes.Request) *abcitypes.Response {
		return abcitypes.ToResponseFinalizeBlock(&abcitypes.ResponseFinalizeBlock{TxResults: empty})
	})
	c := newTestClient(t, addr, Options{MaxElements: 1000})
	var err error
	if got := allocated(func() { _, err = c.FinalizeBlock(testContext(t), app.Block{Height: 1}) }); got > 16<<20 {
		t.Errorf("a 512 KiB frame of %d empty results cost %d bytes", n, got)
	}
	unavailable(t, "finalize block of 256Ki empty results", err)
}

// TestLargeResponse has a server answer a block of 10,000 transactions
// with results as rich as the kvstore's (two events of four attributes
// each): well within the default bounds.
func TestLargeResponse(t *testing.T) {
	const n = 10_000
	attrs := []abcitypes.EventAttribute{
		{Key: "creator", Value: "Cosmoshi Netowoko", Index: true}, {Key: "key", Value: "some key", Index: true},
		{Key: "index_key", Value: "index is working", Index: true}, {Key: "noindex_key", Value: "index is working"},
	}
	results := make([]*abcitypes.ExecTxResult, n)
	for i := range results {
		results[i] = &abcitypes.ExecTxResult{Events: []abcitypes.Event{{Type: "app", Attributes: attrs}, {Type: "app", Attributes: attrs}}}
	}
	addr := serveAnswers(t, func(*abcitypes.Request) *abcitypes.Response {
		return abcitypes.ToResponseFinalizeBlock(&abcitypes.ResponseFinalizeBlock{TxResults: results, AppHash: []byte{1}})
	})
	txs := make([][]byte, n)
	for i := range txs {
		txs[i] = []byte{byte(i), byte(i >> 8)}
	}
	res, err := newTestClient(t, addr, Options{}).FinalizeBlock(testContext(t), app.Block{Height: 1, Txs: app.NewTxs(txs)})
	if err != nil || len(res.TxResults) != n {
		t.Fatalf("finalize block of %d transactions: %d results, %v", n, len(res.TxResults), err)
	}
}

// TestOutOfProtocol has a server answer well-formed responses that break
// the protocol's rules.
func TestOutOfProtocol(t *testing.T) {
	cases := []struct {
		name   string
		answer *abcitypes.Response
		call   func(*Client) error
	}{
		{"another response type", abcitypes.ToResponseEcho("hi"), func(c *Client) error {
			_, err := c.Info(context.Background())
			return err
		}},
		{"an exception", abcitypes.ToResponseException("no"), func(c *Client) error {
			return c.Commit(context.Background())
		}},
		{"no message", &abcitypes.Response{}, func(c *Client) error {
			_, err := c.Query(context.Background(), app.Query{})
			return err
		}},
		{"two results for one transaction", abcitypes.ToResponseFinalizeBlock(&abcitypes.ResponseFinalizeBlock{
			TxResults: []*abcitypes.ExecTxResult{{}, {}},
		}), func(c *Client) error {
			_, err := c.FinalizeBlock(context.Background(), app.Block{Height: 1, Txs: app.NewTxs([][]byte{{1}})})
			return err
		}},
		{"an app hash of 65 bytes", abcitypes.ToResponseInitChain(&abcitypes.ResponseInitChain{AppHash: make([]byte, 65)}),
			func(c *Client) error {
				_, err := c.InitChain(context.Background(), app.Genesis{})
				return err
			}},
		{"a negative height", abcitypes.ToResponseInfo(&abcitypes.ResponseInfo{LastBlockHeight: -1}), func(c *Client) error {
			_, err := c.Info(context.Background())
			return err
		}},
		{"an unknown proposal status", abcitypes.ToResponseProcessProposal(&abcitypes.ResponseProcessProposal{}), func(c *Client) error {
			_, err := c.ProcessProposal(context.Background(), app.Proposal{})
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveAnswers(t, func(*abcitypes.Request) *abcitypes.Response { return tc.answer })
			unavailable(t, tc.name, tc.call(newTestClient(t, addr, Options{})))
		})
	}
}
