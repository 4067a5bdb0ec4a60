package api

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/keys"
)

// reply is an API answer: its status code, its body decoded as a JSON
// object, and the raw body.
type reply struct {
	code int
	m    map[string]any
	raw  []byte
}

// call sends a request and decodes the answer, which must be one JSON
// object whatever the status.
func call(tb testing.TB, method, url string, body io.Reader) reply {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	r := reply{code: resp.StatusCode, raw: raw}
	if err := json.Unmarshal(raw, &r.m); err != nil || r.m == nil {
		tb.Fatalf("%s %s: %d, answer is not a JSON object: %q", method, url, resp.StatusCode, clip(raw))
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s %s: Content-Type %q, want application/json", method, url, ct)
	}
	return r
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

func postTx(tb testing.TB, base string, body []byte) reply {
	tb.Helper()
	return call(tb, http.MethodPost, base+"/v1/txs", bytes.NewReader(body))
}

func postBatch(tb testing.TB, base string, body []byte) reply {
	tb.Helper()
	return call(tb, http.MethodPost, base+"/v1/txs/batch", bytes.NewReader(body))
}

// checkErr asserts that m is exactly {"error": msg} with a message that
// contains every one of want (case-insensitive).
func checkErr(tb testing.TB, what string, m map[string]any, want ...string) {
	tb.Helper()
	msg, ok := m["error"].(string)
	if !ok || msg == "" || len(m) != 1 {
		tb.Errorf("%s: answer %v, want exactly {\"error\": message}", what, m)
		return
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
			tb.Errorf("%s: error %q does not say %q", what, msg, w)
		}
	}
}

// wantErr asserts an error answer with code whose message says want.
func wantErr(tb testing.TB, what string, r reply, code int, want ...string) {
	tb.Helper()
	if r.code != code {
		tb.Errorf("%s: %d %s, want %d", what, r.code, clip(r.raw), code)
	}
	checkErr(tb, what, r.m, want...)
}

// checkPending asserts that m is {"hash": hash, "status": "pending"}.
func checkPending(tb testing.TB, what string, m map[string]any, hash string) {
	tb.Helper()
	if m["hash"] != hash || m["status"] != "pending" || m["error"] != nil {
		tb.Errorf("%s: answer %v, want {\"hash\": %s, \"status\": \"pending\"}", what, m, hash)
	}
}

// hashOf is the hex SHA-256 of b: a transaction's hash, computed
// independently of the code under test.
func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wallet holds the demo accounts of a bank network.
type wallet struct {
	chainID string
	keys    []ed25519.PrivateKey
	addrs   []chain.Address
}

func loadWallet(tb testing.TB, dir string) *wallet {
	tb.Helper()
	w := &wallet{}
	for i := range config.DemoAccounts {
		k, id, err := keys.ReadFor(filepath.Join(dir, "keys", fmt.Sprintf("account%d.key", i)))
		if err != nil {
			tb.Fatal(err)
		}
		if id == "" || (w.chainID != "" && id != w.chainID) {
			tb.Fatalf("account%d.key: chain id %q", i, id)
		}
		w.chainID = id
		w.keys = append(w.keys, k)
		w.addrs = append(w.addrs, chain.AddressOf(k.Public().(ed25519.PublicKey)))
	}
	return w
}

