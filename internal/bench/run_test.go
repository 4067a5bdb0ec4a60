package bench

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/app/kv"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

// fakeChain imitates a network's API well enough for a run: batches
// admitted by the app's rules (bank: signatures and nonces in order per
// sender), a block of everything pending every 10 ms, and transaction
// lookups. Every busyEvery-th line is refused as busy, and with forget
// set every 100th accepted transaction vanishes without a word, which a
// run must report as lost.
type fakeChain struct {
	app       string
	chainID   string
	busyEvery int
	forget    bool

	mu       sync.Mutex
	lines    int
	pending  []chain.Hash
	status   map[chain.Hash]string
	blocks   [][]chain.Hash
	next     map[chain.Address]uint64 // bank: the next nonce, pending included
	accepted int
	badNonce int // bank: a nonce committed out of order (must stay 0)
}

func newFakeChain(t *testing.T, app string, busyEvery int) *fakeChain {
	c := &fakeChain{app: app, chainID: "fake-chain", busyEvery: busyEvery,
		status: map[chain.Hash]string{}, next: map[chain.Address]uint64{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				c.commit()
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return c
}

func (c *fakeChain) commit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.pending {
		c.status[h] = "committed"
	}
	c.blocks = append(c.blocks, c.pending)
	c.pending = nil
}

func (c *fakeChain) admit(tx []byte) (chain.Hash, error) {
	h := chain.TxHash(tx)
	c.lines++
	if c.busyEvery > 0 && c.lines%c.busyEvery == 0 {
		return h, errors.New("busy: mempool: full")
	}
	switch c.status[h] {
	case "pending":
		return h, nil
	case "committed":
		return h, errors.New("transaction already committed at height 1")
	}
	if c.app == "kv" || c.app == "abci" { // abci: as CometBFT's kvstore, key=value
		if _, _, err := kv.Parse(tx); err != nil {
			return h, err
		}
	} else {
		t, err := bank.Decode(tx)
		if err != nil {
			return h, err
		}
		if err := t.Verify(c.chainID); err != nil {
			return h, err
		}
		switch next := c.next[t.From()]; {
		case t.Nonce > next:
			return h, fmt.Errorf("bank: nonce %d is ahead of the next nonce %d", t.Nonce, next)
		case t.Nonce < next:
			return h, fmt.Errorf("bank: nonce %d already used or pending, next is %d", t.Nonce, next)
		}
		c.next[t.From()]++
	}
	c.accepted++
	if c.forget && c.accepted%100 == 0 {
		return h, nil // accepted, then silently gone: the contract forbids it
	}
	c.status[h] = "pending"
	c.pending = append(c.pending, h)
	return h, nil
}

func (c *fakeChain) handler() http.Handler {
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		write(w, 200, map[string]any{"node": 0, "chain_id": c.chainID, "height": len(c.blocks), "validators": 4, "app": c.app})
	})
	mux.HandleFunc("POST /v1/txs/batch", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		var res []map[string]string
		for _, line := range bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n")) {
			h, err := c.admit(line)
			if err != nil {
				res = append(res, map[string]string{"error": err.Error()})
			} else {
				res = append(res, map[string]string{"hash": h.String(), "status": "pending"})
			}
		}
		write(w, 200, map[string]any{"results": res})
	})
	mux.HandleFunc("GET /v1/blocks", func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		to, _ := strconv.Atoi(r.URL.Query().Get("to"))
		c.mu.Lock()
		defer c.mu.Unlock()
		out := []map[string]any{}
		for h := from; h <= to && h <= len(c.blocks) && h < from+100; h++ {
			txs := []string{}
			for _, x := range c.blocks[h-1] {
				txs = append(txs, x.String())
			}
			out = append(out, map[string]any{"height": h, "txs": txs})
		}
		write(w, 200, map[string]any{"blocks": out})
	})
	mux.HandleFunc("GET /v1/txs/{hash}", func(w http.ResponseWriter, r *http.Request) {
		h, _ := chain.ParseHash(r.PathValue("hash"))
		c.mu.Lock()
		defer c.mu.Unlock()
		st, ok := c.status[h]
		if !ok {
			write(w, 404, map[string]string{"error": "unknown transaction"})
			return
		}
		write(w, 200, map[string]any{"hash": h.String(), "status": st})
	})
	mux.HandleFunc("GET /v1/accounts/{address}", func(w http.ResponseWriter, r *http.Request) {
		a, _ := bank.ParseAddress(r.PathValue("address"))
		c.mu.Lock()
		defer c.mu.Unlock()
		write(w, 200, map[string]any{"address": a.String(), "balance": 1_000_000_000, "nonce": c.next[a], "pending_nonce": c.next[a]})
	})
	return mux
}

