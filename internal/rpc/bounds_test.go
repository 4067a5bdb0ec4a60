package rpc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

func TestOversizedBody(t *testing.T) {
	s, url := serve(t, newFake(t, 1), Config{MaxBodyBytes: 1 << 10})
	tx := b64(bytes.Repeat([]byte("x"), 2<<10))
	code, b := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_sync","params":{"tx":"`+tx+`"}}`)
	w := decodeWire(t, b)
	if code != http.StatusRequestEntityTooLarge || w.Error == nil || !strings.Contains(w.Error.Data, "over 1024 bytes") {
		t.Errorf("a body over the limit: HTTP %d %s, want 413", code, b)
	}
	if got := metricValue(s.metrics.refused.WithLabelValues("body")); got != 1 {
		t.Errorf("refused bodies %v, want 1", got)
	}
	// Just under the limit is served.
	small := b64(bytes.Repeat([]byte("y"), 600))
	if code, b := post(t, url, `{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_sync","params":{"tx":"`+small+`"}}`); code != http.StatusOK {
		t.Errorf("a body under the limit: HTTP %d %s", code, b)
	}
	// A websocket message over the limit closes the connection.
	ws := dialWS(t, url)
	ws.c.WriteMessage(1, []byte(`{"jsonrpc":"2.0","id":1,"method":"health","params":{"x":"`+tx+`"}}`))
	if _, _, err := ws.c.ReadMessage(); err == nil {
		t.Error("a websocket message over the limit was read")
	}
}

func TestBatchTooLarge(t *testing.T) {
	f := newFake(t, 1)
	s, url := serve(t, f, Config{MaxBatch: 3})
	req := func(i int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_sync","params":{"tx":"%s"}}`, i, b64(fmt.Appendf(nil, "k%d=v", i)))
	}
	code, b := post(t, url, "["+req(1)+","+req(2)+","+req(3)+"]")
	var ws []wire
	if code != http.StatusOK || json.Unmarshal(b, &ws) != nil || len(ws) != 3 {
		t.Fatalf("a batch at the limit: HTTP %d %s", code, b)
	}
	code, b = post(t, url, "["+req(4)+","+req(5)+","+req(6)+","+req(7)+"]")
	w := decodeWire(t, b)
	if code != http.StatusBadRequest || w.Error == nil || w.Error.Code != codeInvalidRequest ||
		!strings.Contains(w.Error.Data, "batch request exceeds maximum (3) allowed number of requests") {
		t.Errorf("a batch over the limit: HTTP %d %s", code, b)
	}
	if n := len(f.pendingTxs()); n != 3 {
		t.Errorf("%d transactions reached the node, want the first batch's 3 only", n)
	}
	if got := metricValue(s.metrics.refused.WithLabelValues("batch")); got != 1 {
		t.Errorf("refused batches %v, want 1", got)
	}
}

func TestRequestMetrics(t *testing.T) {
	s, url := serve(t, newFake(t, 1), Config{})
	call(t, url, "health", nil)
	call(t, url, "health", nil)
	callErr(t, url, "block", map[string]any{"height": "5"})
	callErr(t, url, "nosuch", nil)
	get(t, url+"/status")
	for _, c := range []struct {
		name      string
		req, errs float64
	}{{"health", 2, 0}, {"block", 1, 1}, {"unknown", 1, 1}, {"status", 1, 0}} {
		if got := metricValue(s.metrics.requests.WithLabelValues(c.name)); got != c.req {
			t.Errorf("requests of %s: %v, want %v", c.name, got, c.req)
		}
		if got := metricValue(s.metrics.errors.WithLabelValues(c.name)); got != c.errs {
			t.Errorf("errors of %s: %v, want %v", c.name, got, c.errs)
		}
	}
	// They are on the node's registry, which GET /metrics serves.
	mfs, err := s.b.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"strategos_rpc_requests_total", "strategos_rpc_errors_total", "strategos_rpc_subscribers"} {
		if !names[n] {
			t.Errorf("%s is not on the node's registry", n)
		}
	}
}

// Decoding a hostile body allocates within a small multiple of the body:
// a batch of a million tiny elements stops at the limit.
func TestDecodeAllocationBounded(t *testing.T) {
	bodies := map[string][]byte{
		"many elements": append(append([]byte("["), bytes.Repeat([]byte("1,"), 500_000)...), '1', ']'),
		"deep nesting":  append(bytes.Repeat([]byte("["), 1<<19), bytes.Repeat([]byte("]"), 1<<19)...),
		"long string":   []byte(`{"id":1,"method":"` + strings.Repeat("a", 1<<20) + `"}`),
		"many params":   []byte(`{"id":1,"method":"block","params":{` + strings.Repeat(`"a":1,`, 150_000) + `"height":"1"}}`),
	}
	for name, body := range bodies {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		reqs, _, _ := decodeBody(body, DefaultMaxBatch)
		for _, r := range reqs {
			if m, ok := methods[r.Method]; ok {
				decodeJSONParams(m.params, r.Params)
			}
		}
		runtime.ReadMemStats(&after)
		if len(reqs) > DefaultMaxBatch {
			t.Errorf("%s: %d requests decoded", name, len(reqs))
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(8*len(body))+(1<<20) {
			t.Errorf("%s: %d bytes allocated for a body of %d", name, alloc, len(body))
		}
	}
}
