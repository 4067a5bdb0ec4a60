package smt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"testing"
)

// walked returns what Walk gives of tr, checking that it comes in path
// order and once per key.
func walked(t *testing.T, tr *Tree) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	var last []byte
	err := tr.Walk(func(k, v []byte) error {
		p := sha256.Sum256(k)
		if last != nil && bytes.Compare(last, p[:]) >= 0 {
			t.Fatalf("key %q out of path order", k)
		}
		if _, dup := got[string(k)]; dup {
			t.Fatalf("key %q walked twice", k)
		}
		last, got[string(k)] = p[:], bytes.Clone(v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Walk gives exactly the pairs of a built tree, and of the versions that
// updates (overwrites, deletes, new keys) made from it.
func TestWalk(t *testing.T) {
	m := map[string][]byte{}
	for i := range 3000 {
		m[fmt.Sprint("key", i)] = fmt.Appendf(nil, "v%d", i)
	}
	tr := buildMap(t, m)
	if got := walked(t, tr); !maps.EqualFunc(got, m, bytes.Equal) {
		t.Fatalf("walked %d pairs, want %d", len(got), len(m))
	}
	var ks, vs [][]byte
	for i := 0; i < 4000; i += 3 {
		k, v := fmt.Sprint("key", i), fmt.Appendf(nil, "w%d", i)
		if i%2 == 0 {
			v = nil
			delete(m, k)
		} else {
			m[k] = v
		}
		ks, vs = append(ks, []byte(k)), append(vs, v)
	}
	up, err := tr.Update(ks, vs)
	if err != nil {
		t.Fatal(err)
	}
	if got := walked(t, up); !maps.EqualFunc(got, m, bytes.Equal) || len(got) != up.Len() {
		t.Fatalf("after update walked %d pairs, want %d", len(got), len(m))
	}
}

func TestWalkEmptyAndStop(t *testing.T) {
	empty, _ := Build(nil, nil)
	for _, tr := range []*Tree{New(), empty} {
		if err := tr.Walk(func(k, _ []byte) error { t.Fatalf("empty tree walked %q", k); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	tr := buildMap(t, map[string][]byte{"a": {1}, "b": {2}, "c": {3}, "d": {4}})
	stop := errors.New("stop")
	calls := 0
	err := tr.Walk(func(_, _ []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 2 {
		t.Fatalf("walk returned %v after %d calls, want stop after 2", err, calls)
	}
}
