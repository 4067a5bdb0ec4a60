package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"
)

// accept accepts inbound connections until ctx is done. A connection is
// admitted only if its source has a free handshake slot (see admission);
// others are reset at once, so that idle connections cannot exhaust the
// node.
func (t *Transport) accept(ctx context.Context, ln net.Listener) {
	delay := minBackoff
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, net.ErrClosed) {
				t.log.Error("transport: listener closed", "err", err)
				return
			}
			t.rlog.logf(slog.LevelWarn, "", "transport: accept failed", func() []any { return []any{"err", err} })
			if !sleep(ctx, delay) {
				return
			}
			delay = min(2*delay, maxBackoff)
			continue
		}
		delay = minBackoff
		release, why, ok := t.admit.admit(sourceIP(raw))
		if !ok {
			t.refuse(raw, why)
			continue
		}
		t.wg.Go(func() { t.serveIn(ctx, raw, release) })
	}
}

// serveIn authenticates an inbound connection and reads its frames.
func (t *Transport) serveIn(ctx context.Context, raw net.Conn, release func()) {
	defer raw.Close()
	defer context.AfterFunc(ctx, func() { raw.Close() })()
	deadline := time.Now().Add(handshakeTimeout)
	hello, err := readHello(raw, t.helloTimeout)
	if err != nil {
		release()
		if ctx.Err() == nil {
			t.refusedInbound(raw, RefuseHello, err)
		}
		return
	}
	conn := tls.Server(&prefixConn{raw, hello}, t.serverTLS)
	p, err := t.serverHandshake(conn, deadline)
	release()
	if err != nil {
		if ctx.Err() == nil {
			t.refusedInbound(raw, RefuseHandshake, err)
		}
		return
	}
	if t.quarantined(p) {
		return
	}
	p.setIn(raw)
	defer p.clearIn(raw)
	t.rlog.logf(slog.LevelInfo, p.kinds.accepted, "transport: accepted", func() []any {
		return []any{"peer", p.index, "remote", raw.RemoteAddr().String()}
	})
	err = t.readLoop(ctx, p, bufio.NewReaderSize(conn, bufSize))
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, errOversize) || errors.Is(err, errBadClass):
		t.rlog.logf(slog.LevelWarn, p.kinds.misbehaved, "transport: closing connection from misbehaving peer",
			func() []any { return []any{"peer", p.index, "err", err} })
	default:
		t.rlog.logf(slog.LevelInfo, p.kinds.inLost, "transport: inbound connection lost",
			func() []any { return []any{"peer", p.index, "err", err} })
	}
}

// serverHandshake runs the TLS handshake, whose VerifyConnection callback
// refuses any key but another validator's, and confirms it to the client,
// all before deadline.
func (t *Transport) serverHandshake(conn *tls.Conn, deadline time.Time) (*peer, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if err := conn.Handshake(); err != nil {
		return nil, err
	}
	key, err := PeerKey(conn.ConnectionState())
	if err != nil {
		return nil, err
	}
	p := t.byKey[string(key)]
	if p == nil {
		panic("transport: a verified client key has no peer")
	}
	if _, err := conn.Write([]byte{WireVersion}); err != nil {
		return nil, err
	}
	return p, conn.SetDeadline(time.Time{})
}

// readLoop queues the frames read from r for the dispatchers until an
// error; see deliver for what happens when the peer's queue is full.
func (t *Transport) readLoop(ctx context.Context, p *peer, r io.Reader) error {
	for {
		c, data, err := readFrame(r, t.maxFrame)
		switch {
		case errors.Is(err, errOversize):
			p.oversize.Add(1)
			return err
		case errors.Is(err, errBadClass):
			p.malformed.Add(1)
			return err
		case err != nil:
			return err
		}
		p.recv[c].add(len(data))
		if err := t.deliver(ctx, p, Inbound{From: p.index, Class: c, Data: data}); err != nil {
			return err
		}
	}
}

// backpressured reports whether a reader waits for room in its peer's
// queue of class c (Consensus) rather than discarding the frame (Sync and
// Gossip): only then can bulk frames never hold up the consensus frames
// that follow them on the same connection.
func backpressured(c Class) bool { return c == Consensus }

