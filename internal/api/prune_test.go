package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// A node with retain_blocks prunes as it commits: pruned heights answer
// 410 with the earliest height kept, on every endpoint that takes a
// height; kept ones answer as before; status and metrics say where the
// node's blocks begin.
func TestPrunedHeightsAnswerGone(t *testing.T) {
	// The leader rule's history (48 blocks, and 10 s of them) is kept
	// whatever retain says: quick blocks get the test past it soonest.
	const retain = 8
	tn := startNodeWith(t, "kv", func(n *config.Node) { n.RetainBlocks, n.BlockIntervalMillis = retain, 20 })
	tx := []byte("pruned=1")
	if r := postTx(t, tn.srv.URL, tx); r.code != http.StatusAccepted {
		t.Fatalf("submit: %d %s", r.code, clip(r.raw))
	}
	hash := chain.TxHash(tx)
	var at float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := call(t, http.MethodGet, tn.srv.URL+"/v1/txs/"+hash.String(), nil)
		if r.code == http.StatusOK && r.m["status"] == "committed" {
			at = r.m["height"].(float64)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not committed: %d %s", r.code, clip(r.raw))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for tn.n.Store().EarliestHeight() <= uint64(at) {
		if time.Now().After(deadline) {
			t.Fatalf("earliest height %d at tip %d: not pruned", tn.n.Store().EarliestHeight(), tn.n.Store().CommittedHeight())
		}
		time.Sleep(20 * time.Millisecond)
	}
	earliest := tn.n.Store().EarliestHeight()
	if tip := tn.n.Store().CommittedHeight(); tip-earliest+1 > 4096 {
		t.Errorf("tip %d, earliest %d: keeps more than the leader rule's most", tip, earliest)
	}
	old := uint64(at)
	for _, path := range []string{
		fmt.Sprintf("/v1/blocks/%d", old),
		fmt.Sprintf("/v1/blocks?from=%d&to=%d", old, old+2),
		fmt.Sprintf("/v1/commits/%d", old),
		fmt.Sprintf("/v1/proofs/kv/pruned?height=%d", old),
	} {
		r := call(t, http.MethodGet, tn.srv.URL+path, nil)
		if r.code != http.StatusGone || r.m["error"] == nil || r.m["earliest_height"] == nil || r.m["earliest_height"].(float64) < float64(earliest) {
			t.Errorf("GET %s: %d %s, want 410 with the earliest height", path, r.code, clip(r.raw))
		}
	}
	r := call(t, http.MethodGet, tn.srv.URL+"/v1/txs/"+hash.String(), nil)
	wantErr(t, "a transaction of a pruned height", r, http.StatusNotFound, fmt.Sprintf("height %d", earliest))
	kept := tn.n.Store().CommittedHeight()
	if r := call(t, http.MethodGet, tn.srv.URL+fmt.Sprintf("/v1/blocks/%d", kept), nil); r.code != http.StatusOK {
		t.Errorf("a kept block: %d %s", r.code, clip(r.raw))
	}
	st := call(t, http.MethodGet, tn.srv.URL+"/v1/status", nil)
	if e := st.m["earliest_height"].(float64); e < float64(earliest) {
		t.Errorf("status: earliest_height %v, want at least %d", e, earliest)
	}
	m := metricValues(t, tn.srv.URL)
	if m["strategos_pruned_heights_total"] < float64(earliest-1) || m["strategos_earliest_height"] < float64(earliest) {
		t.Errorf("metrics: pruned %v, earliest %v; want %d and more", m["strategos_pruned_heights_total"], m["strategos_earliest_height"], earliest)
	}
}
