package kv

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/apptest"
)

// syncState is a state after a few blocks (overwrites, a delete), with
// its export at the latest height.
func syncState(t *testing.T) (a *App, st *memState, keys, values [][]byte) {
	t.Helper()
	st = newMemState()
	a = New(st)
	if _, err := a.InitChain(ctx, app.Genesis{ChainID: "c"}); err != nil {
		t.Fatal(err)
	}
	exec(t, a, st, "a=1", "b=2", "c=3")
	exec(t, a, st, "a=4", "junk", "d=x y")
	exec(t, a, st, "c=", "e=5")
	h, _ := st.AppState()
	keys, values, err := apptest.Export(a, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("exported %d keys, want 4", len(keys))
	}
	return a, st, keys, values
}

// A node restored from an export at the latest height holds the same
// state as the one that executed the blocks, answers the same, and goes
// on to the same app hashes.
func TestStateSync(t *testing.T) {
	a, st, keys, values := syncState(t)
	h, root := st.AppState()
	puts, hash, err := a.RestoreState(app.Genesis{ChainID: "c"}, h, keys, values)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, root) {
		t.Fatalf("restored app hash %x, want %x", hash, root)
	}
	rst := apptest.Restored(puts, h, hash)
	want, err := apptest.Scan(st)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := apptest.Scan(rst); err != nil || !maps.Equal(got, want) {
		t.Fatalf("restored state %q (%v), want %q", got, err, want)
	}
	b := New(rst)
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		for _, q := range []app.Query{{Data: []byte(k)}, {Data: []byte(k), Height: h, Prove: true}} {
			ra, err := a.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if rb, err := b.Query(ctx, q); err != nil || !reflect.DeepEqual(ra, rb) {
				t.Fatalf("query %+v: %+v (%v) on the restored node, %+v on the original", q, rb, err, ra)
			}
		}
	}
	next := []string{"b=", "f=6", "a=4"}
	if ra, rb := exec(t, a, st, next...), exec(t, b, rst, next...); !bytes.Equal(ra.AppHash, rb.AppHash) {
		t.Fatalf("next block: %x on the restored node, %x on the original", rb.AppHash, ra.AppHash)
	}
}

// A tampered export restores to another app hash, or is refused with an
// error naming the pair; heights not kept cannot be exported.
func TestRestoreStateTampered(t *testing.T) {
	a, st, keys, values := syncState(t)
	h, root := st.AppState()
	tamper := func(fn func(ks, vs [][]byte) ([][]byte, [][]byte)) error {
		ks, vs := fn(slices.Clone(keys), slices.Clone(values))
		_, hash, err := a.RestoreState(app.Genesis{}, h, ks, vs)
		if err == nil && bytes.Equal(hash, root) {
			t.Fatal("a tampered export restored to the certified app hash")
		}
		return err
	}
	for name, fn := range map[string]func(ks, vs [][]byte) ([][]byte, [][]byte){
		"changed value": func(ks, vs [][]byte) ([][]byte, [][]byte) { vs[1] = []byte("other"); return ks, vs },
		"extra pair":    func(ks, vs [][]byte) ([][]byte, [][]byte) { return append(ks, []byte("z")), append(vs, []byte("1")) },
		"missing pair":  func(ks, vs [][]byte) ([][]byte, [][]byte) { return ks[1:], vs[1:] },
	} {
		if err := tamper(fn); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, fn := range map[string]func(ks, vs [][]byte) ([][]byte, [][]byte){
		"empty key":     func(ks, vs [][]byte) ([][]byte, [][]byte) { ks[1] = nil; return ks, vs },
		"empty value":   func(ks, vs [][]byte) ([][]byte, [][]byte) { vs[1] = []byte{}; return ks, vs },
		"duplicate key": func(ks, vs [][]byte) ([][]byte, [][]byte) { ks[1] = ks[0]; return ks, vs },
	} {
		if err := tamper(fn); err == nil || !strings.Contains(err.Error(), "pair 1 ") {
			t.Errorf("%s: %v, want an error naming pair 1", name, err)
		}
	}
	if err := tamper(func(ks, vs [][]byte) ([][]byte, [][]byte) { return ks[1:], vs }); err == nil {
		t.Error("more values than keys restored")
	}
	if err := a.ExportState(h+1, func(_, _ []byte) error { return nil }); !errors.Is(err, app.ErrNotKept) {
		t.Errorf("export above the latest height: %v", err)
	}
}
