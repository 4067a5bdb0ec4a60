package smt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
	"pgregory.net/rapid"
)

// refRoot computes the root of contents straight from the hashing scheme,
// without the tree: an independent oracle for Build and Update.
func refRoot(contents map[string][]byte) []byte {
	type kv struct {
		path [32]byte
		v    []byte
	}
	var all []kv
	for k, v := range contents {
		all = append(all, kv{sha256.Sum256([]byte(k)), v})
	}
	slices.SortFunc(all, func(a, b kv) int { return bytes.Compare(a.path[:], b.path[:]) })
	var rec func(s []kv, d int) []byte
	rec = func(s []kv, d int) []byte {
		switch len(s) {
		case 0:
			return make([]byte, 32)
		case 1:
			vh := sha256.Sum256(s[0].v)
			h := sha256.Sum256(slices.Concat([]byte{0}, s[0].path[:], vh[:]))
			return h[:]
		}
		i := 0
		for i < len(s) && s[i].path[d/8]&(0x80>>(d%8)) == 0 {
			i++
		}
		h := sha256.Sum256(slices.Concat([]byte{1}, rec(s[:i], d+1), rec(s[i:], d+1)))
		return h[:]
	}
	return rec(all, 0)
}

func buildMap(t tb, m map[string][]byte) *Tree {
	t.Helper()
	var ks, vs [][]byte
	for k, v := range m {
		ks, vs = append(ks, []byte(k)), append(vs, v)
	}
	tr, err := Build(ks, vs)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func encode(t tb, p *ics23.CommitmentProof) []byte {
	t.Helper()
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkTree checks everything a version must satisfy against its contents
// and the keys of universe: Len, Get, the root, and proofs of every key
// through both ics23 and VerifyProof, including ones that must fail.
func checkTree(t tb, tr *Tree, contents map[string][]byte, universe []string, otherRoots [][]byte) {
	t.Helper()
	if tr.Len() != len(contents) {
		t.Fatalf("Len %d, want %d", tr.Len(), len(contents))
	}
	root := tr.Root()
	if want := refRoot(contents); !bytes.Equal(root, want) {
		t.Fatalf("root %x, want %x", root, want)
	}
	for _, k := range universe {
		key := []byte(k)
		want, present := contents[k]
		got, ok := tr.Get(key)
		if ok != present || !bytes.Equal(got, want) {
			t.Fatalf("Get(%q) = %x %v, want %x %v", k, got, ok, want, present)
		}
		p, err := tr.Prove(key)
		if len(contents) == 0 {
			if !errors.Is(err, ErrEmptyTree) {
				t.Fatalf("Prove in the empty tree: %v", err)
			}
			if err := VerifyProof(root, key, nil, nil); err != nil {
				t.Fatalf("empty tree non-membership: %v", err)
			}
			if VerifyProof(root, key, []byte("v"), nil) == nil {
				t.Fatal("membership in the empty tree verified")
			}
			continue
		}
		if err != nil {
			t.Fatalf("Prove(%q): %v", k, err)
		}
		enc := encode(t, p)
		if present {
			if !ics23.VerifyMembership(ics23.SmtSpec, root, p, key, want) {
				t.Fatalf("membership of %q fails in ics23", k)
			}
			if err := VerifyProof(root, key, want, enc); err != nil {
				t.Fatalf("VerifyProof(%q): %v", k, err)
			}
			if ics23.VerifyMembership(ics23.SmtSpec, root, p, key, append(slices.Clone(want), 'x')) ||
				VerifyProof(root, key, append(slices.Clone(want), 'x'), enc) == nil {
				t.Fatalf("membership of %q with a wrong value verifies", k)
			}
			if VerifyProof(root, key, nil, enc) == nil {
				t.Fatalf("non-membership of present %q verifies", k)
			}
		} else {
			if !ics23.VerifyNonMembership(ics23.SmtSpec, root, p, key) {
				t.Fatalf("non-membership of %q fails in ics23: %v", k, p)
			}
			if err := VerifyProof(root, key, nil, enc); err != nil {
				t.Fatalf("VerifyProof(%q absent): %v", k, err)
			}
			if VerifyProof(root, key, []byte("v"), enc) == nil {
				t.Fatalf("membership of absent %q verifies", k)
			}
		}
		// The proof of one key proves nothing about another.
		for _, o := range universe[:min(3, len(universe))] {
			if o == k {
				continue
			}
			if present && ics23.VerifyMembership(ics23.SmtSpec, root, p, []byte(o), want) {
				t.Fatalf("proof of %q proves %q", k, o)
			}
			if !present && contents[o] != nil && VerifyProof(root, []byte(o), nil, enc) == nil {
				t.Fatalf("non-membership proof of %q proves absence of present %q", k, o)
			}
		}
		// Nor under another version's root.
		for _, r := range otherRoots {
			if bytes.Equal(r, root) {
				continue
			}
			if VerifyProof(r, key, want, enc) == nil {
				t.Fatalf("proof of %q verifies under another root", k)
			}
		}
	}
}

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

type version struct {
	tree     *Tree
	root     []byte
	contents map[string][]byte
}

func TestUpdateProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// A small key space, so batches overwrite and delete each other's keys.
		nkeys := rapid.IntRange(1, 40).Draw(t, "nkeys")
		universe := make([]string, nkeys)
		for i := range universe {
			universe[i] = fmt.Sprintf("key-%d", i)
		}
		universe = append(universe, "absent-a", "absent-b")
		keyGen := rapid.IntRange(0, nkeys-1)
		valGen := rapid.SliceOfN(rapid.Byte(), 0, 6) // empty deletes

		tr := New()
		contents := map[string][]byte{}
		versions := []version{{tr, tr.Root(), maps.Clone(contents)}}
		for b := range rapid.IntRange(1, 8).Draw(t, "batches") {
			n := rapid.IntRange(0, 20).Draw(t, fmt.Sprintf("size%d", b))
			var ks, vs [][]byte
			for i := range n {
				k := universe[keyGen.Draw(t, fmt.Sprintf("k%d.%d", b, i))]
				v := valGen.Draw(t, fmt.Sprintf("v%d.%d", b, i))
				ks, vs = append(ks, []byte(k)), append(vs, v)
				if len(v) == 0 {
					delete(contents, k)
				} else {
					contents[k] = slices.Clone(v)
				}
			}
			var err error
			tr, err = tr.Update(ks, vs)
			if err != nil {
				t.Fatal(err)
			}
			// The batch's slices are the caller's: the tree must have copied them.
			for _, v := range vs {
				for i := range v {
					v[i] ^= 0xff
				}
			}
			versions = append(versions, version{tr, tr.Root(), maps.Clone(contents)})
		}
		var roots [][]byte
		for _, v := range versions {
			roots = append(roots, v.root)
		}
		// Every version, old ones included, still holds after all updates.
		for _, v := range versions {
			if !bytes.Equal(v.tree.Root(), v.root) {
				t.Fatalf("old version's root changed")
			}
			checkTree(t, v.tree, v.contents, universe, roots)
		}
		// The root depends only on the contents.
		final := versions[len(versions)-1]
		if len(final.contents) > 0 {
			if r := buildMap(t, final.contents).Root(); !bytes.Equal(r, final.root) {
				t.Fatalf("Build root %x, Update root %x", r, final.root)
			}
		}
		keys := slices.Collect(maps.Keys(final.contents))
		slices.Sort(keys)
		perm := rapid.Permutation(keys).Draw(t, "order")
		var ks, vs [][]byte
		one := New()
		for _, k := range perm {
			ks, vs = append(ks, []byte(k)), append(vs, final.contents[k])
			var err error
			if one, err = one.Update([][]byte{[]byte(k)}, [][]byte{final.contents[k]}); err != nil {
				t.Fatal(err)
			}
		}
		batch, err := New().Update(ks, vs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(batch.Root(), final.root) || !bytes.Equal(one.Root(), final.root) {
			t.Fatalf("roots differ: history %x, one batch %x, one key at a time %x", final.root, batch.Root(), one.Root())
		}
	})
}

func TestBuildProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := rapid.MapOfN(rapid.StringN(1, 8, -1), rapid.SliceOfN(rapid.Byte(), 1, 8), 0, 300).Draw(t, "contents")
		tr := buildMap(t, m)
		universe := slices.Collect(maps.Keys(m))
		universe = append(universe, "\x00absent", "absent\xff")
		checkTree(t, tr, m, universe, nil)
	})
}
