package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/testbin"
)

// While a validator restores its state from peers that do not answer,
// its API address says it is live and not ready, and stopping it returns.
func TestStateSyncServesHealth(t *testing.T) {
	dir := t.TempDir()
	if err := config.Init(config.InitOptions{Nodes: 4, Out: dir, App: "kv", APIPort: 1, P2PPort: 1}); err != nil {
		t.Fatal(err)
	}
	h, err := config.Load(filepath.Join(dir, "node3"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := testbin.FreePorts(2 + len(h.Node.Peers))
	if err != nil {
		t.Fatal(err)
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(base+i) }
	h.Node.APIListen, h.Node.P2PListen = addr(0), addr(1)
	for i := range h.Node.Peers {
		h.Node.Peers[i].Addr = addr(2 + i) // nobody listens: no peer answers
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- StateSync(ctx, h, Options{}) }()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + h.Node.APIListen + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var body struct {
			Error string `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Error
	}
	deadline := time.Now().Add(10 * time.Second)
	for code, _ := get("/livez"); code != http.StatusOK; code, _ = get("/livez") {
		if time.Now().After(deadline) {
			t.Fatalf("/livez answered %d during state sync", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, path := range []string{"/readyz", "/v1/status"} {
		if code, msg := get(path); code != http.StatusServiceUnavailable || msg != "state sync in progress" {
			t.Errorf("GET %s during state sync: %d %q, want 503 saying so", path, code, msg)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("stopped state sync returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("state sync did not return once stopped")
	}
	if code, _ := get("/livez"); code != 0 {
		t.Errorf("the API address still answers %d after state sync returned", code)
	}
}
