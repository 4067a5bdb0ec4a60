package rpc

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/strategos/strategos/internal/chain"
)

// A batch is answered in order, one answer per request with an id;
// notifications are run by nobody and answered by nobody.
func TestBatch(t *testing.T) {
	f := newFake(t, 1)
	f.commit()
	_, url := serve(t, f, Config{})
	code, b := post(t, url, `[
		{"jsonrpc":"2.0","id":1,"method":"health"},
		{"jsonrpc":"2.0","method":"broadcast_tx_sync","params":{"tx":"YT0x"}},
		{"jsonrpc":"2.0","id":"two","method":"block","params":{"height":"1"}},
		{"jsonrpc":"2.0","id":3,"method":"no_such_method"},
		{"jsonrpc":"2.0","id":4,"method":"block","params":{"height":"one"}},
		7,
		{"jsonrpc":"2.0","id":{"x":1},"method":"health"}
	]`)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, b)
	}
	var ws []wire
	if err := json.Unmarshal(b, &ws); err != nil || len(ws) != 6 {
		t.Fatalf("%d answers (%v), want 6: %s", len(ws), err, clipBytes(b))
	}
	if string(ws[0].ID) != "1" || string(ws[0].Result) != "{}" {
		t.Errorf("health: %+v", ws[0])
	}
	if string(ws[1].ID) != `"two"` || ws[1].Error != nil {
		t.Errorf("block: %+v", ws[1])
	}
	if string(ws[2].ID) != "3" || ws[2].Error == nil || ws[2].Error.Code != codeNoMethod || ws[2].Error.Message != "Method not found" {
		t.Errorf("unknown method: %+v", ws[2])
	}
	if ws[3].Error == nil || ws[3].Error.Code != codeInvalidParams {
		t.Errorf("bad params: %+v", ws[3])
	}
	for i := 4; i < 6; i++ {
		if string(ws[i].ID) != "null" || ws[i].Error == nil || ws[i].Error.Code != codeInvalidRequest {
			t.Errorf("answer %d to what is no request: %+v", i, ws[i])
		}
	}
	if len(f.pendingTxs()) != 0 {
		t.Error("a notification was run")
	}
	// A batch of one is answered with one object, as CometBFT does.
	_, b = post(t, url, `[{"jsonrpc":"2.0","id":9,"method":"health"}]`)
	if w := decodeWire(t, b); string(w.ID) != "9" {
		t.Errorf("batch of one: %s", b)
	}
	// Only notifications: nothing to say.
	if code, b := post(t, url, `{"jsonrpc":"2.0","method":"health"}`); code != http.StatusOK || len(b) != 0 {
		t.Errorf("notification: HTTP %d %q", code, b)
	}
}

func TestMalformedRequests(t *testing.T) {
	_, url := serve(t, newFake(t, 1), Config{})
	for _, body := range []string{`{`, `{"jsonrpc":"2.0","id":1,"method":"health"} x`, `[{"id":1,"method":"health"}`, `[]`, `nonsense`} {
		code, b := post(t, url, body)
		w := decodeWire(t, b)
		if code != http.StatusInternalServerError || w.Error == nil || w.Error.Code != codeParse || string(w.ID) != "null" {
			t.Errorf("%q: HTTP %d %s, want CometBFT's parse error", body, code, b)
		}
	}
	for _, body := range []string{`{"id":1,"method":5}`, `{"id":true,"method":"health"}`, `"health"`} {
		code, b := post(t, url, body)
		if w := decodeWire(t, b); code != http.StatusOK || w.Error == nil || w.Error.Code != codeInvalidRequest {
			t.Errorf("%q: HTTP %d %s, want an invalid request", body, code, b)
		}
	}
	if code, b := post(t, url, `{"id":1,"method":"block","params":"1"}`); code != http.StatusOK || decodeWire(t, b).Error.Code != codeInvalidParams {
		t.Errorf("params neither object nor array: HTTP %d %s", code, b)
	}
	if code, b := post(t, url, `{"id":1,"method":"block","params":["1","2"]}`); code != http.StatusOK || decodeWire(t, b).Error.Code != codeInvalidParams {
		t.Errorf("too many positional params: HTTP %d %s", code, b)
	}
	if code, b := post(t, url, `{"id":1,"method":"subscribe","params":{"query":"tm.event='NewBlock'"}}`); code != http.StatusOK ||
		decodeWire(t, b).Error.Code != codeNoMethod {
		t.Errorf("subscribe over HTTP: HTTP %d %s, want method not found (websocket only)", code, b)
	}
	// An empty body is a browser's look: the list of methods.
	if code, b := post(t, url, ``); code != http.StatusOK || !strings.Contains(string(b), "broadcast_tx_sync?tx=_") {
		t.Errorf("empty POST: HTTP %d %s", code, b)
	}
	if code, b := get(t, url+"/"); code != http.StatusOK || !strings.Contains(string(b), "/block?height=_") {
		t.Errorf("GET /: HTTP %d %s", code, b)
	}
}

