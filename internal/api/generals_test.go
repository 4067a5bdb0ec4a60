package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGeneralsEndpointRuns(t *testing.T) {
	srv := httptest.NewServer(newGeneralsHandler())
	defer srv.Close()

	// Three generals and one traitor: OM(1) cannot work, and the search
	// finds the case that breaks it.
	r := call(t, http.MethodGet, srv.URL+"/?algorithm=om&generals=3&traitors=1&exhaustive=true", nil)
	if r.code != http.StatusOK {
		t.Fatalf("3 generals: %d %s", r.code, clip(r.raw))
	}
	if v, _ := r.m["violations"].(float64); v == 0 || r.m["exhaustive"] != true || r.m["ic1"] == true && r.m["ic2"] == true {
		t.Errorf("3 generals, 1 traitor: %s, want a violation", clip(r.raw))
	}
	// Four: OM(1) holds in every case.
	r = call(t, http.MethodGet, srv.URL+"/?algorithm=om&generals=4&traitors=1&exhaustive=true", nil)
	if v, ok := r.m["violations"].(float64); r.code != http.StatusOK || !ok || v != 0 || r.m["ic1"] != true || r.m["ic2"] != true {
		t.Errorf("4 generals, 1 traitor: %d %s, want no violation", r.code, clip(r.raw))
	}
	if _, ok := r.m["cases"].(float64); !ok {
		t.Errorf("exhaustive answer lacks cases: %s", clip(r.raw))
	}

	// One run: the contract's JSON of `strategos generals --json`, the
	// trace on request, and a traitor lieutenant relaying the opposite.
	r = call(t, http.MethodGet, srv.URL+"/?generals=3&traitor_ids=1&trace=true", nil)
	if r.code != http.StatusOK {
		t.Fatalf("single run: %d %s", r.code, clip(r.raw))
	}
	for _, k := range []string{"algorithm", "generals", "m", "traitors", "order", "decisions", "ic1", "ic2", "messages"} {
		if _, ok := r.m[k]; !ok {
			t.Errorf("answer lacks %q: %s", k, clip(r.raw))
		}
	}
	if r.m["algorithm"] != "om" || r.m["generals"] != 3.0 || r.m["m"] != 1.0 || r.m["messages"] != 4.0 || r.m["ic2"] != false {
		t.Errorf("OM(1), 3 generals, L1 flips: %s", clip(r.raw))
	}
	if d := r.m["decisions"].(map[string]any); d["2"] != "retreat" || len(d) != 1 {
		t.Errorf("decisions %v, want L2 alone deciding retreat", d)
	}
	trace, _ := r.m["trace"].([]any)
	if len(trace) == 0 || !strings.Contains(trace[0].(string), "round 1") {
		t.Errorf("trace %v", trace)
	}
	if _, ok := r.m["exhaustive"]; ok {
		t.Errorf("a single run carries search counts: %s", clip(r.raw))
	}
	// SM with the same traitor keeps both conditions.
	if r = call(t, http.MethodGet, srv.URL+"/?algorithm=sm&generals=3&traitor_ids=1&exhaustive=1", nil); r.m["violations"] != 0.0 {
		t.Errorf("SM(1), 3 generals: %s, want no violation", clip(r.raw))
	}
}

func TestGeneralsEndpointRefuses(t *testing.T) {
	srv := httptest.NewServer(newGeneralsHandler())
	defer srv.Close()
	for _, c := range []struct{ query, want string }{
		{"generals=11", "generals must be an integer from 2 to 10"},
		{"generals=1", "generals must be"},
		{"generals=four", "generals must be"},
		{"m=4", "m must be"},
		{"generals=10&traitors=4", "give m"},
		{"traitors=5", "traitors must be"},
		{"traitor_ids=0,0", "listed twice"},
		{"traitor_ids=7", "not a general id"},
		{"algorithm=paxos", "unknown algorithm"},
		{"order=hold", "unknown order"},
		{"strategy=bribe", "unknown strategy"},
		{"seed=-1", "seed"},
		{"exhaustive=maybe", "exhaustive"},
		{"generals=10&traitors=3&exhaustive=true", "too large"},
	} {
		r := call(t, http.MethodGet, srv.URL+"/?"+c.query, nil)
		wantErr(t, c.query, r, http.StatusBadRequest, c.want)
	}
}

func TestGeneralsEndpointBusy(t *testing.T) {
	h := newGeneralsHandler()
	for range cap(h.slots) {
		h.slots <- struct{}{} // every slot taken by a run in progress
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	wantErr(t, "all slots taken", call(t, http.MethodGet, srv.URL+"/?generals=4", nil), http.StatusServiceUnavailable, "busy")
	<-h.slots
	if r := call(t, http.MethodGet, srv.URL+"/?generals=4", nil); r.code != http.StatusOK {
		t.Errorf("a free slot: %d %s", r.code, clip(r.raw))
	}
}

// TestWebRoutes checks how the API mounts the web view: the page at
// exactly "/", its assets under /web/, the generals endpoint, and the JSON
// 404 for every other path.
func TestWebRoutes(t *testing.T) {
	tn := startNode(t, "kv")
	base := tn.srv.URL
	for _, c := range []struct{ path, ctype, body string }{
		{"/", "text/html", "<title>Strategos</title>"},
		{"/web/style.css", "text/css", ":root"},
		{"/web/js/app.js", "text/javascript", "import"},
	} {
		resp, err := http.Get(base + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(body), c.body) {
			t.Errorf("GET %s: %d %q, want 200 %s containing %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.ctype, c.body)
		}
	}
	for _, p := range []string{"/index.html", "/nope", "/web/nope.js", "/v1/nope"} {
		wantErr(t, "GET "+p, call(t, http.MethodGet, base+p, nil), http.StatusNotFound)
	}
	wantErr(t, "POST /", call(t, http.MethodPost, base+"/", strings.NewReader("x")), http.StatusNotFound, "no route")
	if r := call(t, http.MethodGet, base+"/v1/generals?generals=4", nil); r.code != http.StatusOK || r.m["ic1"] != true {
		t.Errorf("GET /v1/generals: %d %s", r.code, clip(r.raw))
	}
	st := call(t, http.MethodGet, base+"/v1/status", nil)
	if links, ok := st.m["links"].([]any); !ok || len(links) != 0 {
		t.Errorf("status links of a single validator: %v, want []", st.m["links"])
	}
}
