package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/app/kv"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

const testChainID = "wallet-test-chain"

// fakeNode imitates the API of one node of the contract, for the wallet
// commands: status, accounts, submitting and following transactions,
// blocks.
type fakeNode struct {
	mu           sync.Mutex
	app          string            // "bank" or "kv"
	pendingNonce map[string]uint64 // by address
	pendingPolls int               // GETs of a tx answered "pending" before its final status
	reject       string            // if set, transactions end rejected with this reason
	refuse       string            // if set, POST /v1/txs answers 400 with this error
	submitted    [][]byte
	polls        map[string]int
}

func newFakeNode(t *testing.T, app string) (*fakeNode, *httptest.Server) {
	t.Helper()
	f := &fakeNode{app: app, pendingNonce: map[string]uint64{}, polls: map[string]int{}}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, srv
}

func writeTestJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeNode) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		// Indented on purpose: query must re-encode it on one line.
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\n  \"node\": 0,\n  \"chain_id\": %q,\n  \"height\": 7,\n  \"round\": 9,\n  \"leader\": 1,\n  \"last_block_hash\": null,\n  \"validators\": 4,\n  \"behavior\": \"honest\",\n  \"app\": %q\n}\n", testChainID, f.app)
	})
	mux.HandleFunc("GET /v1/accounts/{address}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		a := r.PathValue("address")
		writeTestJSON(w, http.StatusOK, map[string]any{"address": a, "balance": 1000, "nonce": 0, "pending_nonce": f.pendingNonce[a]})
	})
	mux.HandleFunc("GET /v1/blocks/{height}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("height") != "3" {
			writeTestJSON(w, http.StatusNotFound, map[string]string{"error": "block " + r.PathValue("height") + " is not committed"})
			return
		}
		writeTestJSON(w, http.StatusOK, map[string]any{"height": 3, "hash": strings.Repeat("ab", 32), "txs": []string{}})
	})
	mux.HandleFunc("POST /v1/txs", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.refuse != "" {
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": f.refuse})
			return
		}
		if err := f.check(body); err != nil {
			writeTestJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f.submitted = append(f.submitted, body)
		writeTestJSON(w, http.StatusAccepted, map[string]string{"hash": chain.TxHash(body).String(), "status": "pending"})
	})
	mux.HandleFunc("GET /v1/txs/{hash}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		h := r.PathValue("hash")
		known := false
		for _, b := range f.submitted {
			known = known || chain.TxHash(b).String() == h
		}
		if !known {
			writeTestJSON(w, http.StatusNotFound, map[string]string{"error": "unknown transaction"})
			return
		}
		f.polls[h]++
		switch {
		case f.polls[h] <= f.pendingPolls:
			writeTestJSON(w, http.StatusOK, map[string]any{"hash": h, "status": "pending", "height": 0, "error": ""})
		case f.reject != "":
			writeTestJSON(w, http.StatusOK, map[string]any{"hash": h, "status": "rejected", "height": 0, "error": f.reject})
		default:
			writeTestJSON(w, http.StatusOK, map[string]any{"hash": h, "status": "committed", "height": 42, "error": ""})
		}
	})
	return mux
}

// check validates a transaction as the node's application would, and
// counts a bank transfer's nonce.
func (f *fakeNode) check(body []byte) error {
	if f.app == "kv" {
		_, _, err := kv.Parse(body)
		return err
	}
	tx, err := bank.Decode(body)
	if err != nil {
		return err
	}
	if err := tx.Verify(testChainID); err != nil {
		return err
	}
	from := tx.From().String()
	if tx.Nonce < f.pendingNonce[from] {
		return fmt.Errorf("bank: nonce %d already used", tx.Nonce)
	}
	f.pendingNonce[from] = tx.Nonce + 1
	return nil
}

func (f *fakeNode) txs() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.submitted...)
}

// runWallet runs the strategos command line with args, as main does, and
// returns its stdout and error. Every error must be one line.
func runWallet(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("error is not one line: %q", err)
	}
	if errOut.Len() > 0 {
		t.Errorf("unexpected stderr: %q", errOut.String())
	}
	return out.String(), err
}

// mustFail runs args and checks that they fail with an error containing
// every one of want.
func mustFail(t *testing.T, args []string, want ...string) {
	t.Helper()
	out, err := runWallet(t, args...)
	if err == nil {
		t.Fatalf("%q succeeded with %q, want an error", args, out)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q: error %q does not say %q", args, err, w)
		}
	}
}

// newKeyFile writes a new key file in a temp dir.
func newKeyFile(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	k, err := keys.New()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sender.key")
	if err := keys.Write(p, k); err != nil {
		t.Fatal(err)
	}
	return p, k
}

