package api

import (
	"context"
	"encoding/json"
	"github.com/strategos/strategos/internal/app/apps"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/node"
	"github.com/strategos/strategos/internal/testbin"
)

// testNode is a running single-validator network and its API.
type testNode struct {
	n   *node.Node
	srv *httptest.Server
	h   http.Handler // the API handler, for calling it in-process
	dir string       // the network's directory; keys/ holds the demo accounts
}

// startNode runs a single-validator network of app ("bank" or "kv") and
// serves its API; everything stops when tb's test ends.
func startNode(tb testing.TB, app string) *testNode {
	tb.Helper()
	return startNodeWith(tb, app, nil)
}

// startNodeWith is startNode with the node's configuration changed by edit.
func startNodeWith(tb testing.TB, app string, edit func(*config.Node)) *testNode {
	tb.Helper()
	dir := tb.TempDir()
	h, err := testbin.OneValidator(dir, app)
	if err != nil {
		tb.Fatal(err)
	}
	if edit != nil {
		edit(&h.Node)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h.Node.Peers[0].Addr, h.Node.P2PListen = ln.Addr().String(), ln.Addr().String()
	n, err := node.New(node.Options{Home: h, App: apps.For(h, nil), Listener: ln})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	handler := Handler(n, nil)
	srv := httptest.NewServer(handler)
	tb.Cleanup(func() {
		srv.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return &testNode{n: n, srv: srv, h: handler, dir: dir}
}

// oneNode runs a single-validator network of app and serves its API.
func oneNode(t testing.TB, app string) (*node.Node, *httptest.Server) {
	t.Helper()
	tn := startNode(t, app)
	return tn.n, tn.srv
}

func get(t *testing.T, url string, want int) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: not JSON: %v", url, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %v, want %d", url, resp.StatusCode, m, want)
	}
	return m
}

func waitHeight(t testing.TB, n *node.Node, h uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n.Status().Height < h {
		if time.Now().After(deadline) {
			t.Fatalf("height %d not reached", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStatusBlocksValidators(t *testing.T) {
	n, srv := oneNode(t, "kv")
	waitHeight(t, n, 3)
	st := get(t, srv.URL+"/v1/status", 200)
	for _, k := range []string{"node", "chain_id", "height", "round", "leader", "last_block_hash", "validators", "behavior", "app"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status lacks %q", k)
		}
	}
	b1 := get(t, srv.URL+"/v1/blocks/1", 200)
	b2 := get(t, srv.URL+"/v1/blocks/2", 200)
	if b2["parent_hash"] != b1["hash"] {
		t.Fatalf("block 2's parent %v is not block 1 %v", b2["parent_hash"], b1["hash"])
	}
	if qc := b1["qc"].(map[string]any); qc["block_hash"] != b1["hash"] || len(qc["signers"].([]any)) != 1 {
		t.Fatalf("block 1's qc %v", qc)
	}
	get(t, srv.URL+"/v1/blocks/1000000", 404)
	get(t, srv.URL+"/v1/blocks/zero", 400)
	r := get(t, srv.URL+"/v1/blocks?from=1&to=2", 200)
	if bl := r["blocks"].([]any); len(bl) != 2 {
		t.Fatalf("range: %d blocks", len(bl))
	}
	get(t, srv.URL+"/v1/blocks?from=2&to=1", 400)
	v := get(t, srv.URL+"/v1/validators", 200)
	if vals := v["validators"].([]any); len(vals) != 1 {
		t.Fatalf("validators: %v", vals)
	}
	get(t, srv.URL+"/v1/nosuch", 404)
}

func TestSubmitAndQuery(t *testing.T) {
	n, srv := oneNode(t, "kv")
	post := func(body string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/v1/txs", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, m := post("colour=blue"); code != 202 || m["status"] != "pending" {
		t.Fatalf("submit: %d %v", code, m)
	}
	for _, bad := range []string{"", "no-equals", "a=\nb"} {
		if code, m := post(bad); code != 400 || m["error"] == nil {
			t.Fatalf("submit %q: %d %v", bad, code, m)
		}
	}
	if code, _ := post("k=" + strings.Repeat("x", MaxTxBody)); code != 413 {
		t.Fatalf("oversized body: %d", code)
	}
	// The transaction's own status names its height; the node's status
	// counts it once it reports that height (the kv value and the tx
	// status are readable as soon as the block is executed, a moment
	// before the status snapshot is published).
	h := waitCommitted(t, srv.URL, hashOf([]byte("colour=blue")))
	r := call(t, http.MethodGet, srv.URL+"/v1/kv/colour", nil)
	if r.code != 200 || r.m["value"] != "blue" {
		t.Fatalf("kv: %d %s", r.code, r.raw)
	}
	waitHeight(t, n, h)
	if st := n.Status(); st.TxsCommitted < 1 {
		t.Fatalf("status at height %d does not count the transaction committed at height %d", st.Height, h)
	}
}

func TestMetrics(t *testing.T) {
	n, srv := oneNode(t, "kv")
	waitHeight(t, n, 2)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"strategos_height", "strategos_round", "strategos_store_write_seconds", "strategos_commit_latency_seconds", "strategos_messages_out_total"} {
		if !strings.Contains(string(b), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
}
