package api

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/keys"
)

// tamper returns body with the first occurrence of old replaced by new,
// failing if old is absent.
func tamper(tb testing.TB, body []byte, old, new string) []byte {
	tb.Helper()
	if !bytes.Contains(body, []byte(old)) {
		tb.Fatalf("%q not in %s", old, body)
	}
	return bytes.Replace(body, []byte(old), []byte(new), 1)
}

// flipSig changes one hex digit of a body's signature; the body stays in
// canonical form.
func flipSig(tb testing.TB, body []byte) []byte {
	tb.Helper()
	i := bytes.Index(body, []byte(`"sig":"`))
	if i < 0 {
		tb.Fatalf("no sig in %s", body)
	}
	out := slices.Clone(body)
	i += len(`"sig":"`) + 10
	if out[i] == '0' {
		out[i] = '1'
	} else {
		out[i] = '0'
	}
	return out
}

// TestBankRefusals submits every kind of bad transaction to a bank node:
// each is answered 400 (413 when too large) with a JSON error that says
// what is wrong, the node never heard of it afterwards, and no account,
// nonce or count moved.
func TestBankRefusals(t *testing.T) {
	tn := startNode(t, "bank")
	base := tn.srv.URL
	w := loadWallet(t, tn.dir)

	// Account 1 commits nonce 0, so that a reused nonce can be tried.
	first := w.transfer(t, 1, 2, 5, 0)
	if r := postTx(t, base, first); r.code != http.StatusAccepted {
		t.Fatalf("setup transfer: %d %s", r.code, r.raw)
	}
	firstHeight := waitCommitted(t, base, hashOf(first))
	settled(t, base, w.addrs[1])

	stranger, err := keys.New()
	if err != nil {
		t.Fatal(err)
	}
	strangerAddr := chain.AddressOf(stranger.Public().(ed25519.PublicKey))
	before := snapshot(t, base, append(slices.Clone(w.addrs), strangerAddr)...)
	if s := before.accounts[w.addrs[1]]; s != (state{config.DemoBalance - 5, 1, 1}) {
		t.Fatalf("account 1 after its first transfer: %+v", s)
	}

	fromStranger, err := bank.Sign(stranger, w.chainID, w.addrs[0], 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	otherChain, err := bank.Sign(w.keys[0], w.chainID+"-other", w.addrs[1], 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	valid := w.transfer(t, 0, 3, 10, 0) // never submitted as is
	otherPub := hex.EncodeToString(w.keys[4].Public().(ed25519.PublicKey))
	myPub := hex.EncodeToString(w.keys[0].Public().(ed25519.PublicKey))
	raw := func(amount string, to string) []byte {
		return fmt.Appendf(nil, `{"chain_id":%q,"from":%q,"to":%q,"amount":%s,"nonce":0,"sig":%q}`,
			w.chainID, myPub, to, amount, strings.Repeat("ab", 64))
	}

	cases := []struct {
		name string
		body []byte
		code int
		want []string // words the error must contain
	}{
		{"garbage bytes", []byte("\x00\xff\xfegarbage\x01"), 400, []string{"not a valid transfer"}},
		{"empty body", nil, 400, []string{"empty"}},
		{"only a newline", []byte("\n"), 400, []string{"empty"}},
		{"JSON null", []byte("null"), 400, []string{"chain id"}},
		{"JSON array", []byte("[1,2]"), 400, []string{"not a valid transfer"}},
		{"empty object", []byte("{}"), 400, []string{"chain id"}},
		{"kv transaction", []byte("colour=blue"), 400, []string{"not a valid transfer"}},
		{"truncated", valid[:len(valid)/2], 400, []string{"not a valid transfer"}},
		{"tampered signature", flipSig(t, valid), 400, []string{"bad signature"}},
		{"tampered amount", tamper(t, valid, `"amount":10,`, `"amount":11,`), 400, []string{"bad signature"}},
		{"tampered recipient", tamper(t, valid, w.addrs[3].String(), w.addrs[5].String()), 400, []string{"bad signature"}},
		{"tampered sender", tamper(t, valid, myPub, otherPub), 400, []string{"bad signature"}},
		{"signature of another chain", otherChain, 400, []string{"chain", w.chainID}},
		{"reused nonce", w.transfer(t, 1, 2, 7, 0), 400, []string{"nonce 0", "already used"}},
		{"skipped nonce", w.transfer(t, 1, 2, 7, 2), 400, []string{"nonce 2", "ahead"}},
		{"far nonce", w.transfer(t, 1, 2, 7, 1<<63), 400, []string{"ahead"}},
		{"overdraft", w.transfer(t, 0, 3, config.DemoBalance+1, 0), 400, []string{"insufficient funds"}},
		{"overdraft after a transfer", w.transfer(t, 1, 3, config.DemoBalance-4, 1), 400, []string{"insufficient funds"}},
		{"unknown account", fromStranger, 400, []string{"unknown account", strangerAddr.String()}},
		{"zero amount", raw("0", w.addrs[3].String()), 400, []string{"amount must be positive"}},
		{"negative amount", raw("-1", w.addrs[3].String()), 400, []string{"amount"}},
		{"amount over 64 bits", raw("18446744073709551616", w.addrs[3].String()), 400, []string{"amount"}},
		{"transfer to oneself", raw("1", w.addrs[0].String()), 400, []string{"own address"}},
		{"short recipient", raw("1", "abcd"), 400, []string{"to must be 20 bytes"}},
		{"recipient not hex", raw("1", strings.Repeat("zz", 20)), 400, []string{"to is not hex"}},
		{"unknown field", tamper(t, valid, `{"chain_id"`, `{"memo":"hi","chain_id"`), 400, []string{"unknown field"}},
		{"trailing data", append(slices.Clone(valid), `{}`...), 400, []string{"trailing data"}},
		{"spaces inside", tamper(t, valid, `"amount":`, `"amount": `), 400, []string{"canonical"}},
		{"upper-case hex", tamper(t, valid, myPub, strings.ToUpper(myPub)), 400, []string{"canonical"}},
		{"two transactions on two lines", append(append(slices.Clone(valid), '\n'), w.transfer(t, 0, 3, 10, 1)...), 400, []string{"trailing data"}},
		{"over the transaction limit", bytes.Repeat([]byte("x"), bank.MaxTx+1), 400, []string{"exceeds"}},
		{"128 KiB exactly", bytes.Repeat([]byte("x"), MaxTxBody), 400, []string{"exceeds"}},
		{"over 128 KiB", bytes.Repeat([]byte("x"), MaxTxBody+1), 413, []string{fmt.Sprint(MaxTxBody)}},
		{"over 128 KiB, valid start", append(slices.Clone(valid), bytes.Repeat([]byte(" "), MaxTxBody)...), 413, []string{fmt.Sprint(MaxTxBody)}},
	}
	for _, c := range cases {
		r := postTx(t, base, c.body)
		wantErr(t, c.name, r, c.code, c.want...)
		unknownTx(t, base, c.name, hashOf(c.body))
		unknownTx(t, base, c.name, hashOf(bytes.TrimSpace(c.body)))
		before.unchanged(t, base, c.name)
	}

	// The committed transfer again: refused, and still known as committed.
	r := postTx(t, base, first)
	wantErr(t, "replay of a committed transfer", r, 400, "already committed", fmt.Sprint(firstHeight))
	if code, s := getTx(t, base, hashOf(first)); code != 200 || s.Status != "committed" || s.Height == nil || *s.Height != firstHeight {
		t.Errorf("replayed transfer: %d %+v", code, s)
	}
	before.unchanged(t, base, "replay")

	// The node is alive and committing (empty) blocks.
	waitHeight(t, tn.n, before.status.Height+1)
	before.unchanged(t, base, "after all refusals")
}

// TestBankTransfers follows valid transfers from submission to commit.
func TestBankTransfers(t *testing.T) {
	tn := startNode(t, "bank")
	base := tn.srv.URL
	w := loadWallet(t, tn.dir)
	from, to := w.addrs[4], w.addrs[5]

	if s := getAccount(t, base, from); s != (state{config.DemoBalance, 0, 0}) {
		t.Fatalf("demo account before any transfer: %+v", s)
	}

	// Two transfers in a row; the second follows the first's pending nonce.
	tx0, tx1 := w.transfer(t, 4, 5, 100, 0), w.transfer(t, 4, 5, 50, 1)
	for _, tx := range [][]byte{tx0, tx1} {
		r := postTx(t, base, tx)
		if r.code != http.StatusAccepted {
			t.Fatalf("submit %s: %d %s", tx, r.code, r.raw)
		}
		if len(r.m) != 2 {
			t.Errorf("submit: answer %s has keys beyond hash and status", r.raw)
		}
		checkPending(t, "submit", r.m, hashOf(tx))
	}
	// Right after: the pending nonce counts both, whatever has committed.
	s := getAccount(t, base, from)
	if s.pending < s.nonce || s.nonce > 2 || (s.nonce == 0 && s.pending != 2) {
		t.Errorf("account right after two submissions: %+v, want pending_nonce 2", s)
	}
	// A pending transfer submitted again is the same pending transfer (or,
	// if it committed meanwhile, refused as committed).
	if r := postTx(t, base, tx1); r.code == http.StatusAccepted {
		checkPending(t, "resubmit", r.m, hashOf(tx1))
	} else {
		wantErr(t, "resubmit", r, 400, "already committed")
	}

	h0, h1 := waitCommitted(t, base, hashOf(tx0)), waitCommitted(t, base, hashOf(tx1))
	if h1 < h0 {
		t.Errorf("nonce 1 committed at %d, before nonce 0 at %d", h1, h0)
	}
	if s := settled(t, base, from); s != (state{config.DemoBalance - 150, 2, 2}) {
		t.Errorf("sender after two transfers: %+v", s)
	}
	if s := getAccount(t, base, to); s != (state{config.DemoBalance + 150, 0, 0}) {
		t.Errorf("recipient after two transfers: %+v", s)
	}

	// The committed block lists the transaction.
	for _, c := range []struct {
		height uint64
		hash   string
	}{{h0, hashOf(tx0)}, {h1, hashOf(tx1)}} {
		b := call(t, http.MethodGet, fmt.Sprintf("%s/v1/blocks/%d", base, c.height), nil)
		if b.code != 200 {
			t.Fatalf("block %d: %d %s", c.height, b.code, b.raw)
		}
		var blk struct {
			Height uint64   `json:"height"`
			Txs    []string `json:"txs"`
		}
		if err := json.Unmarshal(b.raw, &blk); err != nil {
			t.Fatal(err)
		}
		if blk.Height != c.height || !slices.Contains(blk.Txs, c.hash) {
			t.Errorf("block %d lists %v, not %s", c.height, blk.Txs, c.hash)
		}
	}

	// A body with a trailing newline (from a shell pipe) is accepted; its
	// hash is that of the transaction without the newline.
	for i, end := range []string{"\n", "\r\n"} {
		tx := w.transfer(t, 6, 7, 1, uint64(i))
		r := postTx(t, base, append(slices.Clone(tx), end...))
		if r.code != http.StatusAccepted {
			t.Fatalf("body ending %q: %d %s", end, r.code, r.raw)
		}
		checkPending(t, fmt.Sprintf("body ending %q", end), r.m, hashOf(tx))
		waitCommitted(t, base, hashOf(tx))
	}
	if s := settled(t, base, w.addrs[6]); s != (state{config.DemoBalance - 2, 2, 2}) {
		t.Errorf("account 6 after two piped transfers: %+v", s)
	}

	// A transfer to a new address creates it.
	fresh := chain.Address{0xfe, 0xed}
	if s := getAccount(t, base, fresh); s != (state{}) {
		t.Errorf("unknown address: %+v, want zeros", s)
	}
	tx, err := bank.Sign(w.keys[8], w.chainID, fresh, 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r := postTx(t, base, tx); r.code != http.StatusAccepted {
		t.Fatalf("transfer to a new address: %d %s", r.code, r.raw)
	}
	waitCommitted(t, base, hashOf(tx))
	if s := getAccount(t, base, fresh); s != (state{42, 0, 0}) {
		t.Errorf("new address after a transfer to it: %+v", s)
	}
}

// TestBankQueries covers the read endpoints of a bank node and their bad
// inputs.
func TestBankQueries(t *testing.T) {
	tn := startNode(t, "bank")
	base := tn.srv.URL
	w := loadWallet(t, tn.dir)
	waitHeight(t, tn.n, 2)

	st := call(t, http.MethodGet, base+"/v1/status", nil)
	if st.code != 200 || st.m["app"] != "bank" || st.m["chain_id"] != w.chainID || st.m["validators"] != 1.0 {
		t.Errorf("status: %d %s", st.code, st.raw)
	}

	// Accounts.
	if s := getAccount(t, base, w.addrs[9]); s != (state{config.DemoBalance, 0, 0}) {
		t.Errorf("demo account: %+v", s)
	}
	unknown := strings.Repeat("0123456789", 4)
	r := call(t, http.MethodGet, base+"/v1/accounts/"+unknown, nil)
	if r.code != 200 || r.m["address"] != unknown || r.m["balance"] != 0.0 || r.m["nonce"] != 0.0 || r.m["pending_nonce"] != 0.0 {
		t.Errorf("unknown address: %d %s", r.code, r.raw)
	}
	for _, bad := range []string{"xyz", unknown[:38], unknown + "00", unknown[:39], "0x" + unknown[:38], strings.Repeat("zz", 20), "%20" + unknown[1:]} {
		wantErr(t, "account "+bad, call(t, http.MethodGet, base+"/v1/accounts/"+bad, nil), 400, "40 hex digits")
	}

	// Transactions.
	wantErr(t, "unknown tx", call(t, http.MethodGet, base+"/v1/txs/"+strings.Repeat("ab", 32), nil), 404, "unknown transaction")
	for _, bad := range []string{"nothex", strings.Repeat("ab", 31), strings.Repeat("ab", 33), strings.Repeat("ab", 31) + "a", strings.Repeat("zz", 32)} {
		wantErr(t, "tx "+bad, call(t, http.MethodGet, base+"/v1/txs/"+bad, nil), 400, "64 hex digits")
	}

	// Blocks.
	for _, bad := range []string{"0", "-1", "one", "1.5", "18446744073709551616"} {
		wantErr(t, "block "+bad, call(t, http.MethodGet, base+"/v1/blocks/"+bad, nil), 400, "positive integer")
	}
	wantErr(t, "block far ahead", call(t, http.MethodGet, base+"/v1/blocks/1000000000", nil), 404, "1000000000")
	for _, q := range []string{"", "?from=1", "?to=2", "?from=0&to=2", "?from=3&to=2", "?from=a&to=b", "?from=-1&to=2"} {
		wantErr(t, "blocks"+q, call(t, http.MethodGet, base+"/v1/blocks"+q, nil), 400, "from")
	}
	r = call(t, http.MethodGet, base+"/v1/blocks?from=1&to=1000000", nil)
	if bl, ok := r.m["blocks"].([]any); r.code != 200 || !ok || len(bl) == 0 || len(bl) > MaxRange {
		t.Errorf("wide range: %d %s", r.code, clip(r.raw))
	}
	r = call(t, http.MethodGet, base+"/v1/blocks?from=1000000&to=1000001", nil)
	if bl, ok := r.m["blocks"].([]any); r.code != 200 || !ok || len(bl) != 0 {
		t.Errorf("range ahead of the chain: %d %s", r.code, r.raw)
	}

	// Validators.
	r = call(t, http.MethodGet, base+"/v1/validators", nil)
	if vals, ok := r.m["validators"].([]any); r.code != 200 || !ok || len(vals) != 1 {
		t.Errorf("validators: %d %s", r.code, r.raw)
	}

	// What this network does not serve, or not that way.
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/kv/colour"},
		{"GET", "/v1/nosuch"},
		{"GET", "/v1/txs"},
		{"GET", "/v1/accounts/"},
		{"POST", "/v1/status"},
		{"DELETE", "/v1/txs/" + strings.Repeat("ab", 32)},
		{"PUT", "/v1/txs"},
		{"GET", "/v1/txs/batch/extra"},
	} {
		r := call(t, c.method, base+c.path, nil)
		if r.code != 404 && r.code != 405 {
			t.Errorf("%s %s: %d, want 404 or 405", c.method, c.path, r.code)
		}
		checkErr(t, c.method+" "+c.path, r.m)
	}
}

// TestBankBatch covers POST /v1/txs/batch: one result per line, a bad
// line refuses only itself, and the limits.
func TestBankBatch(t *testing.T) {
	tn := startNode(t, "bank")
	base := tn.srv.URL
	w := loadWallet(t, tn.dir)

	// [valid, garbage, valid]: the garbage refuses only itself.
	a, b := w.transfer(t, 3, 4, 30, 0), w.transfer(t, 3, 4, 12, 1)
	garbage := []byte("\x00not a transaction\xff")
	r := postBatch(t, base, bytes.Join([][]byte{a, garbage, b}, []byte("\n")))
	if r.code != 200 || len(r.m) != 1 {
		t.Fatalf("batch: %d %s", r.code, r.raw)
	}
	res := results(t, r, 3)
	checkPending(t, "batch line 1", res[0], hashOf(a))
	checkErr(t, "batch line 2", res[1], "not a valid transfer")
	checkPending(t, "batch line 3", res[2], hashOf(b))
	unknownTx(t, base, "batch line 2", hashOf(garbage))
	waitCommitted(t, base, hashOf(a))
	waitCommitted(t, base, hashOf(b))
	if s := settled(t, base, w.addrs[3]); s != (state{config.DemoBalance - 42, 2, 2}) {
		t.Errorf("sender after its batch: %+v", s)
	}

	// CRLF line ends, a trailing newline, and a line that refers to the
	// one before it in the same batch.
	c, d := w.transfer(t, 7, 8, 1, 0), w.transfer(t, 7, 8, 1, 1)
	r = postBatch(t, base, slices.Concat(c, []byte("\r\n"), d, []byte("\r\n")))
	res = results(t, r, 2)
	checkPending(t, "CRLF line 1", res[0], hashOf(c))
	checkPending(t, "CRLF line 2", res[1], hashOf(d))
	waitCommitted(t, base, hashOf(c))
	waitCommitted(t, base, hashOf(d))
	settled(t, base, w.addrs[7])

	before := snapshot(t, base, w.addrs...)

	// Only bad lines: every one refused with its own reason, nothing moves.
	bad := [][]byte{
		flipSig(t, w.transfer(t, 0, 1, 1, 0)),
		{},                        // an empty line
		w.transfer(t, 3, 4, 1, 0), // reused nonce
		w.transfer(t, 3, 4, 1, 5), // skipped nonce
		w.transfer(t, 0, 1, 2*config.DemoBalance, 0), // overdraft
		a, // committed already
	}
	r = postBatch(t, base, bytes.Join(bad, []byte("\n")))
	res = results(t, r, len(bad))
	for i, want := range []string{"bad signature", "empty", "already used", "ahead", "insufficient funds", "already committed"} {
		checkErr(t, fmt.Sprintf("bad batch line %d", i+1), res[i], want)
	}
	for _, tx := range bad[:5] {
		unknownTx(t, base, "bad batch", hashOf(tx))
	}
	before.unchanged(t, base, "bad batch")

	// Exactly the limit of lines is taken.
	valid := w.transfer(t, 9, 0, 1, 0)
	body := slices.Concat(valid, bytes.Repeat([]byte("\nx"), MaxBatchTxs-1))
	res = results(t, postBatch(t, base, body), MaxBatchTxs)
	checkPending(t, "full batch, line 1", res[0], hashOf(valid))
	checkErr(t, "full batch, last line", res[MaxBatchTxs-1], "not a valid transfer")
	waitCommitted(t, base, hashOf(valid))
	settled(t, base, w.addrs[9])
	before = snapshot(t, base, w.addrs...)

	// One line more is refused whole: not even its valid line is taken.
	valid = w.transfer(t, 9, 0, 1, 1)
	body = slices.Concat(valid, bytes.Repeat([]byte("\nx"), MaxBatchTxs), []byte("\n"))
	wantErr(t, "batch over the line limit", postBatch(t, base, body), 400, fmt.Sprint(MaxBatchTxs+1), fmt.Sprint(MaxBatchTxs))
	unknownTx(t, base, "batch over the line limit", hashOf(valid))
	before.unchanged(t, base, "batch over the line limit")

	// A body of 32 MiB of short lines is refused for its line count,
	// without first building a slice of 16 million lines (that cost over
	// 500 MiB). Called in-process, so that the allocations counted are
	// the handler's.
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rec := httptest.NewRecorder()
	tn.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/txs/batch", io.LimitReader(&pattern{line: []byte("x\n")}, MaxBatchBody)))
	runtime.ReadMemStats(&m1)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("32 MiB of lines: %d %q", rec.Code, rec.Body)
	}
	wantErr(t, "32 MiB of lines", reply{code: rec.Code, m: m, raw: rec.Body.Bytes()}, 400, fmt.Sprint(MaxBatchTxs))
	if alloc := (m1.TotalAlloc - m0.TotalAlloc) >> 20; alloc > 10*MaxBatchBody>>20 {
		t.Errorf("refusing 32 MiB of lines allocated %d MiB", alloc)
	}

	// Over 32 MiB: 413, streamed, and its valid first line is not taken.
	huge := io.MultiReader(bytes.NewReader(append(valid, '\n')), io.LimitReader(&pattern{line: []byte("x\n")}, MaxBatchBody))
	wantErr(t, "batch over 32 MiB", call(t, http.MethodPost, base+"/v1/txs/batch", huge), 413, fmt.Sprint(MaxBatchBody))
	unknownTx(t, base, "batch over 32 MiB", hashOf(valid))
	before.unchanged(t, base, "batch over 32 MiB")

	// An empty batch takes nothing.
	r = postBatch(t, base, nil)
	if r.code != 200 && r.code != 400 {
		t.Errorf("empty batch: %d %s", r.code, r.raw)
	}
	before.unchanged(t, base, "empty batch")
}

// results checks a batch answer and returns its n results.
func results(tb testing.TB, r reply, n int) []map[string]any {
	tb.Helper()
	if r.code != 200 {
		tb.Fatalf("batch: %d %s", r.code, clip(r.raw))
	}
	var v struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(r.raw, &v); err != nil {
		tb.Fatal(err)
	}
	if len(v.Results) != n {
		tb.Fatalf("batch: %d results for %d lines", len(v.Results), n)
	}
	return v.Results
}

// TestKVRefusals covers the kv network's own bad inputs.
func TestKVRefusals(t *testing.T) {
	_, srv := oneNode(t, "kv")
	base := srv.URL
	for _, c := range []struct {
		body string
		want string
	}{
		{"no-equals", "key=value"},
		{"", "empty"},
		{"=value", "empty key"},
		{"a=\nb", "printable"},
	} {
		r := postTx(t, base, []byte(c.body))
		wantErr(t, fmt.Sprintf("kv %q", c.body), r, 400, c.want)
		unknownTx(t, base, fmt.Sprintf("kv %q", c.body), hashOf([]byte(c.body)))
	}
	wantErr(t, "absent key", call(t, http.MethodGet, base+"/v1/kv/absent", nil), 404, "absent")
	r := call(t, http.MethodGet, base+"/v1/accounts/"+strings.Repeat("ab", 20), nil)
	wantErr(t, "accounts on kv", r, 404)
	if !strings.Contains(r.m["error"].(string), "/v1/accounts") && !strings.Contains(r.m["error"].(string), "bank") {
		t.Errorf("accounts on kv: %q does not say what is missing", r.m["error"])
	}

	// A kv batch: a bad line refuses only itself.
	res := results(t, postBatch(t, base, []byte("a=1\nnope\nb=2\n")), 3)
	checkPending(t, "kv batch line 1", res[0], hashOf([]byte("a=1")))
	checkErr(t, "kv batch line 2", res[1], "key=value")
	checkPending(t, "kv batch line 3", res[2], hashOf([]byte("b=2")))
	waitCommitted(t, base, hashOf([]byte("b=2")))
	r = call(t, http.MethodGet, base+"/v1/kv/b", nil)
	if r.code != 200 || r.m["key"] != "b" || r.m["value"] != "2" || r.m["height"] == nil {
		t.Errorf("kv b: %d %s", r.code, r.raw)
	}
}

// TestBankPendingNonceAtCommit checks that pending_nonce never counts a
// transfer twice: once in the committed nonce and once more as pending.
// Node.Account reads under the same lock the commit path holds while it
// executes a block and removes its transactions from the mempool.
func TestBankPendingNonceAtCommit(t *testing.T) {
	tn := startNode(t, "bank")
	base := tn.srv.URL
	w := loadWallet(t, tn.dir)
	for i := range uint64(20) {
		tx := w.transfer(t, 4, 5, 1, i)
		if r := postTx(t, base, tx); r.code != http.StatusAccepted {
			t.Fatalf("transfer %d: %d %s", i, r.code, r.raw)
		}
		waitCommitted(t, base, hashOf(tx))
		if s := getAccount(t, base, w.addrs[4]); s.nonce != i+1 || s.pending != i+1 {
			t.Fatalf("right after nonce %d committed: %+v, want nonce and pending_nonce %d", i, s, i+1)
		}
	}
}
