package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	cmtquery "github.com/cometbft/cometbft/libs/pubsub/query"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/gorilla/websocket"
)

// GET /websocket carries JSON-RPC both ways: any method may be called on
// it (cosmjs's websocket client calls them all there), and subscribe,
// unsubscribe and unsubscribe_all only there. Events come as answers to
// the subscribe request: its id, and a result {query, data, events}.
//
// Each connection has one reader (this handler's goroutine), one writer,
// and at most maxInFlight calls running. What is sent waits in the
// connection's queue; each subscription may hold at most
// SubscriberBuffer events and SubscriberBytes bytes of it. An event that
// does not fit drops its subscription: the client is sent an error
// answer with the subscription's id (CometBFT's "subscription was
// canceled (reason: slow client)"), and may subscribe again. Nothing
// ever waits for a slow client but its own writer, whose writes time out
// after writeWait.

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4 << 10,
	WriteBufferSize: 16 << 10,
	// CometBFT accepts websockets from any origin, and browser clients
	// such as cosmjs's rely on it. The RPC listens on loopback unless
	// configured otherwise.
	CheckOrigin: func(*http.Request) bool { return true },
}

// wsConn is one websocket connection.
type wsConn struct {
	s      *Server
	c      *websocket.Conn
	client string
	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc
	calls  sync.WaitGroup // the writer and running calls
	sem    chan struct{}  // running calls

	mu        sync.Mutex
	queue     []outMsg
	respBytes int           // bytes of answers (not events) queued
	ready     chan struct{} // the queue has messages; capacity 1
	closed    bool
	subs      map[string]*subscription // by the query's canonical form
}

// outMsg is one queued message, in parts that are written one after the
// other (an event's data is shared by every subscription it goes to).
type outMsg struct {
	parts [][]byte
	size  int
	sub   *subscription // the subscription whose event this is; nil for an answer
}

// subscription is one query subscribed on a connection.
type subscription struct {
	conn    *wsConn
	query   string // as the client wrote it: events carry it back
	key     string // canonical form: what unsubscribe matches
	q       *cmtquery.Query
	id      json.RawMessage // the subscribe request's id: events carry it
	head    []byte          // the start of each event's answer, up to its data
	queued  int             // events queued, under conn.mu
	bytes   int             // their bytes, under conn.mu
	dropped bool            // under conn.mu
	seq     uint64          // set by the feed: the order of subscriptions
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		s.writeHTTPError(w, http.StatusMethodNotAllowed, codeInvalidRequest, "GET /websocket upgrades to a websocket")
		return
	}
	client := clientOf(r)
	s.mu.Lock()
	switch {
	case s.closing:
		s.mu.Unlock()
		s.writeHTTPError(w, http.StatusServiceUnavailable, codeServer, "the server is shutting down")
		return
	case len(s.conns)+s.pendingConns >= s.cfg.MaxConns:
		s.mu.Unlock()
		s.metrics.refused.WithLabelValues("connections").Inc()
		w.Header().Set("Retry-After", "5")
		s.writeHTTPError(w, http.StatusServiceUnavailable, codeServer, fmt.Sprintf("max websocket connections %d reached", s.cfg.MaxConns))
		return
	case s.clients[client] >= s.cfg.MaxConnsPerClient:
		s.mu.Unlock()
		s.metrics.refused.WithLabelValues("connections").Inc()
		w.Header().Set("Retry-After", "5")
		s.writeHTTPError(w, http.StatusTooManyRequests, codeServer, fmt.Sprintf("max websocket connections per client %d reached", s.cfg.MaxConnsPerClient))
		return
	}
	s.clients[client]++
	s.pendingConns++
	s.ws.Add(1) // under s.mu: never after Serve started to wait
	s.mu.Unlock()
	defer s.ws.Done()
	c, err := upgrader.Upgrade(w, r, nil) // on failure it has answered
	s.mu.Lock()
	s.pendingConns--
	if err != nil || s.closing {
		s.dropClient(client)
		s.mu.Unlock()
		if c != nil {
			c.Close()
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn := &wsConn{s: s, c: c, client: client, ctx: ctx, cancel: cancel, sem: make(chan struct{}, maxInFlight),
		ready: make(chan struct{}, 1), subs: make(map[string]*subscription)}
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	conn.run()
	s.mu.Lock()
	delete(s.conns, conn)
	s.dropClient(client)
	s.mu.Unlock()
}

// dropClient counts one connection of client less; s.mu is held.
func (s *Server) dropClient(client string) {
	if s.clients[client]--; s.clients[client] <= 0 {
		delete(s.clients, client)
	}
}

// closeConns closes every websocket and refuses new ones.
func (s *Server) closeConns() {
	s.mu.Lock()
	s.closing = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(time.Second))
		c.close()
	}
}

