package chain

import "testing"

// The header has its block's hash, and the hash did not change when it
// came to be computed through the header (golden value from before).
func TestHeaderHashIsBlockHash(t *testing.T) {
	b := sampleBlock()
	h := b.Header(testChain)
	if h.Hash(testChain) != b.Hash(testChain) {
		t.Fatal("header and block hashes differ")
	}
	const golden = "7b180457b0932209f58e355443ec5ee0efeb80b3480d37767021d7ceafa56f28"
	if got := b.Hash(testChain).String(); got != golden {
		t.Fatalf("block hash changed: %s, want %s", got, golden)
	}
	b.Payload = append(b.Payload, []byte("tx-c"))
	if b.Header(testChain).PayloadHash == h.PayloadHash {
		t.Fatal("the header does not follow the payload")
	}
	sh := (&Proposal{Block: b, Sig: []byte("s")}).SignedHeader(testChain)
	if sh.Header.Hash(testChain) != b.Hash(testChain) || string(sh.Sig) != "s" {
		t.Fatal("signed header does not stand for its proposal")
	}
}
