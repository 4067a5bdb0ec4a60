package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeComet imitates what a run uses of a CometBFT v0.38 JSON-RPC
// endpoint, with its JSON shapes (64-bit numbers as strings, transactions
// base64): broadcast_tx_async in batches, status, validators and block.
// Every status call cuts a block of the transactions accepted since the
// last one (so the run's own polls drive the chain, with no clock), plus
// one transaction that is not the run's. Every busyEvery-th transaction
// is refused as a full mempool, every rejectEvery-th for another reason,
// and every dropEvery-th is accepted and then never committed (as when
// CheckTx refuses it after broadcast_tx_async answered). With frozen set
// no block is cut. A batch is answered after delay, so that some are in
// flight when the load stops: they are taken, and their transactions
// must not come back as foreign.
type fakeComet struct {
	busyEvery, rejectEvery, dropEvery int
	frozen                            bool
	delay                             time.Duration

	mu       sync.Mutex
	seen     map[string]bool // every transaction offered
	lines    int
	pending  [][]byte
	blocks   [][][]byte
	accepted int
	dups     int         // transactions offered twice (must stay 0)
	badForm  int         // not key=value as kvstore's CheckTx wants (must stay 0)
	batches  map[int]int // batches per endpoint
	notTen   int         // batches of another size than 10 (must stay 0)
}

func newFakeComet() *fakeComet {
	return &fakeComet{seen: map[string]bool{}, batches: map[int]int{}}
}

type fakeReq struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type fakeAnswer struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// answer handles one request; the lock is held.
func (c *fakeComet) answer(q fakeReq) fakeAnswer {
	a := fakeAnswer{JSONRPC: "2.0", ID: q.ID}
	internal := func(data string) *rpcError { return &rpcError{Code: -32603, Message: "Internal error", Data: data} }
	switch q.Method {
	case "status":
		if !c.frozen {
			blk := append(c.pending, []byte(fmt.Sprintf("other-%d=x", len(c.blocks))))
			c.blocks = append(c.blocks, blk)
			c.pending = nil
		}
		a.Result = map[string]any{
			"node_info": map[string]any{"network": "fake-comet"},
			"sync_info": map[string]any{"latest_block_height": strconv.Itoa(len(c.blocks))},
		}
	case "validators":
		a.Result = map[string]any{"block_height": strconv.Itoa(len(c.blocks)), "count": "4", "total": "4"}
	case "block":
		var p struct {
			Height string `json:"height"`
		}
		json.Unmarshal(q.Params, &p)
		h, _ := strconv.Atoi(p.Height)
		if h < 1 || h > len(c.blocks) {
			a.Error = internal(fmt.Sprintf("height %d must be less than or equal to the current blockchain height %d", h, len(c.blocks)))
			break
		}
		txs := c.blocks[h-1]
		if txs == nil {
			txs = [][]byte{}
		}
		a.Result = map[string]any{
			"block_id": map[string]any{"hash": "AB"},
			"block":    map[string]any{"header": map[string]any{"height": p.Height}, "data": map[string]any{"txs": txs}},
		}
	case "broadcast_tx_async":
		var p struct {
			Tx []byte `json:"tx"`
		}
		if err := json.Unmarshal(q.Params, &p); err != nil {
			a.Error = &rpcError{Code: -32602, Message: "Invalid params", Data: err.Error()}
			break
		}
		tx := string(p.Tx)
		if c.seen[tx] {
			c.dups++
			a.Error = internal("tx already exists in cache")
			break
		}
		c.seen[tx] = true
		if k, v, ok := strings.Cut(tx, "="); !ok || k == "" || v == "" || strings.ContainsAny(v, "=:") || strings.Contains(k, ":") {
			c.badForm++
		}
		c.lines++
		switch {
		case c.busyEvery > 0 && c.lines%c.busyEvery == 0:
			a.Error = internal("mempool is full: number of txs 5000 (max: 5000), total txs bytes 1000000 (max: 1073741824)")
			return a
		case c.rejectEvery > 0 && c.lines%c.rejectEvery == 0:
			a.Error = internal("tx too large")
			return a
		}
		c.accepted++
		if c.dropEvery == 0 || c.accepted%c.dropEvery != 0 {
			c.pending = append(c.pending, p.Tx)
		}
		a.Result = map[string]any{"code": 0, "data": "", "log": "", "codespace": "", "hash": "AB"}
	default:
		a.Error = &rpcError{Code: -32601, Message: "Method not found"}
	}
	return a
}

