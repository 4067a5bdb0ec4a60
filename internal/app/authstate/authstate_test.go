package authstate

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/smt"
)

// Versions: each height's tree proves that height's values; heights
// beyond the kept window, or above the latest, are not kept; applying a
// height again replaces it and forgets those above.
func TestVersions(t *testing.T) {
	tr, err := Load(10, [][]byte{[]byte("a")}, [][]byte{[]byte("0")}, 3)
	if err != nil {
		t.Fatal(err)
	}
	roots := map[uint64][]byte{}
	for h := uint64(11); h <= 15; h++ {
		r, err := tr.Apply(h, [][]byte{[]byte("a")}, [][]byte{fmt.Appendf(nil, "%d", h)})
		if err != nil {
			t.Fatal(err)
		}
		roots[h] = r
	}
	for h := uint64(13); h <= 15; h++ {
		p, err := tr.Prove(h, []byte("a"))
		if err != nil || string(p.Value) != fmt.Sprint(h) || !bytes.Equal(p.Root, roots[h]) {
			t.Fatalf("height %d: %+v, %v", h, p, err)
		}
		b, _ := p.Proof.Marshal()
		if err := smt.VerifyProof(roots[h], []byte("a"), p.Value, b); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
	}
	for _, h := range []uint64{10, 12, 16} {
		if _, err := tr.Prove(h, []byte("a")); !errors.Is(err, app.ErrNotKept) {
			t.Errorf("height %d: %v, want ErrNotKept", h, err)
		}
	}
	if h, r := tr.Latest(); h != 15 || !bytes.Equal(r, roots[15]) {
		t.Fatalf("latest %d %x", h, r)
	}
	// Height 14 again, differently: 15 is forgotten.
	r14, err := tr.Apply(14, [][]byte{[]byte("b")}, [][]byte{[]byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if h, r := tr.Latest(); h != 14 || !bytes.Equal(r, r14) || bytes.Equal(r14, roots[14]) {
		t.Fatalf("after re-applying 14: latest %d %x", h, r)
	}
	if _, err := tr.Apply(16, nil, nil); err == nil {
		t.Fatal("applied height 16 over 14")
	}
	// The empty tree proves absence with an empty proof.
	empty, _ := Load(0, nil, nil, DefaultKeep)
	p, err := empty.Prove(0, []byte("k"))
	if err != nil || p.Value != nil || p.Proof != nil {
		t.Fatalf("empty tree: %+v, %v", p, err)
	}
	if err := smt.VerifyProof(p.Root, []byte("k"), nil, nil); err != nil {
		t.Fatal(err)
	}
}

// Versions are bounded in bytes too: blocks that overwrite large values
// keep only as many older versions as MaxVersionBytes of what they hold
// (here nearly all of it the values).
func TestVersionBytes(t *testing.T) {
	tr, err := Load(0, nil, nil, DefaultKeep)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{'x'}, 1<<20)
	for h := uint64(1); h <= 40; h++ {
		v := append([]byte{byte(h)}, big...)
		if _, err := tr.Apply(h, [][]byte{[]byte("k")}, [][]byte{v}); err != nil {
			t.Fatal(err)
		}
	}
	tr.mu.RLock()
	kept, first := len(tr.vers), tr.vers[0].height
	tr.mu.RUnlock()
	if want := MaxVersionBytes/(1<<20+2) + 1; kept != want {
		t.Fatalf("%d versions kept (from height %d), want %d", kept, first, want)
	}
	if _, err := tr.Prove(first-1, []byte("k")); !errors.Is(err, app.ErrNotKept) {
		t.Errorf("height %d: %v", first-1, err)
	}
	if p, err := tr.Prove(first, []byte("k")); err != nil || p.Value[0] != byte(first) {
		t.Errorf("height %d: %v", first, err)
	}
}

// A version is charged what it holds apart, nodes included: a block of
// new small keys costs several times the bytes it writes, since each key
// copies the inner nodes on its path.
func TestVersionBytesCountNodes(t *testing.T) {
	tr, err := Load(0, nil, nil, DefaultKeep)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= 3; h++ {
		var ks, vs [][]byte
		written := 0
		for i := range 2000 {
			ks = append(ks, fmt.Appendf(nil, "k-%d-%d", h, i))
			vs = append(vs, []byte("v"))
			written += len(ks[i]) + 1
		}
		if _, err := tr.Apply(h, ks, vs); err != nil {
			t.Fatal(err)
		}
		tr.mu.RLock()
		charged := tr.vers[len(tr.vers)-1].bytes
		tr.mu.RUnlock()
		if charged < 4*written {
			t.Fatalf("height %d: charged %d bytes for %d written", h, charged, written)
		}
	}
}
