package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/strategos/strategos/internal/app/apps"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/events"
	"github.com/strategos/strategos/internal/node"
	"github.com/strategos/strategos/internal/testbin"
)

// sse is one Server-Sent Event as read off the wire, decoded.
type sse struct {
	id      uint64
	comment string
	data    map[string]any
	raw     string
}

func (e sse) typ() string { return fmt.Sprint(e.data["type"]) }
func (e sse) str(k string) string {
	s, _ := e.data[k].(string)
	return s
}
func (e sse) num(k string) (uint64, bool) {
	f, ok := e.data[k].(float64)
	return uint64(f), ok
}

// stream reads an event stream in the background.
type stream struct {
	body   io.Closer
	events chan sse
}

// readStream parses r as text/event-stream: comment lines, then events of
// one id line and one data line holding one JSON object whose seq is the
// id. A malformed event fails the test.
func readStream(t *testing.T, body io.ReadCloser) *stream {
	s := &stream{body: body, events: make(chan sse, 1<<16)}
	go func() {
		defer close(s.events)
		r := bufio.NewReader(body)
		var cur sse
		var lines []string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line != "" {
				lines = append(lines, line)
				switch {
				case strings.HasPrefix(line, ": "):
					cur.comment = line[2:]
				case strings.HasPrefix(line, "id: "):
					cur.id, err = strconv.ParseUint(line[4:], 10, 64)
				case strings.HasPrefix(line, "data: "):
					if cur.data != nil {
						err = fmt.Errorf("two data lines")
					} else if err = json.Unmarshal([]byte(line[6:]), &cur.data); err == nil && cur.data == nil {
						err = fmt.Errorf("data is not an object")
					}
					cur.raw = line[6:]
				default:
					err = fmt.Errorf("unexpected line")
				}
				if err != nil {
					t.Errorf("event stream: %q: %v", line, err)
					return
				}
				continue
			}
			if cur.data != nil {
				if seq, ok := cur.num("seq"); !ok || seq != cur.id || cur.data["type"] == nil {
					t.Errorf("event %v: id %d, want seq and type, seq equal to the id", lines, cur.id)
				}
			} else if cur.comment == "" || cur.id != 0 {
				t.Errorf("event stream: block %q is neither an event nor a comment", lines)
			}
			s.events <- cur
			cur, lines = sse{}, nil
		}
	}()
	return s
}

// next returns the next event (comments included), failing after within.
func (s *stream) next(t *testing.T, within time.Duration) sse {
	t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return e
	case <-time.After(within):
		t.Fatalf("no event within %v", within)
	}
	return sse{}
}

