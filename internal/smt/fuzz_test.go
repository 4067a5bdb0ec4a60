package smt

import (
	"bytes"
	"fmt"
	"testing"
)

// FuzzVerifyProof feeds arbitrary proofs to VerifyProof against a fixed
// tree. Beyond not panicking, whatever it accepts must be true of the tree:
// an accepted proof is sound.
func FuzzVerifyProof(f *testing.F) {
	m := map[string][]byte{}
	for i := range 24 {
		m[fmt.Sprintf("k%d", i)] = []byte(fmt.Sprintf("v%d", i))
	}
	tr := buildMap(f, m)
	for _, k := range []string{"k0", "k7", "k23", "absent", "zz"} {
		p, err := tr.Prove([]byte(k))
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(k), m[k], encode(f, p))
	}
	f.Add([]byte("k1"), []byte("v1"), []byte{})
	root := tr.Root()
	f.Fuzz(func(t *testing.T, key, value, proof []byte) {
		if VerifyProof(root, key, value, proof) == nil {
			got, ok := tr.Get(key)
			if len(value) > 0 && !bytes.Equal(got, value) || len(value) == 0 && ok {
				t.Fatalf("accepted a false proof: key %q value %q (tree has %q %v)", key, value, got, ok)
			}
		}
		_ = VerifyProof(make([]byte, 32), key, value, proof)
	})
}
