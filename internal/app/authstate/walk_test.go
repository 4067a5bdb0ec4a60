package authstate

import (
	"bytes"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/apptest"
)

func pairs(t *testing.T, walk func(fn func(k, v []byte) error) error) map[string]string {
	t.Helper()
	got := map[string]string{}
	if err := walk(func(k, v []byte) error { got[string(k)] = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// Walk gives each kept height's pairs; a height not kept is the error
// Prove gives.
func TestWalk(t *testing.T) {
	tr, err := Load(1, [][]byte{[]byte("a"), []byte("b")}, [][]byte{[]byte("1"), []byte("2")}, 2)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(2); h <= 3; h++ {
		if _, err := tr.Apply(h, [][]byte{[]byte("a"), []byte("c")}, [][]byte{nil, {byte('0' + h)}}); err != nil {
			t.Fatal(err)
		}
	}
	for h, want := range map[uint64]map[string]string{2: {"b": "2", "c": "2"}, 3: {"b": "2", "c": "3"}} {
		if got := pairs(t, func(fn func(k, v []byte) error) error { return tr.Walk(h, fn) }); !maps.Equal(got, want) {
			t.Errorf("height %d: %q, want %q", h, got, want)
		}
	}
	for _, h := range []uint64{1, 4} {
		err := tr.Walk(h, func(_, _ []byte) error { return nil })
		_, perr := tr.Prove(h, []byte("a"))
		var nk *app.NotKeptError
		if !errors.As(err, &nk) || !reflect.DeepEqual(err, perr) {
			t.Errorf("height %d: %v, want %v", h, err, perr)
		}
	}
}

// Lazy.Walk builds the tree from the store, as Query does.
func TestLazyWalk(t *testing.T) {
	st := apptest.NewMemState()
	st.KV = map[string][]byte{"p/a": []byte("1"), "p/b": []byte("2"), "q/c": []byte("3")}
	st.Height = 5
	l := NewLazy(st, "p/", func(k []byte) ([]byte, error) { return bytes.Clone(k), nil })
	if got := pairs(t, func(fn func(k, v []byte) error) error { return l.Walk(5, fn) }); !maps.Equal(got, map[string]string{"a": "1", "b": "2"}) {
		t.Fatalf("walked %q", got)
	}
	if err := l.Walk(4, func(_, _ []byte) error { return nil }); !errors.Is(err, app.ErrNotKept) {
		t.Fatalf("height 4: %v", err)
	}
}

// Restore's puts and root are those of the pairs; what the application
// or the tree refuses is an error naming the pair.
func TestRestore(t *testing.T) {
	keys, values := [][]byte{[]byte("a"), []byte("b")}, [][]byte{[]byte("1"), []byte("2")}
	storeKey := func(k, _ []byte) (string, error) {
		if string(k) == "bad" {
			return "", errors.New("bad key")
		}
		return "p/" + string(k), nil
	}
	puts, root, err := Restore(keys, values, storeKey)
	want, _ := Load(0, keys, values, 1)
	if _, r := want.Latest(); err != nil || !bytes.Equal(root, r) || len(puts) != 2 || string(puts["p/b"]) != "2" {
		t.Fatalf("puts %q, root %x, %v", puts, root, err)
	}
	for _, k := range []string{"bad", "", "a"} {
		if _, _, err := Restore(append(keys, []byte(k)), append(values, []byte("3")), storeKey); err == nil || !strings.Contains(err.Error(), "pair 2 ") {
			t.Errorf("key %q: %v", k, err)
		}
	}
	if _, _, err := Restore(keys, [][]byte{values[0], nil}, storeKey); err == nil {
		t.Error("empty value restored")
	}
}