// run reads requests until the connection ends, then waits for its
// writer and calls.
func (c *wsConn) run() {
	c.calls.Go(c.writeLoop)
	c.c.SetReadLimit(c.s.cfg.MaxBodyBytes)
	c.c.SetReadDeadline(time.Now().Add(pongWait))
	c.c.SetPongHandler(func(string) error { return c.c.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		typ, msg, err := c.c.ReadMessage()
		if err != nil {
			break
		}
		c.c.SetReadDeadline(time.Now().Add(pongWait)) // it talks: it is there
		if typ != websocket.TextMessage && typ != websocket.BinaryMessage {
			continue
		}
		req, rerr := decodeRequest(msg)
		if rerr != nil {
			c.s.metrics.count("invalid", true)
			c.respond(response{ID: req.ID, Err: rerr})
			continue
		}
		if req.ID == nil {
			continue // a notification
		}
		if m, ok := methods[req.Method]; ok && m.ws {
			// Subscriptions run in order, so that an unsubscribe never
			// overtakes the subscribe before it.
			c.respond(c.s.call(c.ctx, req, c, nil, nil))
			continue
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
		}
		if c.ctx.Err() != nil {
			break
		}
		c.calls.Go(func() {
			defer func() { <-c.sem }()
			c.respond(c.s.call(c.ctx, req, c, nil, nil))
		})
	}
	c.close()
	c.calls.Wait()
}

// close ends the connection and its subscriptions; it may be called more
// than once.
func (c *wsConn) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.queue = nil
	subs := c.subs
	c.subs = nil
	c.mu.Unlock()
	c.cancel()
	for _, sub := range subs {
		c.s.feed.remove(sub)
	}
	c.c.Close()
}

// push queues m; c.mu is held.
func (c *wsConn) push(m outMsg) {
	c.queue = append(c.queue, m)
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// respond queues an answer. A client that lets answers pile up beyond
// SubscriberBytes without reading them is disconnected.
func (c *wsConn) respond(r response) {
	b := r.appendJSON(nil)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.respBytes > 0 && c.respBytes+len(b) > c.s.cfg.SubscriberBytes {
		c.mu.Unlock()
		c.s.log.Info("rpc: closing a websocket whose client does not read its answers", "client", c.client)
		c.close()
		return
	}
	c.respBytes += len(b)
	c.push(outMsg{parts: [][]byte{b}, size: len(b)})
	c.mu.Unlock()
}

// Event answers are head + data + eventsPart + attributes + tail.
var (
	eventsPart = []byte(`,"events":`)
	tail       = []byte(`}}`)
)

// deliverEvent queues one event for sub without waiting. When sub's
// share of the queue is full, sub is dropped with a notice instead.
func (c *wsConn) deliverEvent(sub *subscription, data, attrs []byte) {
	size := len(sub.head) + len(data) + len(eventsPart) + len(attrs) + len(tail)
	c.mu.Lock()
	if c.closed || sub.dropped || c.subs[sub.key] != sub {
		c.mu.Unlock()
		return
	}
	cfg := c.s.cfg
	if sub.queued >= cfg.SubscriberBuffer || (sub.queued > 0 && sub.bytes+size > cfg.SubscriberBytes) {
		sub.dropped = true
		delete(c.subs, sub.key)
		notice := response{ID: sub.id, Err: newError(codeServer, "subscription was canceled (reason: slow client)")}.appendJSON(nil)
		c.push(outMsg{parts: [][]byte{notice}}) // beyond the share: it must reach the client
		queued := sub.queued
		c.mu.Unlock()
		c.s.feed.remove(sub)
		c.s.metrics.dropped.Inc()
		c.s.log.Info("rpc: dropped a slow subscriber", "client", c.client, "query", sub.query, "queued", queued)
		return
	}
	sub.queued++
	sub.bytes += size
	c.push(outMsg{parts: [][]byte{sub.head, data, eventsPart, attrs, tail}, size: size, sub: sub})
	c.mu.Unlock()
}

// pop takes the oldest queued message.
func (c *wsConn) pop() (outMsg, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queue) == 0 {
		c.queue = nil // let a large backing array go
		return outMsg{}, false
	}
	m := c.queue[0]
	c.queue[0] = outMsg{}
	c.queue = c.queue[1:]
	return m, true
}

