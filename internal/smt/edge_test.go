package smt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	ics23 "github.com/cosmos/ics23/go"
)

func TestEmptyTree(t *testing.T) {
	tr := New()
	if !bytes.Equal(tr.Root(), make([]byte, 32)) || tr.Len() != 0 {
		t.Fatalf("empty tree: root %x, len %d", tr.Root(), tr.Len())
	}
	if _, ok := tr.Get([]byte("k")); ok {
		t.Fatal("Get in the empty tree")
	}
	if _, err := tr.Prove([]byte("k")); !errors.Is(err, ErrEmptyTree) {
		t.Fatalf("Prove: %v", err)
	}
	// ics23 cannot express absence from the empty tree: a non-existence
	// proof without neighbours is rejected.
	bare := &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Nonexist{Nonexist: &ics23.NonExistenceProof{Key: []byte("k")}}}
	if ics23.VerifyNonMembership(ics23.SmtSpec, tr.Root(), bare, []byte("k")) {
		t.Fatal("ics23 now accepts a bare non-existence proof; VerifyProof's special case may go")
	}
	// VerifyProof accepts it, or no proof at all, against the empty root only.
	for _, p := range [][]byte{nil, encode(t, bare)} {
		if err := VerifyProof(tr.Root(), []byte("k"), nil, p); err != nil {
			t.Fatal(err)
		}
		if VerifyProof(tr.Root(), []byte("k"), []byte("v"), p) == nil {
			t.Fatal("membership in the empty tree")
		}
	}
	one := buildMap(t, map[string][]byte{"a": []byte("1")})
	if VerifyProof(one.Root(), []byte("k"), nil, nil) == nil || VerifyProof(one.Root(), []byte("k"), nil, encode(t, bare)) == nil {
		t.Fatal("bare non-existence proof accepted against a non-empty root")
	}
	// Every existence proof of a one-key tree must fail against the empty root.
	p, err := one.Prove([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if VerifyProof(tr.Root(), []byte("a"), nil, encode(t, p)) == nil {
		t.Fatal("an existence proof proves absence from the empty tree")
	}
}

func TestOneKey(t *testing.T) {
	tr, err := New().Update([][]byte{[]byte("a")}, [][]byte{[]byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	// Known answer: the root of a one-key tree is its leaf.
	kh, vh := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("1"))
	want := sha256.Sum256(append(append([]byte{0}, kh[:]...), vh[:]...))
	if !bytes.Equal(tr.Root(), want[:]) {
		t.Fatalf("root %x, want %x", tr.Root(), want)
	}
	p, err := tr.Prove([]byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.GetExist().Path); n != 0 {
		t.Fatalf("one-key proof has %d steps", n)
	}
	checkTree(t, tr, map[string][]byte{"a": []byte("1")}, []string{"a", "b", "c", "d"}, [][]byte{make([]byte, 32)})
}

// sharedPrefixKeys finds two keys whose paths share their first 32 bits
// (a birthday search over about 2^16 keys).
func sharedPrefixKeys(t *testing.T) (a, b []byte) {
	seen := map[uint32][]byte{}
	for i := 0; ; i++ {
		k := []byte(fmt.Sprintf("deep-%d", i))
		h := sha256.Sum256(k)
		p := binary.BigEndian.Uint32(h[:4])
		if o, ok := seen[p]; ok {
			return o, k
		}
		seen[p] = k
		if i > 1<<22 {
			t.Fatal("no shared prefix found")
		}
	}
}

func TestLongSharedPrefix(t *testing.T) {
	a, b := sharedPrefixKeys(t)
	ha, hb := sha256.Sum256(a), sha256.Sum256(b)
	shared := 0
	for shared < 256 && bit(&ha, shared) == bit(&hb, shared) {
		shared++
	}
	m := map[string][]byte{string(a): []byte("A"), string(b): []byte("B")}
	tr := buildMap(t, m)
	for _, k := range [][]byte{a, b} {
		p, err := tr.Prove(k)
		if err != nil {
			t.Fatal(err)
		}
		// One step per shared bit (an empty sibling each) and the split.
		if n := len(p.GetExist().Path); n != shared+1 {
			t.Fatalf("path of %d steps, want %d", n, shared+1)
		}
	}
	universe := []string{string(a), string(b)}
	for i := range 50 {
		universe = append(universe, fmt.Sprintf("other-%d", i))
	}
	checkTree(t, tr, m, universe, nil)
	// Deleting one lifts the other back to the root.
	tr2, err := tr.Update([][]byte{a}, [][]byte{nil})
	if err != nil {
		t.Fatal(err)
	}
	delete(m, string(a))
	checkTree(t, tr2, m, universe, [][]byte{tr.Root()})
	if p, _ := tr2.Prove(b); len(p.GetExist().Path) != 0 {
		t.Fatal("the remaining leaf did not move up to the root")
	}
}

func TestDeleteToEmpty(t *testing.T) {
	m := map[string][]byte{}
	var ks, dels [][]byte
	for i := range 100 {
		k := fmt.Sprintf("k%d", i)
		m[k] = []byte{byte(i) + 1}
		ks, dels = append(ks, []byte(k)), append(dels, nil)
	}
	full := buildMap(t, m)
	all, err := full.Update(ks, dels)
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, all, map[string][]byte{}, []string{"k1", "x"}, nil)
	tr := full
	for i, k := range ks {
		if tr, err = tr.Update([][]byte{k}, [][]byte{{}}); err != nil {
			t.Fatal(err)
		}
		delete(m, string(k))
		if tr.Len() != len(m) || !bytes.Equal(tr.Root(), refRoot(m)) {
			t.Fatalf("after %d deletes: len %d, root %x", i+1, tr.Len(), tr.Root())
		}
	}
	if !bytes.Equal(tr.Root(), make([]byte, 32)) {
		t.Fatal("not empty")
	}
	if full.Len() != 100 {
		t.Fatal("the full version changed")
	}
}

func TestUpdateNoop(t *testing.T) {
	tr := buildMap(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	same, err := tr.Update([][]byte{[]byte("absent"), []byte("a")}, [][]byte{nil, []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	if same.root != tr.root || same.Len() != 2 {
		t.Fatal("a batch that changes nothing copied the tree")
	}
	// Later wins within a batch, including a delete after a set.
	tr2, err := tr.Update([][]byte{[]byte("c"), []byte("a"), []byte("c"), []byte("a")}, [][]byte{[]byte("3"), nil, nil, []byte("9")})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, tr2, map[string][]byte{"a": []byte("9"), "b": []byte("2")}, []string{"a", "b", "c"}, nil)
}

func TestErrors(t *testing.T) {
	k, v := [][]byte{[]byte("a")}, [][]byte{[]byte("1")}
	for name, err := range map[string]error{
		"build empty key":   second(Build([][]byte{{}}, v)),
		"build empty value": second(Build(k, [][]byte{nil})),
		"build duplicate":   second(Build([][]byte{[]byte("a"), []byte("a")}, [][]byte{[]byte("1"), []byte("2")})),
		"build lengths":     second(Build(k, nil)),
		"update empty key":  second(New().Update([][]byte{nil}, v)),
		"update lengths":    second(New().Update(k, nil)),
		"prove empty key":   second(New().Prove(nil)),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Build([][]byte{[]byte("a"), []byte("a")}, [][]byte{[]byte("1"), []byte("2")}); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("duplicate: %v", err)
	}
	root := buildMap(t, map[string][]byte{"a": []byte("1")}).Root()
	for name, err := range map[string]error{
		"short root": VerifyProof(root[:31], []byte("a"), []byte("1"), nil),
		"empty key":  VerifyProof(root, nil, []byte("1"), nil),
		"garbage":    VerifyProof(root, []byte("a"), []byte("1"), []byte{0xff, 0xff, 0xff}),
		"oversize":   VerifyProof(root, []byte("a"), []byte("1"), make([]byte, MaxProofSize+1)),
		"no proof":   VerifyProof(root, []byte("a"), []byte("1"), nil),
	} {
		if err == nil {
			t.Errorf("VerifyProof %s: no error", name)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestLargeBatches covers the parallel paths of Build (≥ 4,096 leaves)
// and Update (≥ 1,024 ops), with readers of the old version running
// alongside the update (run under -race).
func TestLargeBatches(t *testing.T) {
	keys, values := benchData(20000, 7)
	m := map[string][]byte{}
	for i := range keys {
		m[string(keys[i])] = values[i]
	}
	tr, err := Build(keys, values)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tr.Root(), refRoot(m)) {
		t.Fatal("Build root differs from the reference")
	}
	old := tr.Root()
	newKeys, newValues := benchData(6000, 8)
	copy(newKeys[:3000], keys[:3000])
	for i := range 1000 {
		newValues[i] = nil // delete existing keys
	}
	for i := range newKeys {
		if len(newValues[i]) == 0 {
			delete(m, string(newKeys[i]))
		} else {
			m[string(newKeys[i])] = newValues[i]
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 2000 {
			if v, ok := tr.Get(keys[i]); !ok || !bytes.Equal(v, values[i]) {
				t.Error("old version changed during Update")
				return
			}
		}
	}()
	tr2, err := tr.Update(newKeys, newValues)
	if err != nil {
		t.Fatal(err)
	}
	<-done
	if !bytes.Equal(tr.Root(), old) || tr.Len() != 20000 {
		t.Fatal("old version changed")
	}
	if !bytes.Equal(tr2.Root(), refRoot(m)) || tr2.Len() != len(m) {
		t.Fatalf("Update root or Len (%d, want %d) differs from the reference", tr2.Len(), len(m))
	}
	for _, i := range []int{0, 999, 1000, 2999, 3000, 5999} {
		p, err := tr2.Prove(newKeys[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyProof(tr2.Root(), newKeys[i], m[string(newKeys[i])], encode(t, p)); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
}
