package chain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto/merkle"
)

// refRoot is the root as RFC 6962 states the tree, recursively and with
// fresh buffers, then bound to the count: the reference TxRoot's
// bottom-up loop must agree with.
func refRoot(hs []Hash) Hash {
	if len(hs) == 0 {
		return sha256.Sum256([]byte{})
	}
	n := binary.BigEndian.AppendUint64([]byte{2}, uint64(len(hs)))
	tree := refTree(hs)
	return sha256.Sum256(append(n, tree[:]...))
}

func refTree(hs []Hash) Hash {
	switch len(hs) {
	case 1:
		return sha256.Sum256(append([]byte{0}, hs[0][:]...))
	}
	k := 1
	for k*2 < len(hs) {
		k *= 2
	}
	l, r := refTree(hs[:k]), refTree(hs[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func testHashes(n int, salt string) []Hash {
	hs := make([]Hash, n)
	for i := range hs {
		hs[i] = TxHash(fmt.Appendf(nil, "%s-tx-%d", salt, i))
	}
	return hs
}

var largeSizes = []int{127, 128, 129, 1000, 4097, MaxBlockTxs}

func TestTxRootMatchesReference(t *testing.T) {
	for n := 0; n <= 70; n++ {
		hs := testHashes(n, "a")
		if got, want := TxRoot(hs), refRoot(hs); got != want {
			t.Fatalf("%d hashes: root %s, reference %s", n, got.Short(), want.Short())
		}
	}
	for _, n := range largeSizes {
		hs := testHashes(n, "a")
		if got, want := TxRoot(hs), refRoot(hs); got != want {
			t.Fatalf("%d hashes: root %s, reference %s", n, got.Short(), want.Short())
		}
	}
	if TxRoot(nil) != sha256.Sum256(nil) {
		t.Fatal("the empty root is not SHA-256 of nothing")
	}
}

// CometBFT's block data hash is this same tree over the same leaves (before
// TxRoot binds the count), and its proofs carry the same aunts in the same
// order.
func TestTxRootIsCometBFTs(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 5, 8, 13, 100} {
		hs := testHashes(n, "c")
		items := make([][]byte, n)
		for i := range hs {
			items[i] = hs[i][:]
		}
		root := TxRoot(nil)
		if n > 0 {
			root = treeRoot(hs)
		}
		if want := merkle.HashFromByteSlices(items); !bytes.Equal(root[:], want) {
			t.Fatalf("%d hashes: root %s, CometBFT %x", n, root.Short(), want[:4])
		}
		_, proofs := merkle.ProofsFromByteSlices(items)
		for i := range n {
			p, err := ProveTx(hs, i)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Aunts) != len(proofs[i].Aunts) {
				t.Fatalf("%d/%d: %d aunts, CometBFT %d", i, n, len(p.Aunts), len(proofs[i].Aunts))
			}
			for j, a := range p.Aunts {
				if !bytes.Equal(a[:], proofs[i].Aunts[j]) {
					t.Fatalf("%d/%d: aunt %d differs from CometBFT's", i, n, j)
				}
			}
		}
	}
}

func TestTxProofsVerify(t *testing.T) {
	check := func(hs []Hash, i int) {
		t.Helper()
		root := TxRoot(hs)
		p, err := ProveTx(hs, i)
		if err != nil {
			t.Fatalf("%d/%d: %v", i, len(hs), err)
		}
		if err := p.Verify(root, hs[i]); err != nil {
			t.Fatalf("%d/%d: %v", i, len(hs), err)
		}
		if want := bits.Len(uint(len(hs) - 1)); len(p.Aunts) > want {
			t.Fatalf("%d/%d: %d aunts, more than %d", i, len(hs), len(p.Aunts), want)
		}
	}
	for n := 1; n <= 70; n++ {
		hs := testHashes(n, "p")
		for i := range n {
			check(hs, i)
		}
	}
	for _, n := range largeSizes {
		hs := testHashes(n, "p")
		for _, i := range []int{0, 1, n / 2, n - 2, n - 1} {
			check(hs, i)
		}
	}
	for _, n := range []int{0, 3} {
		if _, err := ProveTx(testHashes(n, "p"), n); err == nil {
			t.Fatalf("proof of index %d of %d", n, n)
		}
	}
	if _, err := ProveTx(testHashes(3, "p"), -1); err == nil {
		t.Fatal("proof of index -1")
	}
}

// Every change to a proof, the root or the leaf makes it fail, and the
// error names what failed.
func TestTxProofTampered(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 8, 9, 33, 70, 1000} {
		hs := testHashes(n, "t")
		root := TxRoot(hs)
		for _, i := range []int{0, n / 3, n - 1} {
			p, _ := ProveTx(hs, i)
			fail := func(what, want string, q TxProof, root, leaf Hash) {
				t.Helper()
				err := q.Verify(root, leaf)
				if err == nil {
					t.Fatalf("%d/%d: %s: verifies", i, n, what)
				}
				if !errors.Is(err, ErrTxProof) || !strings.Contains(err.Error(), want) {
					t.Fatalf("%d/%d: %s: %v, want %q", i, n, what, err, want)
				}
			}
			with := func(f func(q *TxProof)) TxProof {
				q := TxProof{Index: p.Index, Total: p.Total, Aunts: append([]Hash(nil), p.Aunts...)}
				f(&q)
				return q
			}
			fail("root", "computed root", p, Hash{1}, hs[i])
			fail("tx hash", "computed root", p, root, TxHash([]byte("other")))
			if n > 1 {
				// Another leaf's index: either the path or its depth differs.
				fail("index", "", with(func(q *TxProof) { q.Index = uint64((i + 1) % n) }), root, hs[i])
				fail("total", "", with(func(q *TxProof) { q.Total-- }), root, hs[i])
			}
			fail("total+1", "", with(func(q *TxProof) { q.Total++ }), root, hs[i])
			fail("index=total", "index", with(func(q *TxProof) { q.Index = q.Total }), root, hs[i])
			for j := range p.Aunts {
				fail(fmt.Sprintf("aunt %d", j), "computed root", with(func(q *TxProof) { q.Aunts[j][0] ^= 1 }), root, hs[i])
			}
			fail("extra aunt", "aunts", with(func(q *TxProof) { q.Aunts = append(q.Aunts, Hash{}) }), root, hs[i])
			if len(p.Aunts) > 0 {
				fail("missing aunt", "aunts", with(func(q *TxProof) { q.Aunts = q.Aunts[1:] }), root, hs[i])
			}
			fail("total 0", "total is 0", TxProof{}, root, hs[i])
			fail("huge total", "exceeds", with(func(q *TxProof) { q.Total = MaxBlockTxs + 1 }), root, hs[i])
			fail("many aunts", "exceed", with(func(q *TxProof) { q.Aunts = make([]Hash, maxProofAunts+1) }), root, hs[i])
		}
	}
}