// sent releases what m held of the queue's bounds.
func (c *wsConn) sent(m outMsg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.sub != nil {
		m.sub.queued--
		m.sub.bytes -= m.size
	} else {
		c.respBytes -= m.size
	}
}

func (c *wsConn) writeLoop() {
	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ping.C:
			if err := c.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close()
				return
			}
		case <-c.ready:
			for {
				m, ok := c.pop()
				if !ok {
					break
				}
				if err := c.write(m); err != nil {
					c.s.log.Debug("rpc: websocket write failed", "client", c.client, "err", err)
					c.close()
					return
				}
				c.sent(m)
			}
		}
	}
}

func (c *wsConn) write(m outMsg) error {
	c.c.SetWriteDeadline(time.Now().Add(writeWait))
	w, err := c.c.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for _, p := range m.parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return w.Close()
}

// subscribe adds a subscription for query on this connection.
func (c *wsConn) subscribe(query string, q *cmtquery.Query, id json.RawMessage) error {
	head := append([]byte(`{"jsonrpc":"2.0","id":`), id...)
	qs, _ := json.Marshal(query)
	head = append(append(append(head, `,"result":{"query":`...), qs...), `,"data":`...)
	sub := &subscription{conn: c, query: query, key: q.String(), q: q, id: id, head: head}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return errors.New("connection closed")
	case c.subs[sub.key] != nil:
		c.mu.Unlock()
		return errors.New("already subscribed")
	case len(c.subs) >= c.s.cfg.MaxPerConn:
		c.mu.Unlock()
		c.s.metrics.refused.WithLabelValues("subscribers").Inc()
		return fmt.Errorf("max_subscriptions_per_client %d reached", c.s.cfg.MaxPerConn)
	}
	c.subs[sub.key] = sub
	c.mu.Unlock()
	if err := c.s.feed.add(sub); err != nil {
		c.mu.Lock()
		if c.subs[sub.key] == sub {
			delete(c.subs, sub.key)
		}
		c.mu.Unlock()
		return err
	}
	c.mu.Lock()
	gone := c.closed || c.subs[sub.key] != sub // closed meanwhile
	c.mu.Unlock()
	if gone {
		c.s.feed.remove(sub)
	}
	return nil
}

// unsubscribe removes the subscriptions of key, or all of them for "".
func (c *wsConn) unsubscribe(key string, all bool) error {
	c.mu.Lock()
	var gone []*subscription
	for k, sub := range c.subs {
		if all || k == key {
			gone = append(gone, sub)
			delete(c.subs, k)
		}
	}
	c.mu.Unlock()
	if len(gone) == 0 {
		return errors.New("subscription not found")
	}
	for _, sub := range gone {
		c.s.feed.remove(sub)
	}
	return nil
}

func subscribe(c *callCtx, p params) (any, error) {
	q := p.string("query")
	parsed, err := parseQuery(q)
	if err != nil {
		return nil, err
	}
	if err := c.conn.subscribe(q, parsed, c.id); err != nil {
		return nil, err
	}
	return &ctypes.ResultSubscribe{}, nil
}

func unsubscribe(c *callCtx, p params) (any, error) {
	parsed, err := parseQuery(p.string("query"))
	if err != nil {
		return nil, err
	}
	if err := c.conn.unsubscribe(parsed.String(), false); err != nil {
		return nil, err
	}
	return &ctypes.ResultUnsubscribe{}, nil
}

func unsubscribeAll(c *callCtx, _ params) (any, error) {
	if err := c.conn.unsubscribe("", true); err != nil {
		return nil, err
	}
	return &ctypes.ResultUnsubscribe{}, nil
}

// clientOf names the client a request comes from, as the API does: its
// IP address, or for IPv6 its /64.
func clientOf(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
