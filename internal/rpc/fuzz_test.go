package rpc

import (
	"runtime"
	"testing"
)

// FuzzDecodeRequest feeds arbitrary bodies to the request decoder and
// every method's parameter decoder: they never panic, never decode more
// requests than the batch limit, allocate within a bounded multiple of
// the body, and whatever they accept has an id that is a JSON number or
// string, or none.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"status"}`,
		`{"jsonrpc":"2.0","id":"x","method":"block","params":{"height":"5"}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"health"},{"jsonrpc":"2.0","method":"health"}]`,
		`{"id":1,"method":"abci_query","params":["/p","6162","0",true]}`,
		`{"id":1,"method":"tx","params":{"hash":"AAAA","prove":true}}`,
		`{"id":1,"method":"validators","params":{"page":"2","per_page":-1}}`,
		`{"id":-1.5e300,"method":"broadcast_tx_sync","params":{"tx":"YT1i"}}`,
		`[[[[`, `[1,2,3]`, `{"id":{},"method":[]}`, `null`, `"\u0000"`, ``,
	} {
		f.Add([]byte(s))
	}
	const maxBatch = 8
	f.Fuzz(func(t *testing.T, body []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		reqs, reqErrs, err := decodeBody(body, maxBatch)
		for i, r := range reqs {
			if err == nil && reqErrs[i] == nil {
				for _, m := range methods {
					decodeJSONParams(m.params, r.Params)
				}
			}
		}
		runtime.ReadMemStats(&after)
		// Each of the ~20 methods decodes the params again: the bound
		// covers all of them.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(64*len(methods)*len(body))+(256<<10) {
			t.Fatalf("%d bytes allocated for a body of %d", alloc, len(body))
		}
		if err != nil {
			return
		}
		if len(reqs) > maxBatch || len(reqs) != len(reqErrs) || len(reqs) == 0 {
			t.Fatalf("%d requests, %d errors from %d bytes", len(reqs), len(reqErrs), len(body))
		}
		for i, r := range reqs {
			if id := r.ID; id != nil && id[0] != '"' && id[0] != '-' && (id[0] < '0' || id[0] > '9') {
				t.Fatalf("request %d has id %q", i, id)
			}
			if reqErrs[i] != nil {
				continue
			}
			if len(r.Params) > len(body) {
				t.Fatalf("params of %d bytes from a body of %d", len(r.Params), len(body))
			}
			for _, m := range methods {
				if p, err := decodeJSONParams(m.params, r.Params); err == nil && len(p) > len(m.params) {
					t.Fatalf("%d params decoded for %d", len(p), len(m.params))
				}
			}
		}
	})
}
