package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
	"github.com/gorilla/websocket"

	"github.com/strategos/strategos/internal/chain"
)

// wsClient is a test's websocket connection to the RPC.
type wsClient struct {
	t testing.TB
	c *websocket.Conn
}

func dialWS(t testing.TB, base string) *wsClient {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/websocket", nil)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, code)
	}
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) send(id int, method string, params any) {
	w.t.Helper()
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		req["params"] = params
	}
	if err := w.c.WriteJSON(req); err != nil {
		w.t.Fatal(err)
	}
}

// read returns the next message, or fails the test after timeout.
func (w *wsClient) read(timeout time.Duration) wire {
	w.t.Helper()
	w.c.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := w.c.ReadMessage()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return decodeWire(w.t, b)
}

// answer waits for the answer to request id, skipping events (which
// carry a query).
func (w *wsClient) answer(id int) wire {
	w.t.Helper()
	for {
		m := w.read(5 * time.Second)
		if string(m.ID) != fmt.Sprint(id) {
			continue
		}
		var ev struct {
			Query *string `json:"query"`
		}
		json.Unmarshal(m.Result, &ev)
		if ev.Query == nil {
			return m
		}
	}
}

func (w *wsClient) subscribe(id int, query string) {
	w.t.Helper()
	w.send(id, "subscribe", map[string]any{"query": query})
	if m := w.answer(id); m.Error != nil || string(m.Result) != "{}" {
		w.t.Fatalf("subscribe %q: %+v %s", query, m.Error, m.Result)
	}
}

// event reads the next event, checks its id and query, and decodes it as
// CometBFT's Go client does.
func (w *wsClient) event(id int, query string) *ctypes.ResultEvent {
	w.t.Helper()
	m := w.read(5 * time.Second)
	if m.Error != nil {
		w.t.Fatalf("error instead of an event: %+v", *m.Error)
	}
	if string(m.ID) != fmt.Sprint(id) {
		w.t.Fatalf("event with id %s, want the subscription's %d", m.ID, id)
	}
	ev := result[ctypes.ResultEvent](w.t, m.Result)
	if ev.Query != query {
		w.t.Fatalf("event of query %q, want %q", ev.Query, query)
	}
	return ev
}

func TestSubscribeNewBlock(t *testing.T) {
	f := newFake(t, 4)
	f.commit()
	_, base := serve(t, f, Config{})
	w := dialWS(t, base)
	const q = "tm.event='NewBlock'"
	w.subscribe(1, q)
	b2, h2 := f.commit([]byte("a=1"))
	_, h3 := f.commit()
	for i, h := range []chain.Hash{h2, h3} {
		ev := w.event(1, q)
		nb, ok := ev.Data.(types.EventDataNewBlock)
		if !ok {
			t.Fatalf("event data %T, want NewBlock", ev.Data)
		}
		if nb.Block.Height != int64(i+2) || !bytes.Equal(nb.BlockID.Hash, h[:]) {
			t.Errorf("event %d: block %d %X", i, nb.Block.Height, nb.BlockID.Hash)
		}
		if got := ev.Events[types.EventTypeKey]; len(got) != 1 || got[0] != types.EventNewBlock {
			t.Errorf("events %v", ev.Events)
		}
		if i == 0 {
			if len(nb.Block.Txs) != 1 || len(nb.ResultFinalizeBlock.TxResults) != 1 || string(nb.ResultFinalizeBlock.AppHash) != "apphash-2" {
				t.Errorf("block 2's event: %d txs, results %v", len(nb.Block.Txs), nb.ResultFinalizeBlock)
			}
			// The block is the one the block method answers.
			full := result[ctypes.ResultBlock](t, call(t, base, "block", map[string]any{"height": "2"}))
			a, _ := cmtjson.Marshal(full.Block)
			b, _ := cmtjson.Marshal(nb.Block)
			if !bytes.Equal(a, b) {
				t.Errorf("the event's block differs from block 2")
			}
			_ = b2
		}
	}
}

