package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
)

func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func newServer(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNew(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080":   "http://127.0.0.1:8080",
		"127.0.0.1:8080":          "http://127.0.0.1:8080",
		" https://node.example/ ": "https://node.example",
	} {
		c, err := New(in, nil)
		if err != nil || c.URL() != want {
			t.Errorf("New(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{"", "ftp://x", "http://", "http://a b"} {
		if _, err := New(in, nil); err == nil {
			t.Errorf("New(%q) succeeded", in)
		}
	}
}

func TestTypedAnswers(t *testing.T) {
	addr := chain.Address{1, 2, 3}
	body := []byte("k=v")
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "GET" && r.URL.Path == "/v1/status":
			answer(w, 200, map[string]any{"node": 2, "chain_id": "c1", "height": 9, "validators": 4, "app": "bank", "extra": true})
		case r.Method == "GET" && r.URL.Path == "/v1/accounts/"+addr.String():
			answer(w, 200, map[string]any{"address": addr.String(), "balance": uint64(1) << 63, "nonce": 3, "pending_nonce": 5})
		case r.Method == "POST" && r.URL.Path == "/v1/txs":
			b, _ := io.ReadAll(r.Body)
			answer(w, 202, map[string]any{"hash": chain.TxHash(b).String(), "status": "pending"})
		case r.Method == "GET" && r.URL.Path == "/v1/txs/"+chain.TxHash(body).String():
			answer(w, 200, map[string]any{"hash": chain.TxHash(body).String(), "status": "committed", "height": 4, "error": ""})
		default:
			answer(w, 404, map[string]string{"error": "no route"})
		}
	})
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.Node != 2 || st.ChainID != "c1" || st.Height != 9 || st.Validators != 4 {
		t.Errorf("Status = %+v, %v", st, err)
	}
	if id, err := c.ChainID(ctx); err != nil || id != "c1" {
		t.Errorf("ChainID = %q, %v", id, err)
	}
	a, err := c.Account(ctx, addr)
	if err != nil || a.Balance != 1<<63 || a.Nonce != 3 || a.PendingNonce != 5 {
		t.Errorf("Account = %+v, %v", a, err)
	}
	sub, err := c.Submit(ctx, body)
	if err != nil || sub.Hash != chain.TxHash(body).String() || sub.Status != StatusPending {
		t.Errorf("Submit = %+v, %v", sub, err)
	}
	tx, err := c.Tx(ctx, chain.TxHash(body))
	if err != nil || tx.Status != StatusCommitted || tx.Height != 4 || !tx.Final() {
		t.Errorf("Tx = %+v, %v", tx, err)
	}
	raw, err := c.Get(ctx, "/v1/status")
	if err != nil || !strings.Contains(string(raw), `"extra":true`) {
		t.Errorf("Get = %s, %v", raw, err)
	}
}

func TestErrors(t *testing.T) {
	var mu sync.Mutex
	var code int
	var text string
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if text != "" {
			w.WriteHeader(code)
			io.WriteString(w, text)
			return
		}
		answer(w, code, map[string]string{"error": "bad nonce\n\x1b[31mred"})
	})
	ctx := context.Background()
	for _, tc := range []struct {
		code   int
		text   string
		post   bool
		kind   error
		prefix string
	}{
		{400, "", true, ErrRefused, "node refused the transaction: bad nonce ?[31mred"},
		{413, "", true, ErrRefused, "node refused the transaction"},
		{400, "", false, ErrRefused, "node refused the request"},
		{404, "", false, ErrNotFound, "not found: bad nonce"},
		{429, "", true, ErrBusy, "node is busy"},
		{503, "", false, ErrBusy, "node is busy"},
		{500, "", false, ErrBadAnswer, "node answered 500 Internal Server Error: bad nonce"},
		{502, "<html>\n<b>proxy</b>\n</html>", false, ErrBadAnswer, "node answered 502 Bad Gateway: <html> <b>proxy</b> </html>"},
		{200, "not json", false, ErrBadAnswer, "node " + c.URL() + " answered GET /v1/status with invalid JSON"},
	} {
		mu.Lock()
		code, text = tc.code, tc.text
		mu.Unlock()
		var err error
		if tc.post {
			_, err = c.Submit(ctx, []byte("x=y"))
		} else {
			_, err = c.Status(ctx)
		}
		if !errors.Is(err, tc.kind) || !strings.HasPrefix(err.Error(), tc.prefix) || strings.ContainsAny(err.Error(), "\n\x1b") {
			t.Errorf("%d %q: error %q, want %v starting %q on one clean line", tc.code, tc.text, err, tc.kind, tc.prefix)
		}
		var e *Error
		if tc.code != 200 && (!errors.As(err, &e) || e.Code != tc.code) {
			t.Errorf("%d: error %#v does not carry the code", tc.code, err)
		}
	}
}

func TestSubmitChecksHash(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, 202, map[string]any{"hash": strings.Repeat("00", 32), "status": "pending"})
	})
	if _, err := c.Submit(context.Background(), []byte("k=v")); !errors.Is(err, ErrBadAnswer) {
		t.Errorf("a wrong hash from the node: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	c, err := New(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if want := "cannot reach node " + url + ": connection refused"; !errors.Is(err, ErrUnreachable) || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestWait(t *testing.T) {
	h := chain.TxHash([]byte("k=v"))
	var mu sync.Mutex
	polls := 0
	final := map[string]any{"status": "committed", "height": 12}
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		polls++
		switch {
		case polls == 1:
			answer(w, 404, map[string]string{"error": "unknown transaction"}) // not indexed yet
		case polls == 2:
			answer(w, 503, map[string]string{"error": "busy"})
		case polls <= 4:
			answer(w, 200, map[string]any{"hash": h.String(), "status": "pending"})
		default:
			final["hash"] = h.String()
			answer(w, 200, final)
		}
	})
	ctx := context.Background()
	tx, err := c.Wait(ctx, h, time.Millisecond)
	if err != nil || tx.Status != StatusCommitted || tx.Height != 12 {
		t.Errorf("Wait = %+v, %v", tx, err)
	}

	mu.Lock()
	polls, final = 0, map[string]any{"status": "rejected", "error": "evicted from a full mempool"}
	mu.Unlock()
	tx, err = c.Wait(ctx, h, time.Millisecond)
	if err != nil || tx.Status != StatusRejected || tx.Error != "evicted from a full mempool" {
		t.Errorf("Wait = %+v, %v; a rejection is a status", tx, err)
	}

	mu.Lock()
	polls, final = -1<<30, nil
	mu.Unlock()
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	tx, err = c.Wait(tctx, h, time.Millisecond)
	if !IsPending(err) || tx.Status != StatusPending {
		t.Errorf("Wait past its deadline = %+v, %v", tx, err)
	}
}