// The URI form: GET /method?arg=value, with CometBFT's conventions for
// the values.
func TestURIForm(t *testing.T) {
	f := newFake(t, 1)
	f.commit([]byte("a=1"))
	_, base := serve(t, f, Config{})
	uri := func(path string) wire {
		t.Helper()
		code, b := get(t, base+path)
		w := decodeWire(t, b)
		if string(w.ID) != "-1" {
			t.Errorf("%s: id %s, want -1 (CometBFT's for the URI form)", path, w.ID)
		}
		if (code == http.StatusOK) != (w.Error == nil) {
			t.Errorf("%s: HTTP %d with %s", path, code, b)
		}
		return w
	}
	if w := uri("/status"); w.Error != nil {
		t.Fatalf("GET /status: %+v", w.Error)
	}
	if w := uri("/block?height=1"); w.Error != nil || result[ctypes.ResultBlock](t, w.Result).Block.Height != 1 {
		t.Errorf("GET /block?height=1: %+v", w)
	}
	if w := uri(`/block?height="1"`); w.Error != nil {
		t.Errorf("a quoted height: %+v", w.Error)
	}
	// Bytes as 0x-hex, or a quoted string.
	tx := []byte("k=v")
	h := chain.TxHash(tx)
	w := uri("/broadcast_tx_sync?tx=0x" + hex.EncodeToString(tx))
	if w.Error != nil || result[ctypes.ResultBroadcastTx](t, w.Result).Hash.String() != strings.ToUpper(hex.EncodeToString(h[:])) {
		t.Errorf("GET /broadcast_tx_sync?tx=0x...: %+v", w)
	}
	if w := uri("/broadcast_tx_sync?tx=" + url.QueryEscape(`"k2=v2"`)); w.Error != nil {
		t.Errorf("a quoted tx: %+v", w.Error)
	}
	if got := f.pendingTxs(); len(got) != 2 || string(got[0]) != "k=v" || string(got[1]) != "k2=v2" {
		t.Errorf("the node got %q", got)
	}
	// Strings are quoted; a bare word is refused, as by CometBFT.
	if w := uri(`/abci_query?path="/store"&data=0x6b`); w.Error != nil || f.queries[len(f.queries)-1].Path != "/store" {
		t.Errorf("quoted path: %+v", w.Error)
	}
	if w := uri(`/abci_query?path=store`); w.Error == nil || w.Error.Code != codeInvalidParams {
		t.Errorf("bare path: %+v", w)
	}
	ha := chain.TxHash([]byte("a=1"))
	if w := uri("/tx?hash=0x" + hex.EncodeToString(ha[:]) + "&prove=true"); w.Error != nil {
		t.Errorf("GET /tx?hash=0x...: %+v", w.Error)
	}
	if w := uri("/block?height=0x01"); w.Error == nil || w.Error.Code != codeInvalidParams {
		t.Errorf("a hex height: %+v", w)
	}
	if w := uri("/subscribe?query=x"); w.Error == nil || w.Error.Code != codeNoMethod {
		t.Errorf("subscribe by URI: %+v", w)
	}
	if w := uri("/nosuch"); w.Error == nil || w.Error.Code != codeNoMethod {
		t.Errorf("unknown path: %+v", w)
	}
}

// A batch's broadcasts reach the node in one admission, in request
// order, and each request gets its own transaction's answer: the load of
// CometBFT's tools (batches of broadcast_tx_async) then costs the node
// one admission per batch, not one per transaction.
func TestBatchAdmitsTogether(t *testing.T) {
	f := newFake(t, 1)
	_, url := serve(t, f, Config{})
	code, b := post(t, url, `[
		{"jsonrpc":"2.0","id":1,"method":"broadcast_tx_async","params":{"tx":"YT0x"}},
		{"jsonrpc":"2.0","id":2,"method":"broadcast_tx_sync","params":{"tx":"YmFk"}},
		{"jsonrpc":"2.0","id":3,"method":"health"},
		{"jsonrpc":"2.0","id":4,"method":"broadcast_tx_async","params":{"tx":"YT0x"}},
		{"jsonrpc":"2.0","id":5,"method":"broadcast_tx_async","params":{"tx":"Yj0y"}}
	]`)
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, b)
	}
	var ws []wire
	if err := json.Unmarshal(b, &ws); err != nil || len(ws) != 5 {
		t.Fatalf("%d answers (%v), want 5: %s", len(ws), err, clipBytes(b))
	}
	var res [5]ctypes.ResultBroadcastTx
	for i, w := range ws {
		if string(w.ID) != fmt.Sprint(i+1) {
			t.Fatalf("answer %d has id %s", i, w.ID)
		}
		if w.Error == nil && i != 2 {
			if err := cmtjson.Unmarshal(w.Result, &res[i]); err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
		}
	}
	if h := chain.TxHash([]byte("a=1")); ws[0].Error != nil || res[0].Code != 0 || !bytes.Equal(res[0].Hash, h[:]) {
		t.Errorf("a=1: %+v %+v", ws[0], res[0])
	}
	if res[1].Code != 7 || res[1].Log != "bad transaction" {
		t.Errorf("refused transaction: %+v", res[1])
	}
	if ws[3].Error == nil || !strings.Contains(ws[3].Error.Data, "already exists in cache") {
		t.Errorf("second copy of a=1: %+v", ws[3])
	}
	if h := chain.TxHash([]byte("b=2")); ws[4].Error != nil || !bytes.Equal(res[4].Hash, h[:]) {
		t.Errorf("b=2: %+v %+v", ws[4], res[4])
	}
	if got := f.batchSizes(); !slices.Equal(got, []int{4}) {
		t.Errorf("admissions of sizes %v, want one of 4", got)
	}
}
