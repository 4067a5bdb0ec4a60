package rpc

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// wire is an answer as it travels.
type wire struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcError       `json:"error"`
}

// post sends body to url and returns the status and the raw answer.
func post(t testing.TB, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func get(t testing.TB, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decodeWire(t testing.TB, b []byte) wire {
	t.Helper()
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("answer is not one JSON-RPC object: %v: %s", err, clipBytes(b))
	}
	if w.JSONRPC != "2.0" {
		t.Fatalf("answer without jsonrpc 2.0: %s", clipBytes(b))
	}
	return w
}

func clipBytes(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// call makes one JSON-RPC call with params (as a client writes them)
// and returns its raw result; it fails the test on an error answer.
func call(t testing.TB, url, method string, params any) json.RawMessage {
	t.Helper()
	w := callWire(t, url, method, params)
	if w.Error != nil {
		t.Fatalf("%s: error %+v", method, *w.Error)
	}
	return w.Result
}

// callErr makes a call that must fail, and returns its error.
func callErr(t testing.TB, url, method string, params any) *rpcError {
	t.Helper()
	w := callWire(t, url, method, params)
	if w.Error == nil {
		t.Fatalf("%s: answered %s, want an error", method, clipBytes(w.Result))
	}
	return w.Error
}

func callWire(t testing.TB, url, method string, params any) wire {
	t.Helper()
	req := map[string]any{"jsonrpc": "2.0", "id": 7, "method": method}
	if params != nil {
		req["params"] = params
	}
	body, _ := json.Marshal(req)
	code, b := post(t, url, string(body))
	if code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", method, code, clipBytes(b))
	}
	w := decodeWire(t, b)
	if string(w.ID) != "7" {
		t.Fatalf("%s: id %s, want 7", method, w.ID)
	}
	return w
}

// result decodes a result into v with cmtjson, as CometBFT's clients do,
// and checks that cmtjson encodes v back to the same JSON: the answer
// has precisely the shape of CometBFT's type, no field missing, extra,
// renamed or encoded otherwise. Two things may differ in the bytes
// alone: cmtjson decodes an empty array to a nil slice, which it writes
// as null (CometBFT itself writes [] for the empty lists of a block it
// read), and it writes a map's keys in Go's random order.
func result[T any](t testing.TB, raw json.RawMessage) *T {
	t.Helper()
	v := new(T)
	if err := cmtjson.Unmarshal(raw, v); err != nil {
		t.Fatalf("cmtjson cannot decode the answer into %T: %v\n%s", v, err, clipBytes(raw))
	}
	again, err := cmtjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(generic(t, raw), generic(t, again)) {
		raw, again := norm(raw), norm(again)
		i := 0
		for i < len(raw) && i < len(again) && raw[i] == again[i] {
			i++
		}
		from := max(i-80, 0)
		t.Fatalf("%T: the answer is not cmtjson's encoding of its value; from byte %d:\n got: %s\nwant: %s", v, from,
			clipBytes(raw[from:]), clipBytes(again[from:]))
	}
	return v
}

func norm(b []byte) []byte { return bytes.ReplaceAll(b, []byte("[]"), []byte("null")) }

// generic decodes JSON into maps, slices and strings, with empty arrays
// as null.
func generic(t testing.TB, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(norm(b)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, clipBytes(b))
	}
	return v
}

// sameJSON asserts that raw is exactly cmtjson's encoding of want.
func sameJSON(t testing.TB, what string, raw json.RawMessage, want any) {
	t.Helper()
	b, err := cmtjson.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, raw) {
		t.Errorf("%s:\n got: %s\nwant: %s", what, clipBytes(raw), clipBytes(b))
	}
}