func TestSubscribeTx(t *testing.T) {
	f := newFake(t, 1)
	_, base := serve(t, f, Config{})
	w := dialWS(t, base)
	const all = "tm.event='Tx'"
	const at3 = "tm.event='Tx' AND tx.height=3"
	w.subscribe(1, all)
	w.subscribe(2, at3)
	f.commit([]byte("a=1"))
	f.commit([]byte("b=1"), []byte("fail=2"))
	f.commit([]byte("c=1"))
	want := []struct {
		id     int
		query  string
		height int64
		index  uint32
		tx     string
		code   uint32
	}{
		{1, all, 1, 0, "a=1", 0}, {1, all, 2, 0, "b=1", 0}, {1, all, 2, 1, "fail=2", 9},
		{1, all, 3, 0, "c=1", 0}, {2, at3, 3, 0, "c=1", 0},
	}
	for _, wt := range want {
		ev := w.event(wt.id, wt.query)
		d, ok := ev.Data.(types.EventDataTx)
		if !ok {
			t.Fatalf("event data %T, want Tx", ev.Data)
		}
		if d.Height != wt.height || d.Index != wt.index || string(d.Tx) != wt.tx || d.Result.Code != wt.code {
			t.Errorf("tx event %+v, want %+v", d.TxResult, wt)
		}
		h := chain.TxHash(d.Tx)
		if got := ev.Events[types.TxHashKey]; len(got) != 1 || got[0] != fmt.Sprintf("%X", h[:]) {
			t.Errorf("tx.hash %v", got)
		}
		if got := ev.Events[types.TxHeightKey]; len(got) != 1 || got[0] != fmt.Sprint(wt.height) {
			t.Errorf("tx.height %v", got)
		}
	}
	// Waiting for one transaction, as broadcast_tx_commit's clients do.
	h := chain.TxHash([]byte("d=1"))
	byHash := fmt.Sprintf("tm.event='Tx' AND tx.hash='%X'", h[:])
	w.subscribe(3, byHash)
	f.commit([]byte("e=1"), []byte("d=1"))
	for {
		ev := w.read(5 * time.Second)
		if string(ev.ID) == "3" {
			d := result[ctypes.ResultEvent](t, ev.Result).Data.(types.EventDataTx)
			if string(d.Tx) != "d=1" {
				t.Errorf("query by hash matched %q", d.Tx)
			}
			break
		}
	}
}

func TestUnsubscribe(t *testing.T) {
	f := newFake(t, 1)
	s, base := serve(t, f, Config{})
	w := dialWS(t, base)
	w.subscribe(1, "tm.event='NewBlock'")
	w.subscribe(2, "tm.event = 'Tx'")
	w.send(3, "subscribe", map[string]any{"query": "tm.event='NewBlock'"})
	if m := w.answer(3); m.Error == nil || !strings.Contains(m.Error.Data, "already subscribed") {
		t.Errorf("subscribing twice: %+v", m)
	}
	// unsubscribe matches the query, however it is written.
	w.send(4, "unsubscribe", map[string]any{"query": "tm.event = 'NewBlock'"})
	if m := w.answer(4); m.Error != nil || string(m.Result) != "{}" {
		t.Errorf("unsubscribe: %+v", m)
	}
	w.send(5, "unsubscribe", map[string]any{"query": "tm.event='NewBlock'"})
	if m := w.answer(5); m.Error == nil || !strings.Contains(m.Error.Data, "subscription not found") {
		t.Errorf("unsubscribing twice: %+v", m)
	}
	w.send(6, "unsubscribe_all", nil)
	if m := w.answer(6); m.Error != nil {
		t.Errorf("unsubscribe_all: %+v", m)
	}
	w.send(7, "unsubscribe_all", nil)
	if m := w.answer(7); m.Error == nil {
		t.Errorf("unsubscribe_all of nothing: %+v", m)
	}
	if s.feed.active() {
		t.Error("the feed still has subscribers")
	}
	w.send(8, "subscribe", map[string]any{"query": "tm.event='"})
	if m := w.answer(8); m.Error == nil || !strings.Contains(m.Error.Data, "failed to parse query") {
		t.Errorf("a bad query: %+v", m)
	}
	w.send(9, "subscribe", map[string]any{"query": "tx.height=" + strings.Repeat("1", maxQueryLength)})
	if m := w.answer(9); m.Error == nil || !strings.Contains(m.Error.Data, "maximum query length exceeded") {
		t.Errorf("a long query: %+v", m)
	}
	// No event comes after unsubscribing.
	f.commit([]byte("a=1"))
	w.send(10, "health", nil)
	if m := w.read(5 * time.Second); string(m.ID) != "10" {
		t.Errorf("after unsubscribing, got %s %s", m.ID, clipBytes(m.Result))
	}
}

// Every method may be called over the websocket; answers carry the id.
func TestCallsOverWebsocket(t *testing.T) {
	f := newFake(t, 1)
	f.commit([]byte("a=1"))
	_, base := serve(t, f, Config{})
	w := dialWS(t, base)
	w.send(1, "status", nil)
	if m := w.answer(1); m.Error != nil || result[ctypes.ResultStatus](t, m.Result).SyncInfo.LatestBlockHeight != 1 {
		t.Errorf("status: %+v", m)
	}
	w.send(2, "block", map[string]any{"height": "1"})
	if m := w.answer(2); m.Error != nil {
		t.Errorf("block: %+v", m.Error)
	}
	w.c.WriteMessage(websocket.TextMessage, []byte("{nonsense"))
	if m := w.read(5 * time.Second); m.Error == nil || m.Error.Code != codeParse {
		t.Errorf("nonsense: %+v", m)
	}
	w.send(3, "nosuch", nil)
	if m := w.answer(3); m.Error == nil || m.Error.Code != codeNoMethod {
		t.Errorf("unknown method: %+v", m)
	}
}

