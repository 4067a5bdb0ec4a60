package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/strategos/strategos/internal/app/apps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/node"
	"github.com/strategos/strategos/internal/testbin"
)

// A node whose mempool is full answers busy: per line for a batch it
// could partly take, 429 for a batch it could take none of, 503 for a
// single transaction; and what it refused never reaches the pool.
func TestFullNodeAnswersBusy(t *testing.T) {
	dir := t.TempDir()
	h, err := testbin.OneValidator(dir, "kv")
	if err != nil {
		t.Fatal(err)
	}
	h.Node.MempoolMaxTxs = 50
	// Not run: nothing commits, so the pool stays full.
	n, err := node.New(node.Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	handler := Handler(n, nil)
	post := func(path string, body []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		return rec
	}
	batch := func(from, to int) []byte {
		var b bytes.Buffer
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "key%d=value\n", i)
		}
		return b.Bytes()
	}
	rec := post("/v1/txs/batch", batch(0, 80))
	if rec.Code != http.StatusOK {
		t.Fatalf("first batch: %d %s", rec.Code, rec.Body)
	}
	var res struct{ Results []map[string]string }
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	pending, busy := 0, 0
	for _, r := range res.Results {
		switch {
		case r["status"] == "pending":
			pending++
		case strings.HasPrefix(r["error"], "busy"):
			busy++
		}
	}
	if pending != 50 || busy != 30 {
		t.Fatalf("first batch: %d pending, %d busy; want 50 and 30", pending, busy)
	}
	rec = post("/v1/txs/batch", batch(100, 120))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "busy") {
		t.Fatalf("batch into a full pool: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	rec = post("/v1/txs", []byte("single=1"))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "busy") {
		t.Fatalf("single into a full pool: %d %s", rec.Code, rec.Body)
	}
	get := func(tx string) int {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/txs/"+hashOf([]byte(tx)), nil))
		return rec.Code
	}
	if get("key0=value") != http.StatusOK || get("key60=value") != http.StatusNotFound || get("single=1") != http.StatusNotFound {
		t.Fatal("a refused transaction reached the pool, or an accepted one is unknown")
	}
}
