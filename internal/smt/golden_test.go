package smt

import (
	"encoding/hex"
	"testing"
)

// goldenRoots are the roots of TestGoldenRoots' versions as computed by
// the tree before its nodes changed layout (commit bcda211): a change of
// representation must leave every root as it was.
var goldenRoots = []string{
	"e91043403f78fe386c5df6c61111d046b87924adb9780d4d403f0c6781992f8a",
	"b8e4f8f4e3b26a26d34b02b23f878f13c02df84170c4a51728aa58305b0f53d1",
	"e313296a637083d148d9ad315c12ca8f5cd51c5305079ba7b990b825d83c9bff",
	"b70c451b3d7fe8fd781bca3bd4cbe939153988f16662c83a3a7675bbae58fcfa",
	"7c4db15dd1d43c901e075a32946e5ae36b4632ecfdbc4ed6dab61983111d0b7f",
	"0f80f7a779898d7a8912c26b0f4a694495c4a446b7f92d95dd08ee369d4cfc85",
	"e5bebd8fb0346863b16945bbe13f4239b6ff07b7b06be469a47861848c4744d4",
}

// TestGoldenRoots builds a tree of 20,000 keys, then applies batches that
// insert, overwrite and delete, and checks every root against goldenRoots.
func TestGoldenRoots(t *testing.T) {
	keys, values := benchData(20000, 7)
	tr, err := Build(keys, values)
	if err != nil {
		t.Fatal(err)
	}
	roots := []string{hex.EncodeToString(tr.Root())}
	for b := range 6 {
		nk, nv := benchData(3000, uint64(100+b))
		copy(nk[:1000], keys[b*1000:(b+1)*1000]) // overwrites
		for i := 1000; i < 1300; i++ {           // deletes of present keys
			nk[i], nv[i] = keys[10000+b*300+i-1000], nil
		}
		nk[1300], nv[1300] = []byte("never written"), nil // a delete of an absent key
		if tr, err = tr.Update(nk, nv); err != nil {
			t.Fatal(err)
		}
		roots = append(roots, hex.EncodeToString(tr.Root()))
	}
	if len(goldenRoots) != len(roots) {
		t.Fatalf("roots:\n%q", roots)
	}
	for i := range roots {
		if roots[i] != goldenRoots[i] {
			t.Errorf("version %d: root %s, want %s", i, roots[i], goldenRoots[i])
		}
	}
}