func (c *fakeComet) handler(endpoint int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			time.Sleep(c.delay)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			var qs []fakeReq
			if err := json.Unmarshal(body, &qs); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			c.batches[endpoint]++
			if len(qs) != rpcBatch {
				c.notTen++
			}
			out := make([]fakeAnswer, 0, len(qs))
			for _, q := range qs {
				out = append(out, c.answer(q))
			}
			json.NewEncoder(w).Encode(out)
			return
		}
		var q fakeReq
		if err := json.Unmarshal(body, &q); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		json.NewEncoder(w).Encode(c.answer(q))
	})
}

func (c *fakeComet) serve(t *testing.T, n int) []string {
	var urls []string
	for i := range n {
		srv := httptest.NewServer(c.handler(i))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

func rpcOptions(urls []string) Options {
	return Options{RPC: urls, Duration: time.Second, Warmup: 200 * time.Millisecond, Poll: 2 * time.Millisecond, idle: 300 * time.Millisecond}
}

func checkRPCReport(t *testing.T, c *fakeComet, rep *Report) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dups != 0 || c.badForm != 0 || c.notTen != 0 {
		t.Errorf("offered %d duplicates, %d transactions not key=value, %d batches not of %d", c.dups, c.badForm, c.notTen, rpcBatch)
	}
	if rep.App != "rpc" || rep.Nodes != 4 || rep.Behavior != "honest" {
		t.Errorf("app %q, nodes %d, behavior %q; want rpc, 4, honest", rep.App, rep.Nodes, rep.Behavior)
	}
	if rep.Committed == 0 || rep.CommittedTPS <= 0 || rep.Blocks == 0 || rep.LatencySamples == 0 {
		t.Fatalf("nothing measured: %+v", rep)
	}
	if got := rep.Accepted + rep.RefusedBusy + rep.Rejected + rep.RequestErrors; got != rep.Submitted {
		t.Errorf("accepted+busy+rejected+errors = %d, submitted %d", got, rep.Submitted)
	}
	l := rep.Latency
	if !(0 < l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latencies out of order: %+v", l)
	}
	if rep.Foreign < int64(rep.Blocks) || rep.Foreign > int64(len(c.blocks)) {
		t.Errorf("%d foreign transactions: %d blocks in the window and %d in all, each with one", rep.Foreign, rep.Blocks, len(c.blocks))
	}
}

func TestRPCClosedLoop(t *testing.T) {
	c := newFakeComet()
	c.busyEvery, c.rejectEvery, c.delay = 7, 31, 5*time.Millisecond
	urls := c.serve(t, 2)
	rep, err := Run(context.Background(), rpcOptions(urls))
	if err != nil {
		t.Fatal(err)
	}
	checkRPCReport(t, c, rep)
	if rep.Mode != "closed" || rep.RefusedBusy == 0 || rep.Rejected == 0 {
		t.Errorf("mode %s, refused busy %d, rejected %d; want closed and some of each", rep.Mode, rep.RefusedBusy, rep.Rejected)
	}
	if rep.PendingAtEnd != 0 || rep.Expired != 0 {
		t.Errorf("%d pending at the end, %d expired; every accepted transaction committed", rep.PendingAtEnd, rep.Expired)
	}
	if rep.FirstError == "" || !strings.Contains(rep.FirstError, "tx too large") {
		t.Errorf("first error %q, want the rejection", rep.FirstError)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batches[0] == 0 || c.batches[1] == 0 {
		t.Errorf("batches per endpoint %v: the load goes to both", c.batches)
	}
	if len(rep.Targets) != 2 || rep.RPCWindow != DefaultWindow {
		t.Errorf("targets %v, window %d", rep.Targets, rep.RPCWindow)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"app rpc, JSON-RPC endpoints " + urls[0], "batches of 10", "not seen committed"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestRPCOpenLoop(t *testing.T) {
	c := newFakeComet()
	urls := c.serve(t, 1)
	o := rpcOptions(urls)
	o.Rate = 2000
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkRPCReport(t, c, rep)
	if rep.Mode != "open" || rep.OfferedTPS < 0.75*o.Rate || rep.OfferedTPS > 1.1*o.Rate {
		t.Errorf("mode %s, offered %.0f tx/s at --rate %.0f", rep.Mode, rep.OfferedTPS, o.Rate)
	}
	if rep.CommittedTPS > 1.1*o.Rate {
		t.Errorf("committed %.0f tx/s, more than offered", rep.CommittedTPS)
	}
}

// TestRPCWindowBound: on a chain that commits nothing the load stops at
// the window, and what waits is reported.
func TestRPCWindowBound(t *testing.T) {
	c := newFakeComet()
	c.frozen = true
	urls := c.serve(t, 2)
	o := rpcOptions(urls)
	o.Duration, o.Warmup, o.Window = 300*time.Millisecond, 100*time.Millisecond, 100
	o.idle = 100 * time.Millisecond
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	accepted := c.accepted
	c.mu.Unlock()
	if accepted != o.Window {
		t.Errorf("the endpoints accepted %d transactions with --window %d and no commit", accepted, o.Window)
	}
	if rep.Committed != 0 || rep.PendingAtEnd != int64(o.Window) {
		t.Errorf("committed %d, pending at the end %d; want 0 and %d", rep.Committed, rep.PendingAtEnd, o.Window)
	}
}

// TestRPCExpire: transactions accepted and never committed are given up
// after the expiry, which frees their room in the window.
func TestRPCExpire(t *testing.T) {
	c := newFakeComet()
	c.dropEvery = 5
	urls := c.serve(t, 1)
	o := rpcOptions(urls)
	o.Window, o.expire = 200, 200*time.Millisecond
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkRPCReport(t, c, rep)
	c.mu.Lock()
	accepted := c.accepted
	c.mu.Unlock()
	if rep.Expired == 0 || rep.PendingAtEnd != 0 || int(rep.Expired) > accepted/5+1 {
		t.Errorf("expired %d of %d accepted (every 5th dropped), pending at the end %d", rep.Expired, accepted, rep.PendingAtEnd)
	}
	if accepted <= 5*o.Window {
		t.Errorf("accepted only %d: the expired ones did not free the window of %d", accepted, o.Window)
	}
}

func TestRPCErrors(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{RPC: []string{"http://127.0.0.1:1"}, Targets: []string{"x"}, Duration: time.Second}, "--rpc and --target"},
		{Options{RPC: []string{"http://127.0.0.1:1"}, App: "kv", Duration: time.Second}, "--app cannot go with --rpc"},
		{Options{RPC: []string{"http://127.0.0.1:1"}, Window: 5, Duration: time.Second}, "--window must be at least 10"},
		{Options{RPC: []string{"ftp://x"}, Duration: time.Second}, "not an http:// URL"},
		{Options{Window: 100, Duration: time.Second, Nodes: 4}, "--window is for --rpc"},
		{Options{RPC: []string{"http://127.0.0.1:1"}, Duration: time.Second}, "cannot reach http://127.0.0.1:1"},
	} {
		_, err := Run(context.Background(), tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.o, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"127.0.0.1:26657":         "http://127.0.0.1:26657",
		"tcp://127.0.0.1:26657":   "http://127.0.0.1:26657",
		"http://127.0.0.1:26657/": "http://127.0.0.1:26657",
	} {
		if got, err := rpcURL(in); err != nil || got != want {
			t.Errorf("rpcURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestRPCSilentDrops: a mempool that drops accepted transactions without
// a word (as CometBFT's does when it is full by the time CheckTx answers)
// holds neither the cool-down nor the drain until the expiry; what it
// dropped is reported as not seen committed.
func TestRPCSilentDrops(t *testing.T) {
	c := newFakeComet()
	c.dropEvery = 5
	urls := c.serve(t, 1)
	o := rpcOptions(urls)
	began := time.Now()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	checkRPCReport(t, c, rep)
	if took := time.Since(began); took > o.Warmup+o.Duration+cooldownMax/2 {
		t.Errorf("the run took %v: the cool-down waited for the dropped transactions", took)
	}
	if rep.PendingAtEnd == 0 || rep.Expired != 0 {
		t.Errorf("pending at the end %d, expired %d; want some and none", rep.PendingAtEnd, rep.Expired)
	}
}