// deliver queues in on its peer's queue of its class and wakes that class's
// dispatcher. The queue is bounded in frames (PeerInboundLen) and in bytes
// (PeerInboundBytes). If it is full, deliver waits for room (or for ctx)
// when the class is back-pressured, and otherwise discards the frame and
// counts it.
func (t *Transport) deliver(ctx context.Context, p *peer, in Inbound) error {
	c, size := in.Class, int64(len(in.Data))
	for !p.reserveIn(c, size, t.inBudget[c]) {
		if !backpressured(c) {
			p.shed[c].Add(1)
			return nil
		}
		select {
		case <-p.inRoom[c]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	q := p.inq[c]
	select {
	case q <- in:
	default:
		if !backpressured(c) {
			p.releaseIn(c, size)
			p.shed[c].Add(1)
			return nil
		}
		select {
		case q <- in:
		case <-ctx.Done():
			p.releaseIn(c, size)
			return ctx.Err()
		}
	}
	select {
	case t.arrived[c] <- struct{}{}:
	default: // already signalled
	}
	return nil
}

// reserveIn counts size more bytes in p's inbound queue of class c if they
// fit in budget, and reports whether they did. An empty queue takes any
// frame (frames are at most MaxFrame, and budgets at least MaxFrame).
func (p *peer) reserveIn(c Class, size, budget int64) bool {
	for {
		cur := p.inBytes[c].Load()
		if cur > 0 && cur+size > budget {
			return false
		}
		if p.inBytes[c].CompareAndSwap(cur, cur+size) {
			return true
		}
	}
}

// releaseIn uncounts size bytes of p's inbound queue of class c and wakes a
// reader waiting for room.
func (p *peer) releaseIn(c Class, size int64) {
	p.inBytes[c].Add(-size)
	select {
	case p.inRoom[c] <- struct{}{}:
	default:
	}
}

// dispatch moves the frames of class c from the peers' queues to the
// class's Inbound channel until ctx is done, taking one frame from each
// peer that has one in turn, so that a peer that floods the class only
// fills its own queue.
func (t *Transport) dispatch(ctx context.Context, c Class) {
	next := 0 // position, in t.peers, of the peer whose turn is next
	ch := t.inbound[c]
	held := newSizeRing(cap(ch) + 1)
	for {
		in, ok := t.take(c, &next)
		if !ok {
			// Every queue was empty when take looked at it; a frame queued
			// since then has signalled arrived after queuing.
			select {
			case <-t.arrived[c]:
				continue
			case <-ctx.Done():
				return
			}
		}
		if !t.awaitChannelRoom(ctx, ch, held, len(in.Data), t.chanBudget[c]) {
			return
		}
		select {
		case ch <- in:
			held.push(len(in.Data))
		case <-ctx.Done():
			return
		}
	}
}

// chanPoll is how often a dispatcher whose channel is over its byte budget
// looks whether the consumer has taken frames: a channel does not signal
// receives, and this happens only while the consumer is behind.
const chanPoll = time.Millisecond

// awaitChannelRoom waits until a frame of size bytes fits in ch within
// budget bytes, counting as still in ch the last len(ch) frames that held
// records as handed to it (the dispatcher is ch's only sender, so the
// frames the consumer has taken are the oldest ones). It reports false if
// ctx ended first.
func (t *Transport) awaitChannelRoom(ctx context.Context, ch chan Inbound, held *sizeRing, size int, budget int) bool {
	held.trim(len(ch))
	if held.n == 0 || held.sum+size <= budget {
		return true
	}
	tm := time.NewTicker(chanPoll)
	defer tm.Stop()
	for {
		select {
		case <-tm.C:
		case <-ctx.Done():
			return false
		}
		held.trim(len(ch))
		if held.n == 0 || held.sum+size <= budget {
			return true
		}
	}
}

// sizeRing records the sizes of the frames handed to a channel, oldest
// first.
type sizeRing struct {
	sizes   []int
	head, n int
	sum     int
}

func newSizeRing(capacity int) *sizeRing { return &sizeRing{sizes: make([]int, capacity)} }

func (r *sizeRing) push(size int) {
	if r.n == len(r.sizes) { // cannot happen: at most cap(ch)+1 are recorded
		r.trim(r.n - 1)
	}
	r.sizes[(r.head+r.n)%len(r.sizes)] = size
	r.n++
	r.sum += size
}

// trim forgets the oldest sizes until at most keep are left.
func (r *sizeRing) trim(keep int) {
	for r.n > keep {
		r.sum -= r.sizes[r.head]
		r.head = (r.head + 1) % len(r.sizes)
		r.n--
	}
}

// take removes the oldest frame of class c from the first peer, in turn
// from position *next, whose queue has one, and moves *next past that peer.
func (t *Transport) take(c Class, next *int) (Inbound, bool) {
	for i := range len(t.peers) {
		k := (*next + i) % len(t.peers)
		select {
		case in := <-t.peers[k].inq[c]:
			t.peers[k].releaseIn(c, int64(len(in.Data)))
			*next = (k + 1) % len(t.peers)
			return in, true
		default:
		}
	}
	return Inbound{}, false
}

// setIn records conn as p's inbound connection and closes the one it
// replaces: a validator that redials has lost its previous connection.
func (p *peer) setIn(conn net.Conn) {
	p.mu.Lock()
	old := p.in
	p.in = conn
	p.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (p *peer) clearIn(conn net.Conn) {
	p.mu.Lock()
	if p.in == conn {
		p.in = nil
	}
	p.mu.Unlock()
}
