package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"time"
)

var errPeerClosed = errors.New("transport: peer closed the connection")

// runPeer keeps an outbound connection to p and writes p's queued frames
// to it, redialing with exponential backoff until ctx is done.
func (t *Transport) runPeer(ctx context.Context, p *peer) {
	backoff := minBackoff
	for {
		if t.session(ctx, p) {
			backoff = minBackoff
		}
		if !sleep(ctx, backoff/2+rand.N(backoff/2+1)) {
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// session dials p and, once the handshake has succeeded, writes p's frames
// until the connection fails or ctx is done. It reports whether the
// connection was established.
func (t *Transport) session(ctx context.Context, p *peer) bool {
	d := net.Dialer{Timeout: dialTimeout}
	raw, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Debug("transport: dial failed", "peer", p.index, "addr", p.addr, "err", err)
		}
		return false
	}
	defer raw.Close()
	defer context.AfterFunc(ctx, func() { raw.Close() })()
	conn := tls.Client(raw, p.clientTLS)
	if err := clientHandshake(conn); err != nil {
		if ctx.Err() == nil {
			p.refused.Add(1)
			t.rlog.logf(slog.LevelWarn, p.kinds.outFailed, "transport: outbound handshake failed",
				func() []any { return []any{"peer", p.index, "addr", p.addr, "err", err} })
		}
		return false
	}
	p.connects.Add(1)
	p.outUp.Store(true)
	defer p.outUp.Store(false)
	t.rlog.logf(slog.LevelInfo, p.kinds.connected, "transport: connected",
		func() []any { return []any{"peer", p.index, "addr", p.addr} })
	err = t.writeLoop(ctx, p, conn)
	if ctx.Err() == nil {
		t.rlog.logf(slog.LevelInfo, p.kinds.outLost, "transport: outbound connection lost",
			func() []any { return []any{"peer", p.index, "err", err} })
	}
	return true
}

// clientHandshake runs the TLS handshake, which verifies the server's key,
// and then waits for the server's confirmation that it accepted ours.
func clientHandshake(conn *tls.Conn) error {
	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		return err
	}
	if err := conn.Handshake(); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return fmt.Errorf("transport: awaiting confirmation: %w", err)
	}
	if b[0] != WireVersion {
		return fmt.Errorf("transport: peer speaks version %d, want %d", b[0], WireVersion)
	}
	return conn.SetDeadline(time.Time{})
}

// writeLoop writes p's frames to conn, highest class first, flushing
// whenever the queues are empty. A frame taken from the queue is lost if
// the connection fails.
func (t *Transport) writeLoop(ctx context.Context, p *peer, conn *tls.Conn) error {
	// The peer never writes on this connection after its confirmation,
	// so a read returns only when the connection is over: that is how a
	// peer that closes it (for example after an oversize frame) is noticed
	// without waiting for a write to fail.
	dead := make(chan struct{})
	t.wg.Go(func() {
		defer close(dead)
		var b [1]byte
		conn.Read(b[:])
	})
	w := bufio.NewWriterSize(deadlineWriter{conn, t.writeTimeout}, bufSize)
	for {
		c, f, ok := p.out.pop()
		if ok {
			if err := writeFrame(w, c, f); err != nil {
				return err
			}
			p.sent[c].add(len(f))
			continue
		}
		if w.Buffered() > 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			continue
		}
		select {
		case <-p.out.ready:
		case <-dead:
			return errPeerClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deadlineWriter gives every write to the connection a deadline.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(b []byte) (int, error) {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	return w.conn.Write(b)
}

// sleep waits for d or until ctx is done; it reports whether ctx is still
// live.
func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
