package store

import (
	"fmt"
	"os"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func outcomes(height, n int) []TxOutcome {
	var rs []TxOutcome
	for i := range n {
		r := TxOutcome{Hash: chain.TxHash(fmt.Appendf(nil, "tx %d/%d", height, i)), OK: i%3 != 0}
		if !r.OK {
			r.Code = uint32(1 + i%5)
		}
		if !r.OK {
			r.Error = fmt.Sprintf("reason %d at %d", i, height)
		}
		rs = append(rs, r)
	}
	return rs
}

// Outcomes committed with their blocks are found by hash, with their
// height; the index survives its own loss (a crash before Pebble wrote,
// or a deleted directory) because Open rebuilds it from the records.
func TestTxIndex(t *testing.T) {
	s, path := openTemp(t)
	blocks := chainOf(3)
	var all [][]TxOutcome
	for i, b := range blocks {
		rs := outcomes(i+1, 50+i)
		all = append(all, rs)
		if err := s.CommitExecuted(commitOf(b), AppWrite{Root: []byte{byte(i)}, Results: rs}); err != nil {
			t.Fatal(err)
		}
	}
	unknown := chain.TxHash([]byte("never committed"))
	check := func(s *Store, what string) {
		t.Helper()
		for i, rs := range all {
			hs := []chain.Hash{unknown}
			for _, r := range rs {
				hs = append(hs, r.Hash)
				got, height, ok, _ := s.TxOutcome(r.Hash)
				if !ok || height != uint64(i+1) || got != r {
					t.Fatalf("%s: outcome of %s = %+v at %d (%v), want %+v at %d", what, r.Hash.Short(), got, height, ok, r, i+1)
				}
			}
			heights, _ := s.TxHeights(hs)
			if heights[0] != 0 {
				t.Fatalf("%s: an unknown transaction at height %d", what, heights[0])
			}
			for _, h := range heights[1:] {
				if h != uint64(i+1) {
					t.Fatalf("%s: height %d, want %d", what, h, i+1)
				}
			}
		}
		if _, _, ok, _ := s.TxOutcome(unknown); ok {
			t.Fatalf("%s: an unknown transaction has an outcome", what)
		}
		if err := s.Err(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check(s, "written")
	s = reopen(t, s, path)
	check(s, "reopened")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(indexDir(path)); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, testChain, testGenesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	check(s, "rebuilt")
}

func TestResultsRecordRoundTrip(t *testing.T) {
	rs := append(outcomes(7, 20), TxOutcome{Hash: chain.Hash{9}, Code: 300, Error: string(make([]byte, 300))})
	rec, offs := encodeResults(rs)
	for i, off := range offs {
		got, err := decodeResult(rec, off)
		if err != nil || got != rs[i] {
			t.Fatalf("outcome %d: %+v %v", i, got, err)
		}
	}
	n := 0
	if err := forEachResult(rec, func(r TxOutcome, off uint32) {
		if r != rs[n] || off != offs[n] {
			t.Fatalf("walk %d: %+v at %d", n, r, off)
		}
		n++
	}); err != nil || n != len(rs) {
		t.Fatalf("walked %d of %d: %v", n, len(rs), err)
	}
	if _, err := decodeResult(rec[:10], 0); err == nil {
		t.Fatal("decoded a truncated record")
	}
}
