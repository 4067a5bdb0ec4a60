package abci

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app"
)

// serveStall accepts connections, reads what it is sent and never
// answers; got receives a value each time a connection first reads.
func serveStall(t *testing.T) (addr string, got <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{}, 64)
	addr = serveConns(t, func(nc net.Conn) {
		if _, err := nc.Read(make([]byte, 1)); err != nil {
			return
		}
		select {
		case ch <- struct{}{}:
		default:
		}
		io.Copy(io.Discard, nc)
	})
	return addr, ch
}

// TestStall has the application never answer: the call ends at its
// deadline (the client's timeout or the context's, whichever is first),
// or when its context is cancelled, as unavailable.
func TestStall(t *testing.T) {
	addr, got := serveStall(t)
	c := newTestClient(t, addr, Options{Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := c.Info(context.Background())
	unavailable(t, "info from a stalled application", err)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 100*time.Millisecond {
		t.Fatalf("info ended after %v with %v; want the 100ms timeout", time.Since(start), err)
	}

	c = newTestClient(t, addr, Options{Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Query(ctx, app.Query{})
	unavailable(t, "query past its context's deadline", err)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("query: %v, want the context's deadline", err)
	}

	// A fresh application, so that got says the Commit arrived.
	addr, got = serveStall(t)
	c = newTestClient(t, addr, Options{Timeout: time.Hour})
	ctx, cancel = context.WithCancel(context.Background())
	go func() { <-got; cancel() }()
	err = c.Commit(ctx)
	unavailable(t, "commit cancelled", err)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("commit: %v, want cancelled", err)
	}
}

// TestStallBatch has the application read nothing while a batch far
// larger than the sockets' buffers is written: the writer is unblocked
// when the call ends at its deadline.
func TestStallBatch(t *testing.T) {
	done := make(chan struct{})
	addr := serveConns(t, func(nc net.Conn) {
		nc.Read(make([]byte, 1))
		<-done // reads nothing more until the test ends
	})
	t.Cleanup(func() { close(done) })
	c := newTestClient(t, addr, Options{Timeout: 200 * time.Millisecond, CheckTxChunk: 1 << 20})
	txs := make([][]byte, 10_000)
	for i := range txs {
		txs[i] = make([]byte, 4096)
	}
	_, err := c.CheckTx(context.Background(), app.CheckNew, app.NewTxs(txs))
	unavailable(t, "check tx of 40 MB to an application that reads nothing", err)
}

// TestBusy has a second call wait for a connection held by a stalled
// first one: it gives up at its own context's deadline, and Close ends
// the first at once.
func TestBusy(t *testing.T) {
	addr, got := serveStall(t)
	c := newTestClient(t, addr, Options{Timeout: time.Hour})
	first := make(chan error, 1)
	go func() { first <- c.Commit(context.Background()) }()
	<-got
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.FinalizeBlock(ctx, app.Block{Height: 1})
	unavailable(t, "finalize block behind a stalled commit", err)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	unavailable(t, "commit ended by close", <-first)
	unavailable(t, "info after close", func() error { _, err := c.Info(context.Background()); return err }())
}
