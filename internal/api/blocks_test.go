package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// rangeOf asks h for blocks from..to and returns each block's encoding.
func rangeOf(t *testing.T, h http.Handler, from, to uint64) []json.RawMessage {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/v1/blocks?from=%d&to=%d", from, to), nil))
	var ans struct {
		Blocks []json.RawMessage `json:"blocks"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
		t.Fatalf("blocks %d..%d: %d %q", from, to, rec.Code, clip(rec.Body.Bytes()))
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	for i, b := range ans.Blocks {
		var v struct{ Height uint64 }
		if json.Unmarshal(b, &v) != nil || v.Height != from+uint64(i) {
			t.Fatalf("blocks %d..%d: block %d is %s", from, to, i, b)
		}
	}
	return ans.Blocks
}

// TestBlocksByteBudget checks that a range answer stops before the block
// that would take it past its byte budget, holds at least one block, and
// that asking again from the next height walks the whole range.
func TestBlocksByteBudget(t *testing.T) {
	tn := startNode(t, "kv")
	var batch strings.Builder
	for i := range 300 { // blocks of different sizes
		fmt.Fprintf(&batch, "k%d=%d\n", i, i)
	}
	results(t, postBatch(t, tn.srv.URL, []byte(batch.String())), 300)
	waitCommitted(t, tn.srv.URL, hashOf([]byte("k299=299")))
	const top = 8
	waitHeight(t, tn.n, top)

	all := rangeOf(t, Handler(tn.n, nil), 1, top)
	if len(all) != top {
		t.Fatalf("full budget: %d blocks of 1..%d", len(all), top)
	}
	sizes := make([]int, top)
	for i, b := range all {
		sizes[i] = len(b)
	}
	cut := func() float64 { return counterValue(t, tn.n.Registry(), "strategos_api_blocks_cut_total") }
	before := cut()

	// A budget of exactly blocks 1 and 2: two blocks, not three.
	two := rangeOf(t, newHandler(tn.n, nil, limits{rangeBytes: sizes[0] + sizes[1]}), 1, top)
	if len(two) != 2 {
		t.Errorf("budget of blocks 1 and 2 (%d bytes): %d blocks", sizes[0]+sizes[1], len(two))
	}
	// A budget smaller than any block: one block per answer, and paging
	// from the height after the last one walks the range.
	tiny := newHandler(tn.n, nil, limits{rangeBytes: 1})
	for h := uint64(1); h <= top; h++ {
		got := rangeOf(t, tiny, h, top)
		if len(got) != 1 || string(got[0]) != string(all[h-1]) {
			t.Fatalf("budget of 1 byte, from %d: %d blocks, want block %d alone", h, len(got), h)
		}
	}
	if d := cut() - before; d != top { // the last answer (from = top) asked for one block: not cut
		t.Errorf("strategos_api_blocks_cut_total grew by %v, want %d", d, top)
	}
}

// counterValue reads a counter from reg as /metrics would export it.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("%s is not exported", name)
	return 0
}