func TestSubscriptionLimits(t *testing.T) {
	f := newFake(t, 1)
	s, base := serve(t, f, Config{MaxPerConn: 2, MaxSubscribers: 3})
	a := dialWS(t, base)
	a.subscribe(1, "tm.event='NewBlock'")
	a.subscribe(2, "tm.event='Tx'")
	a.send(3, "subscribe", map[string]any{"query": "tm.event='NewBlockHeader'"})
	if m := a.answer(3); m.Error == nil || !strings.Contains(m.Error.Data, "max_subscriptions_per_client 2 reached") {
		t.Errorf("a third subscription on one connection: %+v", m)
	}
	b := dialWS(t, base)
	b.subscribe(1, "tm.event='NewBlock'")
	b.send(2, "subscribe", map[string]any{"query": "tm.event='Tx'"})
	if m := b.answer(2); m.Error == nil || !strings.Contains(m.Error.Data, "max_subscription_clients 3 reached") {
		t.Errorf("a fourth subscription in all: %+v", m)
	}
	// A broadcast_tx_commit waits in a subscriber slot too.
	if e := callErr(t, base, "broadcast_tx_commit", map[string]any{"tx": b64([]byte("k=v"))}); !strings.Contains(e.Data, "max_subscription_clients 3 reached") {
		t.Errorf("broadcast_tx_commit with every slot taken: %+v", e)
	}
	if got := metricValue(s.metrics.subscribers); got != 3 {
		t.Errorf("strategos_rpc_subscribers %v, want 3", got)
	}
	if got := metricValue(s.metrics.refused.WithLabelValues("subscribers")); got != 3 {
		t.Errorf("refused subscriptions %v, want 3", got)
	}
	// Closing a connection frees its slots.
	a.c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for metricValue(s.metrics.subscribers) != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.subscribe(3, "tm.event='Tx'")
}

func TestConnectionLimits(t *testing.T) {
	_, base := serve(t, newFake(t, 1), Config{MaxConns: 2, MaxConnsPerClient: 1})
	dialWS(t, base)
	url := "ws" + strings.TrimPrefix(base, "http") + "/websocket"
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second connection from one client: %v %v, want 429", err, resp)
	}
	_, base2 := serve(t, newFake(t, 1), Config{MaxConns: 1})
	dialWS(t, base2)
	_, resp, err = websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base2, "http")+"/websocket", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection beyond the limit: %v %v, want 503", err, resp)
	}
}

// A subscriber that does not read is dropped with a notice, while the
// others get every event and the node is never held up.
func TestSlowSubscriberDropped(t *testing.T) {
	f := newFake(t, 1)
	s, base := serve(t, f, Config{SubscriberBuffer: 8, SubscriberBytes: 4 << 20})
	const q = "tm.event='NewBlock'"
	// The slow client takes little into its socket: its share of the
	// queue fills once the server's send buffer has.
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(64 << 10)
		}
		return c, err
	}}
	sc, _, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	slow := &wsClient{t: t, c: sc}
	slow.subscribe(1, q)
	fast := dialWS(t, base)
	fast.subscribe(1, q)
	heightOf := regexp.MustCompile(`"chain_id":"fake-chain","height":"([0-9]+)"`)
	got := make(chan string, 200)
	go func() {
		defer close(got)
		for {
			fast.c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, b, err := fast.c.ReadMessage()
			if err != nil {
				return
			}
			if m := heightOf.FindSubmatch(b); m != nil {
				got <- string(m[1])
			} else {
				got <- "not an event: " + clipBytes(b)
			}
		}
	}()
	// Blocks of 256 KiB, each once the fast client has the one before:
	// it keeps up however slow the machine, while the slow client's
	// socket buffers, then its share of the queue, fill.
	big := bytes.Repeat([]byte("x"), 256<<10)
	const blocks = 60
	for i := range blocks {
		start := time.Now()
		f.commit(append([]byte(fmt.Sprintf("%d=", i)), big...))
		if d := time.Since(start); d > time.Second {
			t.Errorf("a commit took %v: the node waited for the RPC", d)
		}
		select {
		case h, ok := <-got:
			if !ok || h != fmt.Sprint(i+1) {
				t.Fatalf("the fast subscriber got %q (open %v), want block %d", h, ok, i+1)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("the fast subscriber did not get block %d", i+1)
		}
	}
	if got := metricValue(s.metrics.dropped); got != 1 {
		t.Fatalf("strategos_rpc_subscribers_dropped_total %v, want 1", got)
	}
	// The slow client, reading at last, finds the notice after what was
	// queued for it.
	for {
		m := slow.read(10 * time.Second)
		if m.Error != nil {
			if string(m.ID) != "1" || m.Error.Code != codeServer || !strings.Contains(m.Error.Data, "slow client") {
				t.Errorf("notice %+v", m)
			}
			break
		}
	}
	// It may subscribe again.
	slow.subscribe(2, q)
}

func TestShutdownClosesWebsockets(t *testing.T) {
	s, base := serve(t, newFake(t, 1), Config{})
	w := dialWS(t, base)
	w.subscribe(1, "tm.event='NewBlock'")
	s.closeConns()
	w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := w.c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("after shutdown: %v, want a close frame (going away)", err)
	}
	if s.feed.active() {
		t.Error("subscriptions outlived their connection")
	}
}
