package bank

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

// syncFixture is a ledger after a few blocks of transfers (one of them to
// an account that genesis did not fund), with its export at the latest
// height.
func syncFixture(t *testing.T) (f *fixture, height uint64, keys, values [][]byte) {
	t.Helper()
	f = newFixture(t, 4, 100, 50, 7)
	f.exec(t, f.tx(t, 0, 1, 10, 0), f.tx(t, 0, 3, 20, 1))
	f.exec(t, f.tx(t, 1, 2, 30, 0), f.tx(t, 3, 0, 5, 0), f.tx(t, 2, 0, 1000, 0))
	f.exec(t, f.tx(t, 2, 0, 1, 0))
	height, _ = f.st.AppState()
	keys, values, err := apptest.Export(f.app, height)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 4 {
		t.Fatalf("exported %d accounts, want 4", len(keys))
	}
	return f, height, keys, values
}

// A node restored from an export at the latest height holds the same
// state as the one that executed the blocks, answers the same, and goes
// on to the same app hashes.
func TestStateSync(t *testing.T) {
	f, h, keys, values := syncFixture(t)
	_, root := f.st.AppState()
	puts, hash, err := f.app.RestoreState(f.gen, h, keys, values)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, root) {
		t.Fatalf("restored app hash %x, want %x", hash, root)
	}
	st := apptest.Restored(puts, h, hash)
	want, err := apptest.Scan(f.st)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := apptest.Scan(st); err != nil || !maps.Equal(got, want) {
		t.Fatalf("restored state %q (%v), want %q", got, err, want)
	}
	b := newApp(t, st, testChain)
	for _, q := range []app.Query{{Path: "supply"}, {Path: "account", Data: []byte(addrOf(testKey(9)).String())}} {
		sameAnswer(t, f.app, b, q)
	}
	for _, k := range f.keys {
		addr := addrOf(k)
		sameAnswer(t, f.app, b, app.Query{Path: "account", Data: addr[:]})
		sameAnswer(t, f.app, b, app.Query{Path: "account", Data: addr[:], Height: h, Prove: true})
	}
	next := app.NewTxs([][]byte{f.tx(t, 0, 2, 3, 2), f.tx(t, 3, 1, 1, 1)})
	ra, err := f.app.finalizeCommit(f.st, next)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.finalizeCommit(st, app.NewTxs(app.Bytes(next)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ra.AppHash, rb.AppHash) || !reflect.DeepEqual(ra.TxResults, rb.TxResults) {
		t.Fatalf("next block: %x %+v on the restored node, %x %+v on the original", rb.AppHash, rb.TxResults, ra.AppHash, ra.TxResults)
	}
}

func sameAnswer(t *testing.T, a, b *App, q app.Query) {
	t.Helper()
	ra, err := a.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.Query(ctx, q)
	if err != nil || !reflect.DeepEqual(ra, rb) {
		t.Fatalf("query %+v: %+v (%v) on the restored node, %+v on the original", q, rb, err, ra)
	}
}

// A tampered export restores to another app hash, or is refused with an
// error naming the pair; heights not kept cannot be exported.
func TestRestoreStateTampered(t *testing.T) {
	f, h, keys, values := syncFixture(t)
	_, root := f.st.AppState()
	tamper := func(fn func(ks, vs [][]byte) ([][]byte, [][]byte)) error {
		ks, vs := fn(slices.Clone(keys), slices.Clone(values))
		_, hash, err := f.app.RestoreState(f.gen, h, ks, vs)
		if err == nil && bytes.Equal(hash, root) {
			t.Fatal("a tampered export restored to the certified app hash")
		}
		return err
	}
	for name, fn := range map[string]func(ks, vs [][]byte) ([][]byte, [][]byte){
		"changed balance": func(ks, vs [][]byte) ([][]byte, [][]byte) {
			vs[1] = account{balance: 1 << 40}.encode()
			return ks, vs
		},
		"extra account": func(ks, vs [][]byte) ([][]byte, [][]byte) {
			a := addrOf(testKey(9))
			return append(ks, a[:]), append(vs, account{balance: 1}.encode())
		},
		"missing account": func(ks, vs [][]byte) ([][]byte, [][]byte) { return ks[1:], vs[1:] },
	} {
		if err := tamper(fn); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, fn := range map[string]func(ks, vs [][]byte) ([][]byte, [][]byte){
		"short key":     func(ks, vs [][]byte) ([][]byte, [][]byte) { ks[1] = ks[1][:19]; return ks, vs },
		"long key":      func(ks, vs [][]byte) ([][]byte, [][]byte) { ks[1] = append(slices.Clone(ks[1]), 0); return ks, vs },
		"short value":   func(ks, vs [][]byte) ([][]byte, [][]byte) { vs[1] = vs[1][:15]; return ks, vs },
		"empty value":   func(ks, vs [][]byte) ([][]byte, [][]byte) { vs[1] = nil; return ks, vs },
		"duplicate key": func(ks, vs [][]byte) ([][]byte, [][]byte) { ks[1] = ks[0]; return ks, vs },
	} {
		if err := tamper(fn); err == nil || !strings.Contains(err.Error(), "pair 1 ") {
			t.Errorf("%s: %v, want an error naming pair 1", name, err)
		}
	}
	if err := tamper(func(ks, vs [][]byte) ([][]byte, [][]byte) { return ks, vs[1:] }); err == nil {
		t.Error("more keys than values restored")
	}

	if err := f.app.ExportState(h+1, func(_, _ []byte) error { return nil }); !errors.Is(err, app.ErrNotKept) {
		t.Errorf("export above the latest height: %v", err)
	}
	puts, hash, _ := f.app.RestoreState(f.gen, h, keys, values)
	b := newApp(t, apptest.Restored(puts, h, hash), testChain)
	if err := b.ExportState(h-1, func(_, _ []byte) error { return nil }); !errors.Is(err, app.ErrNotKept) {
		t.Errorf("export below the restored height: %v", err)
	}
}