// openStream subscribes to GET /v1/events and checks the answer's headers.
func openStream(t *testing.T, base string) *stream {
	t.Helper()
	resp, err := http.Get(base + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /v1/events: %d %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control %q", cc)
	}
	s := readStream(t, resp.Body)
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// The stream serves a running validator's events as they happen, one
// JSON object per data line, in protocol order.
func TestEventsStream(t *testing.T) {
	n, srv := oneNode(t, "kv")
	s := openStream(t, srv.URL)
	if first := s.next(t, 5*time.Second); first.comment == "" || first.data != nil {
		t.Fatalf("the stream does not open with a comment: %+v", first)
	}
	at := map[string]int{} // "type block" or "round N" -> index of its first event
	var got []sse
	for {
		e := s.next(t, 10*time.Second)
		if e.data == nil {
			continue
		}
		if node, ok := e.num("node"); !ok || node != 0 {
			t.Fatalf("event %s does not name node 0", e.raw)
		}
		key := e.typ() + " " + e.str("block_hash")
		if e.typ() == "round" {
			r, _ := e.num("round")
			key = fmt.Sprintf("round %d", r)
		}
		if _, ok := at[key]; !ok {
			at[key] = len(got)
		}
		got = append(got, e)
		if e.typ() != "commit" {
			continue
		}
		h := e.str("block_hash")
		p, ok := at["proposal "+h]
		if !ok {
			continue // proposed before the subscription
		}
		// A single validator leads every round, votes for its own
		// proposal, forms the QC alone, and commits.
		v, vok := at["vote "+h]
		q, qok := at["qc "+h]
		r, _ := got[p].num("round")
		ro, rok := at[fmt.Sprintf("round %d", r)]
		if !rok {
			continue // its round began before the subscription
		}
		if !vok || !qok || !(ro < p && p < v && v < q && q < len(got)-1) {
			t.Fatalf("block %s: round at %d, proposal at %d, vote at %d, qc at %d, commit at %d: %v", h, ro, p, v, q, len(got)-1, got)
		}
		if height, _ := e.num("height"); height == 0 || height > n.Status().Height {
			t.Fatalf("commit of height %d, node at %d", height, n.Status().Height)
		}
		return
	}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address 127.0.0.last: to the node, a client of its own.
func clientFrom(last byte) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, last)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// subscribe opens a stream as c; it fails the test unless the node
// answers want. The body of a 200 is kept open until the test ends.
func subscribe(t *testing.T, c *http.Client, url string, want int) reply {
	t.Helper()
	resp, err := c.Get(url + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		t.Cleanup(func() { resp.Body.Close() })
		if want != http.StatusOK {
			t.Fatalf("subscription answered 200, want %d", want)
		}
		return reply{code: resp.StatusCode}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, raw: raw}
	if err := json.Unmarshal(raw, &r.m); err != nil || resp.StatusCode != want {
		t.Fatalf("subscription answered %d %q, want %d", resp.StatusCode, raw, want)
	}
	return r
}

// Beyond the limit, a subscriber is refused with 503 and a JSON error;
// one that leaves frees its slot.
func TestEventsSubscriberLimit(t *testing.T) {
	n, srv := oneNode(t, "kv")
	var bodies []io.ReadCloser
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	per := events.DefaultMaxPerClient
	for i := range events.DefaultMaxSubscribers {
		resp, err := clientFrom(byte(10 + i/per)).Get(srv.URL + "/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("subscriber %d refused: %d", len(bodies), resp.StatusCode)
		}
	}
	r := call(t, http.MethodGet, srv.URL+"/v1/events", nil)
	wantErr(t, "one subscriber too many", r, http.StatusServiceUnavailable, "too many subscribers")
	bodies[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for n.Events().Subscribers() >= events.DefaultMaxSubscribers {
		if time.Now().After(deadline) {
			t.Fatal("a subscriber that left still holds its slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := openStream(t, srv.URL)
	s.next(t, 5*time.Second)
}

// One client (one remote address) holds at most DefaultMaxPerClient
// streams; beyond that it is answered 429 with a JSON error, counted in
// strategos_events_refused_total{reason="client"}, and another client
// still subscribes and receives events.
func TestEventsPerClientLimit(t *testing.T) {
	n, srv := oneNode(t, "kv")
	hog := clientFrom(2)
	for range events.DefaultMaxPerClient {
		subscribe(t, hog, srv.URL, http.StatusOK)
	}
	for range 3 {
		r := subscribe(t, hog, srv.URL, http.StatusTooManyRequests)
		checkErr(t, "one stream too many from one client", r.m, "too many subscribers from this client")
	}
	if _, client := n.Events().Refused(); client != 3 {
		t.Errorf("%d per-client refusals counted, want 3", client)
	}
	mr, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(mr.Body)
	mr.Body.Close()
	if want := `strategos_events_refused_total{reason="client"} 3`; !strings.Contains(string(metrics), want) {
		t.Errorf("metrics lack %s", want)
	}
	resp, err := clientFrom(3).Get(srv.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("another client refused: %d", resp.StatusCode)
	}
	s := readStream(t, resp.Body)
	defer s.body.Close()
	s.next(t, 20*time.Second)
}

// fastNode runs a single validator that commits a block per tick, so its
// stream is fast, with the given event limits, and serves its API on srv
// (not started).
func fastNode(t *testing.T, ec events.Config) (*node.Node, http.Handler) {
	t.Helper()
	dir := t.TempDir()
	h, err := testbin.OneValidator(dir, "kv")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.Node.Peers[0].Addr, h.Node.P2PListen = ln.Addr().String(), ln.Addr().String()
	h.Node.EmptyBlockTicks = 1
	n, err := node.New(node.Options{Home: h, App: apps.For(h, nil), Listener: ln, Events: ec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return n, Handler(n, nil)
}

// smallBuffers gives accepted connections a small send buffer, so that a
// client that stops reading blocks its handler soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// A TCP client that stops reading does not block the node: heights go on,
// another subscriber keeps receiving, and when the stalled client reads
// again it is told, in the stream, how many events it missed.
func TestEventsStalledClient(t *testing.T) {
	n, h := fastNode(t, events.Config{Buffer: 32})
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = smallBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close) // after the streams' cleanups close their bodies

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(conn, "GET /v1/events HTTP/1.1\r\nHost: node\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	live := openStream(t, srv.URL)

	// The stalled client reads nothing until its handler is stuck and its
	// buffer in the broker overflowed.
	deadline := time.Now().Add(30 * time.Second)
	for n.Events().Dropped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled client's events were never dropped")
		}
		time.Sleep(5 * time.Millisecond)
	}
	height := n.Status().Height
	for {
		e := live.next(t, 10*time.Second)
		if h, _ := e.num("height"); e.typ() == "commit" && h >= height+20 {
			break
		}
	}
	if got := n.Status().Height; got < height+20 {
		t.Fatalf("height went from %d to %d while a client stalled", height, got)
	}

	// It reads again: the events held for it, then the dropped notice.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stalled client: %d", resp.StatusCode)
	}
	stalled := readStream(t, resp.Body)
	var last uint64
	for {
		e := stalled.next(t, 10*time.Second)
		if e.data == nil {
			continue
		}
		if e.typ() != "dropped" {
			if last != 0 && e.id != last+1 {
				t.Fatalf("silent gap in the stream: seq %d after %d", e.id, last)
			}
			last = e.id
			continue
		}
		count, _ := e.num("count")
		if count == 0 || (last != 0 && e.id-last != count) {
			t.Fatalf("dropped event %s after seq %d: its count is not the gap", e.raw, last)
		}
		break
	}
}

// Shutting the server down ends its streams: http.Server.Shutdown by itself
// would wait for them in vain.
func TestEventsEndOnShutdown(t *testing.T) {
	tn := startNode(t, "kv")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- Serve(ctx, ln, tn.h) }()
	s := openStream(t, "http://"+ln.Addr().String())
	for s.next(t, 10*time.Second).data == nil {
	}
	cancel()
	deadline := time.After(3 * time.Second)
	for ended := false; !ended; {
		select {
		case _, ok := <-s.events:
			ended = !ok
		case <-deadline:
			t.Fatal("the stream outlived the server's shutdown")
		}
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
