package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/events"
)

// GET /v1/events streams the node's live events as Server-Sent Events: one
// event per "id: <seq>" and "data: <one line of JSON>" pair, no "event:"
// line (so a browser's EventSource.onmessage receives every type), and a
// ": ping" comment after 15 s of silence so that proxies keep the
// connection open. The stream ends when the client goes, when the server
// shuts down, or when a client stops accepting data for eventWriteTimeout.
//
// The handler only drains its subscription: when it cannot write fast
// enough, its buffer in the broker fills and events are dropped for it
// alone (and announced), never held up in the node.
const (
	pingEvery         = 15 * time.Second
	eventWriteTimeout = 30 * time.Second
	maxEventBatch     = 64 << 10 // bytes of queued events written with one flush
)

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	sub, err := s.b.Events().SubscribeFrom(clientOf(r))
	if err != nil {
		w.Header().Set("Retry-After", "5")
		code := http.StatusServiceUnavailable // the node is full
		if errors.Is(err, events.ErrClientLimit) {
			code = http.StatusTooManyRequests // this client is
		}
		writeErr(w, code, err.Error())
		return
	}
	defer sub.Close()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(b []byte) bool {
		rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)) // not every ResponseWriter supports it
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte(": connected\n\n")) { // the client sees the stream open at once
		return
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	closing := closingOf(r.Context())
	var buf []byte
	for {
		select {
		case <-r.Context().Done():
			return
		case <-closing:
			return
		case <-ping.C:
			buf = append(buf[:0], ": ping\n\n"...)
		case m, ok := <-sub.C():
			if !ok {
				return
			}
			buf = appendEvent(buf[:0], m)
		more: // what else is queued goes out with the same flush
			for len(buf) < maxEventBatch {
				select {
				case m, ok := <-sub.C():
					if !ok {
						break more
					}
					buf = appendEvent(buf, m)
				default:
					break more
				}
			}
		}
		if !send(buf) {
			return
		}
		ping.Reset(pingEvery)
	}
}

// clientOf names the client a request comes from, for the per-client
// limit on event streams: its IP address, or for IPv6 its /64 (one host
// commonly holds a whole /64, so single addresses would cost it nothing).
// A proxy in front of the node makes all its clients one; that is the
// safe side.
func clientOf(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr // not host:port (a test's recorder): one client per string
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func appendEvent(b []byte, m events.Message) []byte {
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, m.Seq, 10)
	b = append(b, "\ndata: "...)
	b = append(b, m.Data...)
	return append(b, "\n\n"...)
}

// closingKey is the context key of a channel that closes when the server
// starts shutting down. http.Server.Shutdown waits for requests to finish
// but does not cancel them, and a stream never finishes by itself.
type closingKey struct{}

// endStreamsOnShutdown makes srv's streams end when it shuts down, without
// cancelling its other requests (which Shutdown lets finish).
func endStreamsOnShutdown(srv *http.Server) {
	closing := make(chan struct{})
	var once sync.Once
	srv.RegisterOnShutdown(func() { once.Do(func() { close(closing) }) })
	base := srv.BaseContext
	srv.BaseContext = func(ln net.Listener) context.Context {
		ctx := context.Background()
		if base != nil {
			ctx = base(ln)
		}
		return context.WithValue(ctx, closingKey{}, (<-chan struct{})(closing))
	}
}

// closingOf returns the request's shutdown channel; nil, which never
// fires, when the server does not provide one (httptest servers).
func closingOf(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(closingKey{}).(<-chan struct{})
	return ch
}