func otherAddress(t *testing.T) string {
	t.Helper()
	k, err := keys.New()
	if err != nil {
		t.Fatal(err)
	}
	return keyAddress(k).String()
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

func TestKeysNewShow(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.key")
	out, err := runWallet(t, "keys", "new", "--out", p)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(out, "\n")
	if out != addr+"\n" || len(addr) != 40 {
		t.Fatalf("keys new printed %q, want an address on a line of its own", out)
	}
	if _, err := bank.ParseAddress(addr); err != nil || strings.ToLower(addr) != addr {
		t.Fatalf("keys new printed %q: not a lowercase address", addr)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k, err := keys.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if keyAddress(k).String() != addr {
		t.Errorf("printed address %s, the file's key has %s", addr, keyAddress(k))
	}
	out, err = runWallet(t, "keys", "show", p)
	if err != nil || out != addr+"\n" {
		t.Errorf("keys show = %q, %v; want %q", out, err, addr+"\n")
	}
	out, err = runWallet(t, "keys", "show", p, "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	if v["address"] != addr || v["pub_key"] == "" {
		t.Errorf("keys show --json = %v", v)
	}

	before, _ := os.ReadFile(p)
	mustFail(t, []string{"keys", "new", "--out", p}, "already exists")
	if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
		t.Error("keys new overwrote an existing key file")
	}
	mustFail(t, []string{"keys", "new"}, "out")
	mustFail(t, []string{"keys", "show", filepath.Join(t.TempDir(), "missing.key")}, "does not exist")
	garbage := filepath.Join(t.TempDir(), "garbage.key")
	os.WriteFile(garbage, []byte("not a key\n"), 0o600)
	mustFail(t, []string{"keys", "show", garbage}, "not a key file")
	mustFail(t, []string{"keys", "show"}, "FILE")
}

func TestTxSign(t *testing.T) {
	keyFile, k := newKeyFile(t)
	to := otherAddress(t)
	check := func(out string, nonce uint64) {
		t.Helper()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("tx sign printed %q, want one line", out)
		}
		body := []byte(strings.TrimSuffix(out, "\n"))
		tx, err := bank.Decode(body)
		if err != nil {
			t.Fatalf("output does not decode: %v: %s", err, body)
		}
		if err := tx.Verify(testChainID); err != nil {
			t.Fatalf("output does not verify for %s: %v", testChainID, err)
		}
		if tx.From() != keyAddress(k) || tx.To.String() != to || tx.Amount != 250 || tx.Nonce != nonce {
			t.Errorf("signed %+v", tx)
		}
	}
	out, err := runWallet(t, "tx", "sign", "--key", keyFile, "--to", to, "--amount", "250", "--nonce", "3", "--chain-id", testChainID)
	if err != nil {
		t.Fatal(err)
	}
	check(out, 3)

	// Without --chain-id, from the node's status.
	_, srv := newFakeNode(t, "bank")
	out, err = runWallet(t, "tx", "sign", "--key", keyFile, "--to", to, "--amount", "250", "--nonce", "18446744073709551615", "--node", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	check(out, 1<<64-1)

	base := []string{"tx", "sign", "--key", keyFile, "--to", to, "--amount", "250", "--nonce", "0"}
	mustFail(t, append(base, "--node", closedURL(t)), "chain id is needed", "--chain-id", "connection refused")
	mustFail(t, []string{"tx", "sign", "--key", keyFile, "--to", to, "--amount", "250", "--chain-id", "c"}, "nonce")
	mustFail(t, []string{"tx", "sign", "--key", keyFile, "--to", to, "--amount", "250", "--nonce", "x", "--chain-id", "c"}, "--nonce", "whole number")
	mustFail(t, []string{"tx", "sign", "--key", keyFile, "--to", keyAddress(k).String(), "--amount", "1", "--nonce", "0", "--chain-id", "c"}, "own address")
}

func TestTransferUsesPendingNonce(t *testing.T) {
	f, srv := newFakeNode(t, "bank")
	keyFile, k := newKeyFile(t)
	from := keyAddress(k).String()
	f.mu.Lock()
	f.pendingNonce[from] = 5
	f.mu.Unlock()
	to := otherAddress(t)

	out, err := runWallet(t, "tx", "transfer", "--key", keyFile, "--to", to, "--amount", "10", "--node", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	txs := f.txs()
	if len(txs) != 1 {
		t.Fatalf("node received %d transactions, want 1", len(txs))
	}
	tx, err := bank.Decode(txs[0])
	if err != nil {
		t.Fatal(err)
	}
	if tx.Nonce != 5 || tx.Amount != 10 || tx.To.String() != to {
		t.Errorf("submitted %+v, want nonce 5 (the pending nonce)", tx)
	}
	if out != chain.TxHash(txs[0]).String()+"\n" {
		t.Errorf("transfer printed %q, want the transaction hash", out)
	}

	// The next one takes the next pending nonce; --nonce overrides it.
	if _, err := runWallet(t, "tx", "transfer", "--key", keyFile, "--to", to, "--amount", "10", "--node", srv.URL); err != nil {
		t.Fatal(err)
	}
	out, err = runWallet(t, "tx", "transfer", "--key", keyFile, "--to", to, "--amount", "10", "--node", srv.URL, "--nonce", "9", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	requireKeys(t, v, "hash", "status")
	if v["status"] != "pending" || v["nonce"] != 9.0 || v["from"] != from {
		t.Errorf("transfer --json = %v", v)
	}
	txs = f.txs()
	for i, want := range []uint64{5, 6, 9} {
		tx, _ := bank.Decode(txs[i])
		if tx.Nonce != want {
			t.Errorf("transaction %d has nonce %d, want %d", i, tx.Nonce, want)
		}
	}
}

func TestTransferWait(t *testing.T) {
	f, srv := newFakeNode(t, "bank")
	f.pendingPolls = 2
	keyFile, _ := newKeyFile(t)
	args := []string{"tx", "transfer", "--key", keyFile, "--to", otherAddress(t), "--amount", "10", "--node", srv.URL, "--wait"}

	out, err := runWallet(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 || lines[0] != chain.TxHash(f.txs()[0]).String() || lines[1] != "committed at height 42" {
		t.Errorf("transfer --wait printed %q, want the hash then `committed at height 42`", out)
	}

	out, err = runWallet(t, append(args, "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	if v := oneJSON(t, out); v["status"] != "committed" || v["height"] != 42.0 {
		t.Errorf("transfer --wait --json = %v", v)
	}

	f.mu.Lock()
	f.reject = "bank: insufficient funds: balance 3, amount 10"
	f.mu.Unlock()
	mustFail(t, args, "rejected", "insufficient funds: balance 3, amount 10")
	out, err = runWallet(t, append(args, "--json")...)
	if err == nil {
		t.Fatal("a rejected transaction must fail")
	}
	if v := oneJSON(t, out); v["status"] != "rejected" || !strings.Contains(fmt.Sprint(v["error"]), "insufficient funds") {
		t.Errorf("rejected --json = %v", v)
	}

	f.mu.Lock()
	f.reject, f.pendingPolls = "", 1<<30
	f.mu.Unlock()
	mustFail(t, append(args, "--timeout", "300ms"), "not final after 300ms", "pending")
	mustFail(t, append(args, "--timeout", "0s"), "--timeout")
}

func TestKVPut(t *testing.T) {
	f, srv := newFakeNode(t, "kv")
	f.pendingPolls = 1
	out, err := runWallet(t, "kv", "put", "color", "blue=ish value", "--node", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	txs := f.txs()
	if len(txs) != 1 || string(txs[0]) != "color=blue=ish value" {
		t.Fatalf("node received %q", txs)
	}
	if out != chain.TxHash(txs[0]).String()+"\n" {
		t.Errorf("kv put printed %q, want the hash", out)
	}
	out, err = runWallet(t, "kv", "put", "k", "", "--node", srv.URL, "--wait")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out, "\ncommitted at height 42\n") {
		t.Errorf("kv put --wait printed %q", out)
	}
	out, err = runWallet(t, "kv", "put", "k", "v", "--node", srv.URL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	if v := oneJSON(t, out); v["status"] != "pending" || v["key"] != "k" || v["hash"] != chain.TxHash([]byte("k=v")).String() {
		t.Errorf("kv put --json = %v", v)
	}

	n := len(f.txs())
	for _, c := range []struct {
		key, value, want string
	}{
		{"", "v", "key must not be empty"},
		{"a=b", "v", "must not contain '='"},
		{"k", "two\nlines", "newline"},
		{"k\r", "v", "newline"},
		{"k", "tab\there", "printable"},
		{"k", "bell\a", "printable"},
		{"k", "bad \xff utf8", "UTF-8"},
		{"k", strings.Repeat("x", kv.MaxTx-1), "over the limit"},
	} {
		mustFail(t, []string{"kv", "put", c.key, c.value, "--node", srv.URL}, c.want)
	}
	// The largest transaction passes.
	if _, err := runWallet(t, "kv", "put", "k", strings.Repeat("x", kv.MaxTx-2), "--node", srv.URL); err != nil {
		t.Errorf("a transaction of exactly %d bytes: %v", kv.MaxTx, err)
	}
	if got := len(f.txs()); got != n+1 {
		t.Errorf("invalid transactions reached the node: %d submitted, want %d", got, n+1)
	}
	mustFail(t, []string{"kv", "put", "only-key", "--node", srv.URL}, "KEY VALUE")
}

func TestQuery(t *testing.T) {
	_, srv := newFakeNode(t, "bank")
	out, err := runWallet(t, "query", "status", "--node", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	requireKeys(t, v, "node", "chain_id", "height", "round", "leader", "last_block_hash", "validators", "behavior", "app")
	if v["chain_id"] != testChainID || !strings.HasPrefix(out, `{"node":0,"chain_id":`) {
		t.Errorf("query status printed %q, want the answer as received, compacted", out)
	}
	// --node before the subcommand works too.
	if out, err := runWallet(t, "query", "--node", srv.URL, "block", "3"); err != nil || oneJSON(t, out)["height"] != 3.0 {
		t.Errorf("query block 3 = %q, %v", out, err)
	}
	addr := otherAddress(t)
	out, err = runWallet(t, "query", "account", addr, "--node", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if v := oneJSON(t, out); v["address"] != addr {
		t.Errorf("query account = %v", v)
	}
	mustFail(t, []string{"query", "block", "9", "--node", srv.URL}, "not found", "block 9 is not committed")
	mustFail(t, []string{"query", "block", "0", "--node", srv.URL}, "at least 1")
	mustFail(t, []string{"query", "block", "x", "--node", srv.URL}, "whole number")
	mustFail(t, []string{"query", "account", "xyz", "--node", srv.URL}, "40 hex digits")
	mustFail(t, []string{"query", "tx", "abc", "--node", srv.URL}, "64 hex digits")
	mustFail(t, []string{"query", "tx", strings.Repeat("0", 64), "--node", srv.URL}, "not found")
	mustFail(t, []string{"query", "status", "--node", closedURL(t)}, "cannot reach node", "connection refused")
	mustFail(t, []string{"query", "status", "--node", "ftp://x"}, "http://")
}

func TestWalletErrors(t *testing.T) {
	f, srv := newFakeNode(t, "bank")
	keyFile, k := newKeyFile(t)
	to := otherAddress(t)
	transfer := func(key, to, amount, node string, extra ...string) []string {
		return append([]string{"tx", "transfer", "--key", key, "--to", to, "--amount", amount, "--node", node}, extra...)
	}
	mustFail(t, transfer(filepath.Join(t.TempDir(), "missing.key"), to, "1", srv.URL), "key file", "does not exist")
	mustFail(t, transfer(keyFile, "0x1234", "1", srv.URL), "--to", "40 hex digits")
	mustFail(t, transfer(keyFile, strings.Repeat("g", 40), "1", srv.URL), "40 hex digits")
	mustFail(t, transfer(keyFile, keyAddress(k).String(), "1", srv.URL), "own address")
	mustFail(t, transfer(keyFile, to, "abc", srv.URL), "--amount", "whole number")
	mustFail(t, transfer(keyFile, to, "-1", srv.URL), "--amount", "whole number")
	mustFail(t, transfer(keyFile, to, "1.5", srv.URL), "--amount", "whole number")
	mustFail(t, transfer(keyFile, to, "0", srv.URL), "--amount must be positive")
	mustFail(t, transfer(keyFile, to, "18446744073709551616", srv.URL), "--amount", "too large")
	mustFail(t, transfer(keyFile, to, "1", srv.URL, "--nonce", "-3"), "--nonce", "whole number")
	if len(f.txs()) != 0 {
		t.Error("a transfer with bad input reached the node")
	}

	down := closedURL(t)
	mustFail(t, transfer(keyFile, to, "1", down), "cannot reach node "+down, "connection refused")
	mustFail(t, transfer(keyFile, to, "1", down, "--chain-id", testChainID), "cannot reach node "+down, "connection refused")
	mustFail(t, transfer(keyFile, to, "1", down, "--chain-id", testChainID, "--nonce", "0"), "cannot reach node "+down, "connection refused")
	mustFail(t, []string{"kv", "put", "k", "v", "--node", down}, "cannot reach node "+down, "connection refused")

	// The node's 400 is reported with its reason.
	f.mu.Lock()
	f.refuse = "bank: nonce 0 already used\n(next is 4)"
	f.mu.Unlock()
	mustFail(t, transfer(keyFile, to, "1", srv.URL), "node refused the transaction: bank: nonce 0 already used (next is 4)")
	mustFail(t, []string{"kv", "put", "k", "v", "--node", srv.URL}, "node refused the transaction")

	// A transfer signed for another chain is refused by the node.
	f.mu.Lock()
	f.refuse = ""
	f.mu.Unlock()
	mustFail(t, transfer(keyFile, to, "1", srv.URL, "--chain-id", "other-chain"), "node refused the transaction", `for chain "other-chain"`)
}