// A proof for a transaction of one block does not verify against the root
// of another of the same size, nor does another block's transaction.
func TestTxProofOtherBlock(t *testing.T) {
	a, b := testHashes(20, "block-a"), testHashes(20, "block-b")
	for i := range a {
		p, _ := ProveTx(a, i)
		if p.Verify(TxRoot(b), a[i]) == nil || p.Verify(TxRoot(b), b[i]) == nil || p.Verify(TxRoot(a), b[i]) == nil {
			t.Fatalf("proof %d of block a verifies against block b", i)
		}
	}
}

func TestTxProofJSON(t *testing.T) {
	hs := testHashes(5, "j")
	p, _ := ProveTx(hs, 4)
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"index":4,"total":5,"aunts":["%s"]}`, treeRoot(hs[:4]))
	if string(b) != want {
		t.Fatalf("json %s, want %s", b, want)
	}
	var q TxProof
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if err := q.Verify(TxRoot(hs), hs[4]); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(TxProof{Index: 0, Total: 1}); string(b) != `{"index":0,"total":1,"aunts":[]}` {
		t.Fatalf("json of a one-leaf proof: %s", b)
	}
	for _, bad := range []string{`{"aunts":["00"]}`, `{"aunts":[1]}`, `{"aunts":[` + strings.Repeat(`"",`, maxProofAunts) + `""]}`} {
		if json.Unmarshal([]byte(bad), &q) == nil {
			t.Fatalf("decoded %.40s", bad)
		}
	}
}

// The payload hash is the root over the transactions' hashes, whether the
// caller hashes them or holds them, and so is the block's header.
func TestPayloadHashIsTxRoot(t *testing.T) {
	b := sampleBlock()
	hs := TxHashes(b.Payload)
	if PayloadHash(testChain, b.Payload) != TxRoot(hs) || PayloadHashOf(hs) != TxRoot(hs) {
		t.Fatal("payload hash is not the root of the transactions' hashes")
	}
	if b.HashWith(testChain, PayloadHashOf(hs)) != b.Hash(testChain) {
		t.Fatal("HashWith differs from Hash")
	}
	h := b.Header(testChain)
	p, _ := ProveTx(hs, 1)
	if err := p.Verify(h.PayloadHash, TxHash(b.Payload[1])); err != nil {
		t.Fatalf("a transaction does not verify against its header: %v", err)
	}
}
