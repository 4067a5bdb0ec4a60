package chain

import "testing"

// The header has its block's hash, and the hash does not change unnoticed
// (golden value of encoding version 2: a change of the canonical encoding
// must bump encodingVersion and this value).
func TestHeaderHashIsBlockHash(t *testing.T) {
	b := sampleBlock()
	h := b.Header(testChain)
	if h.Hash(testChain) != b.Hash(testChain) {
		t.Fatal("header and block hashes differ")
	}
	const golden = "4456e36ca7da81c4ea03252f4ded58d3de2d19da24b780d9f27d39327d373e57"
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