// transfer signs a transfer of amount from account i to account j.
func (w *wallet) transfer(tb testing.TB, i, j int, amount, nonce uint64) []byte {
	tb.Helper()
	b, err := bank.Sign(w.keys[i], w.chainID, w.addrs[j], amount, nonce)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// acct is an account as GET /v1/accounts/{address} answers it.
type acct struct {
	Address      string  `json:"address"`
	Balance      *uint64 `json:"balance"`
	Nonce        *uint64 `json:"nonce"`
	PendingNonce *uint64 `json:"pending_nonce"`
}

// state is the part of an account the tests compare.
type state struct{ balance, nonce, pending uint64 }

func getAccount(tb testing.TB, base string, a chain.Address) state {
	tb.Helper()
	r := call(tb, http.MethodGet, base+"/v1/accounts/"+a.String(), nil)
	if r.code != http.StatusOK {
		tb.Fatalf("account %s: %d %s", a, r.code, clip(r.raw))
	}
	var v acct
	if err := json.Unmarshal(r.raw, &v); err != nil {
		tb.Fatal(err)
	}
	if v.Address != a.String() || v.Balance == nil || v.Nonce == nil || v.PendingNonce == nil {
		tb.Fatalf("account %s: answer %s lacks address, balance, nonce or pending_nonce", a, r.raw)
	}
	return state{*v.Balance, *v.Nonce, *v.PendingNonce}
}

// settled waits until the account's pending_nonce equals its nonce (no
// transfer of it pending) and returns it. Right after a commit the node
// may briefly still count a committed transfer as pending (see
// TestBankPendingNonceAtCommit).
func settled(tb testing.TB, base string, a chain.Address) state {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := getAccount(tb, base, a)
		if s.pending == s.nonce || time.Now().After(deadline) {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// txStatus is GET /v1/txs/{hash} decoded.
type txStatus struct {
	Hash   string  `json:"hash"`
	Status string  `json:"status"`
	Height *uint64 `json:"height"`
	Error  *string `json:"error"`
}

func getTx(tb testing.TB, base, hash string) (int, txStatus) {
	tb.Helper()
	r := call(tb, http.MethodGet, base+"/v1/txs/"+hash, nil)
	var s txStatus
	if r.code == http.StatusOK {
		if err := json.Unmarshal(r.raw, &s); err != nil {
			tb.Fatal(err)
		}
		for _, k := range []string{"hash", "status", "height", "error"} {
			if _, ok := r.m[k]; !ok {
				tb.Errorf("tx %s: answer %s lacks %q", hash, r.raw, k)
			}
		}
	} else {
		checkErr(tb, "GET /v1/txs/"+hash, r.m)
	}
	return r.code, s
}

// unknownTx asserts that the node never heard of the transaction.
func unknownTx(tb testing.TB, base, what, hash string) {
	tb.Helper()
	if code, s := getTx(tb, base, hash); code != http.StatusNotFound {
		tb.Errorf("%s: refused transaction %s is known: %d %+v", what, hash, code, s)
	}
}

// waitCommitted waits until the transaction is committed and returns its
// height; a rejection fails the test.
func waitCommitted(tb testing.TB, base, hash string) uint64 {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, s := getTx(tb, base, hash)
		if code != http.StatusOK {
			tb.Fatalf("tx %s: %d", hash, code)
		}
		if s.Hash != hash {
			tb.Fatalf("tx %s: answer names %s", hash, s.Hash)
		}
		switch s.Status {
		case "committed":
			if s.Height == nil || *s.Height == 0 || s.Error != nil {
				tb.Fatalf("tx %s: committed with height %v, error %v", hash, s.Height, s.Error)
			}
			return *s.Height
		case "pending":
			if s.Height != nil || s.Error != nil {
				tb.Fatalf("tx %s: pending with height %v, error %v", hash, s.Height, s.Error)
			}
		default:
			tb.Fatalf("tx %s: status %q error %v", hash, s.Status, s.Error)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("tx %s: not committed in time", hash)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// status is the part of GET /v1/status the tests follow.
type status struct {
	Height       uint64 `json:"height"`
	TxsCommitted uint64 `json:"txs_committed"`
	Pending      int    `json:"pending"`
}

func getStatus(tb testing.TB, base string) status {
	tb.Helper()
	r := call(tb, http.MethodGet, base+"/v1/status", nil)
	if r.code != http.StatusOK {
		tb.Fatalf("status: %d %s", r.code, r.raw)
	}
	var s status
	if err := json.Unmarshal(r.raw, &s); err != nil {
		tb.Fatal(err)
	}
	return s
}

// ledger is a snapshot of every demo account and one stranger, and the
// node's committed transaction count: what a refused input must leave
// alone.
type ledger struct {
	accounts map[chain.Address]state
	status   status
}

func snapshot(tb testing.TB, base string, addrs ...chain.Address) ledger {
	tb.Helper()
	l := ledger{accounts: map[chain.Address]state{}, status: getStatus(tb, base)}
	for _, a := range addrs {
		l.accounts[a] = getAccount(tb, base, a)
	}
	return l
}

// unchanged asserts that no account moved and no transaction committed
// or became pending since before; the height may only have grown.
func (before ledger) unchanged(tb testing.TB, base, what string) {
	tb.Helper()
	for a, s := range before.accounts {
		if now := getAccount(tb, base, a); now != s {
			tb.Errorf("%s: account %s changed from %+v to %+v", what, a, s, now)
		}
	}
	now := getStatus(tb, base)
	if now.Height < before.status.Height {
		tb.Errorf("%s: height went back from %d to %d", what, before.status.Height, now.Height)
	}
	if now.TxsCommitted != before.status.TxsCommitted || now.Pending != before.status.Pending {
		tb.Errorf("%s: status moved from %+v to %+v", what, before.status, now)
	}
}

// pattern is an endless reader of a repeated line, for streaming large
// bodies without holding them in memory.
type pattern struct {
	line []byte
	off  int
}

func (p *pattern) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.line[p.off:])
		n += c
		p.off = (p.off + c) % len(p.line)
	}
	return n, nil
}