// serve starts n API servers of the chain.
func (c *fakeChain) serve(t *testing.T, n int) []string {
	var urls []string
	for range n {
		srv := httptest.NewServer(c.handler())
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls
}

func writeKeys(t *testing.T, n int) (string, []ed25519.PrivateKey) {
	dir := t.TempDir()
	var out []ed25519.PrivateKey
	for i := range n {
		k, err := keys.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.Write(filepath.Join(dir, fmt.Sprintf("account%d.key", i)), k); err != nil {
			t.Fatal(err)
		}
		out = append(out, k)
	}
	return dir, out
}

func checkReport(t *testing.T, rep *Report, app string) {
	t.Helper()
	if rep.App != app || rep.Nodes != 4 || rep.CommittedTPS <= 0 || rep.Blocks <= 0 || rep.Accepted <= 0 ||
		rep.LatencySamples <= 0 || rep.Latency.P50 > rep.Latency.P99 || rep.Lost != 0 || rep.Rejected != 0 || rep.OwnNetwork ||
		rep.Byzantine != 0 || rep.Behavior != "honest" {
		b, _ := json.Marshal(rep)
		t.Errorf("report: %s", b)
	}
	// Everything sent in the window is accounted for.
	if rep.Submitted != rep.Accepted+rep.RefusedBusy+rep.Rejected+rep.RequestErrors {
		t.Errorf("submitted %d != accepted %d + busy %d + rejected %d + failed %d",
			rep.Submitted, rep.Accepted, rep.RefusedBusy, rep.Rejected, rep.RequestErrors)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

func TestRunKVClosedLoop(t *testing.T) {
	c := newFakeChain(t, "kv", 97)
	// A window long enough that a machine busy with -race and other
	// packages still submits in it (0.6 s once submitted nothing).
	rep, err := Run(context.Background(), Options{Targets: c.serve(t, 2), Duration: 2 * time.Second,
		Warmup: 500 * time.Millisecond, Poll: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, "kv") // the app comes from the targets
	if rep.Mode != "closed" || rep.RefusedBusy == 0 {
		t.Errorf("mode %s, refused busy %d", rep.Mode, rep.RefusedBusy)
	}
}

// TestRunABCITarget: nodes that run an ABCI application get the kv load.
func TestRunABCITarget(t *testing.T) {
	c := newFakeChain(t, "abci", 0)
	rep, err := Run(context.Background(), Options{Targets: c.serve(t, 1), Duration: 600 * time.Millisecond,
		Warmup: 200 * time.Millisecond, Poll: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, "abci")
	if rep.Lost != 0 || rep.Rejected != 0 {
		t.Errorf("lost %d, rejected %d", rep.Lost, rep.Rejected)
	}
}

func TestRunBankOpenLoop(t *testing.T) {
	c := newFakeChain(t, "bank", 13)
	dir, accounts := writeKeys(t, 3)
	// Nonces already used: the run starts from each account's pending_nonce.
	c.next[chain.AddressOf(accounts[1].Public().(ed25519.PublicKey))] = 5
	rep, err := Run(context.Background(), Options{Targets: c.serve(t, 2), App: "bank", KeysDir: dir, Rate: 3000,
		Duration: 600 * time.Millisecond, Warmup: 200 * time.Millisecond, Poll: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, "bank")
	// Busy refusals broke nonce runs, and the senders went back to them:
	// nothing refused for good, and the offer kept up with the rate.
	if rep.Mode != "open" || rep.RefusedBusy == 0 || rep.OfferedTPS < 1500 || rep.Exhausted {
		t.Errorf("mode %s, refused busy %d, offered %v, exhausted %v", rep.Mode, rep.RefusedBusy, rep.OfferedTPS, rep.Exhausted)
	}
}

func TestRunReportsLost(t *testing.T) {
	c := newFakeChain(t, "kv", 0)
	c.forget = true
	rep, err := Run(context.Background(), Options{Targets: c.serve(t, 1), App: "kv", Rate: 2000,
		Duration: 500 * time.Millisecond, Warmup: 100 * time.Millisecond, Poll: 2 * time.Millisecond, idle: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lost == 0 || rep.Lost != int64(rep.LostChecked) {
		t.Errorf("lost %d of %d looked up; the fake forgot every 100th", rep.Lost, rep.LostChecked)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	kvc := newFakeChain(t, "kv", 0)
	kvURL := kvc.serve(t, 1)
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"unknown app", Options{App: "nosuch", Nodes: 4, Duration: time.Second, APIPort: 1, P2PPort: 1, Binary: "x"}},
		{"no duration", Options{App: "kv", Targets: kvURL}},
		{"negative rate", Options{App: "kv", Targets: kvURL, Duration: time.Second, Rate: -1}},
		{"too many nodes", Options{Nodes: 1000, Duration: time.Second, APIPort: 1, P2PPort: 1, Binary: "x"}},
		{"bad port range", Options{Nodes: 4, Duration: time.Second, APIPort: 65534, P2PPort: 1, Binary: "x"}},
		{"app mismatch", Options{App: "bank", Targets: kvURL, Duration: time.Second}},
		{"bank without keys", Options{App: "bank", Targets: newFakeChain(t, "bank", 0).serve(t, 1), Duration: time.Second}},
		{"unreachable", Options{Targets: []string{"http://127.0.0.1:1"}, Duration: time.Second}},
	} {
		if rep, err := Run(ctx, tc.o); err == nil || rep != nil {
			t.Errorf("%s: Run = %v, %v; want an error", tc.name, rep, err)
		}
	}
}

func TestRunInterrupted(t *testing.T) {
	c := newFakeChain(t, "kv", 0)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(400 * time.Millisecond)
		cancel()
	}()
	rep, err := Run(ctx, Options{Targets: c.serve(t, 1), Rate: 1000, Duration: 2 * time.Second,
		Warmup: 100 * time.Millisecond, Poll: 2 * time.Millisecond})
	if !errors.Is(err, ErrInterrupted) || rep == nil || !rep.Interrupted || rep.DurationS <= 0 || rep.DurationS > 60 {
		t.Fatalf("Run = %+v, %v; want a short report and ErrInterrupted", rep, err)
	}
}
