package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/keys"
)

// The fuzz targets start one bank node each, before f.Fuzz, and call the
// API handler in-process: a panic in a handler then fails the fuzz run
// instead of being swallowed by an HTTP server, and inputs run thousands
// of times faster than over a socket.

// bankSeeds returns valid transfer bodies of a fresh bank network, their
// tampered variants and garbage.
func bankSeeds(f *testing.F, w *wallet) [][]byte {
	valid := w.transfer(f, 0, 1, 1, 0)
	stranger, err := keys.New()
	if err != nil {
		f.Fatal(err)
	}
	unknown, err := bank.Sign(stranger, w.chainID, w.addrs[0], 1, 0)
	if err != nil {
		f.Fatal(err)
	}
	otherChain, err := bank.Sign(w.keys[2], w.chainID+"x", w.addrs[1], 1, 0)
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{
		valid,
		append(slices.Clone(valid), '\n'),
		w.transfer(f, 2, 3, 7, 0),
		flipSig(f, valid),
		tamper(f, valid, `"amount":1,`, `"amount":2,`),
		tamper(f, valid, `"nonce":0,`, `"nonce":1,`),
		tamper(f, valid, `"amount":1,`, `"amount":0,`),
		tamper(f, valid, `"chain_id":"`, `"chain_id":"x`),
		[]byte(strings.ToUpper(string(valid))),
		valid[:len(valid)-1],
		append(slices.Clone(valid), valid...),
		otherChain,
		unknown,
		w.transfer(f, 3, 4, 1, 9),             // nonce ahead
		w.transfer(f, 4, 5, 2_000_000_000, 0), // overdraft
		nil,
		[]byte("{}"),
		[]byte("null"),
		[]byte(`{"chain_id":"","from":"","to":"","amount":0,"nonce":0,"sig":""}`),
		[]byte("colour=blue"),
		[]byte("\x00\xff\xfe\n\r\t "),
	}
}

// accepted reports whether the node may accept tx (a single body less
// its trailing newline, or a batch line): it must be a well-formed
// transfer signed for chainID, byte for byte.
func accepted(tx []byte, chainID string) (string, bool) {
	t, err := bank.Decode(tx)
	if err != nil || t.Verify(chainID) != nil {
		return "", false
	}
	return hashOf(tx), true
}

// checkResult checks one transaction's answer m (for a body or a batch
// line) against the transaction.
func checkResult(t *testing.T, tx []byte, chainID string, m map[string]any, pending bool) {
	t.Helper()
	hash, ok := accepted(tx, chainID)
	if !pending {
		if msg, _ := m["error"].(string); msg == "" || len(m) != 1 {
			t.Fatalf("refusal of %q: %v, want exactly {\"error\": message}", tx, m)
		}
		return
	}
	if !ok {
		t.Fatalf("accepted %q, which is no valid transfer of chain %s", tx, chainID)
	}
	if m["hash"] != hash || m["status"] != "pending" || len(m) != 2 {
		t.Fatalf("accepted %q: answer %v, want hash %s, status pending", tx, m, hash)
	}
}

func serve(t *testing.T, h http.Handler, path string, body []byte) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m == nil {
		t.Fatalf("POST %s %q: %d, answer is not a JSON object: %q", path, body, rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("POST %s %q: Content-Type %q", path, body, ct)
	}
	return rec.Code, m
}

func FuzzSubmit(f *testing.F) {
	tn := startNode(f, "bank")
	w := loadWallet(f, tn.dir)
	for _, s := range bankSeeds(f, w) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, m := serve(t, tn.h, "/v1/txs", body)
		switch code {
		case http.StatusAccepted:
			checkResult(t, oneNewlineLess(body), w.chainID, m, true)
		case http.StatusBadRequest, http.StatusServiceUnavailable, http.StatusRequestEntityTooLarge:
			checkResult(t, oneNewlineLess(body), w.chainID, m, false)
		default:
			t.Fatalf("POST /v1/txs %q: status %d %v", body, code, m)
		}
		if (code == http.StatusRequestEntityTooLarge) != (len(body) > MaxTxBody) {
			t.Fatalf("body of %d bytes answered %d", len(body), code)
		}
	})
}

func FuzzBatch(f *testing.F) {
	tn := startNode(f, "bank")
	w := loadWallet(f, tn.dir)
	seeds := bankSeeds(f, w)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add(bytes.Join(seeds, []byte("\n")))
	f.Add(bytes.Join(seeds[:3], []byte("\r\n")))
	f.Add(slices.Concat(seeds[2], []byte("\n\n"), seeds[3], []byte("\n")))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		code, m := serve(t, tn.h, "/v1/txs/batch", body)
		lines := modelLines(body)
		switch {
		case len(body) > MaxBatchBody:
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("batch of %d bytes: %d", len(body), code)
			}
			return
		case len(lines) > MaxBatchTxs:
			if code != http.StatusBadRequest {
				t.Fatalf("batch of %d lines: %d", len(lines), code)
			}
			return
		case code != http.StatusOK:
			t.Fatalf("batch %q: %d %v", body, code, m)
		}
		res, ok := m["results"].([]any)
		if !ok || len(m) != 1 || len(res) != len(lines) {
			t.Fatalf("batch %q of %d lines: answer %v", body, len(lines), m)
		}
		for i, r := range res {
			rm, ok := r.(map[string]any)
			if !ok {
				t.Fatalf("batch %q: result %d is %v", body, i, r)
			}
			checkResult(t, lines[i], w.chainID, rm, rm["error"] == nil)
		}
	})
}

// oneNewlineLess is body less one trailing "\n" or "\r\n": the
// transaction of a POST /v1/txs body.
func oneNewlineLess(body []byte) []byte {
	if b, ok := bytes.CutSuffix(body, []byte("\r\n")); ok {
		return b
	}
	b, _ := bytes.CutSuffix(body, []byte("\n"))
	return b
}

// modelLines cuts a batch body the way the contract reads it: lines end
// at "\n" or "\r\n", trailing empty lines are not transactions.
func modelLines(body []byte) [][]byte {
	parts := strings.Split(regexp.MustCompile(`(\r?\n)+$`).ReplaceAllString(string(body), ""), "\n")
	lines := make([][]byte, len(parts))
	for i, l := range parts {
		if i < len(parts)-1 { // followed by "\n": a "\r" before it ends the line too
			l = strings.TrimSuffix(l, "\r")
		}
		lines[i] = []byte(l)
	}
	return lines
}
