package chain

import "testing"

// The header has its block's hash, and the hash does not change unnoticed
// (golden values of encoding version 3: a change of the canonical encoding
// must bump encodingVersion and these values). The payload hash's value is
// also computed outside Go: SHA-256(0x02 || 2 as 8 bytes || SHA-256(0x01 ||
// SHA-256(0x00 || SHA-256("tx-a")) || SHA-256(0x00 || SHA-256("tx-b")))).
func TestHeaderHashIsBlockHash(t *testing.T) {
	b := sampleBlock()
	h := b.Header(testChain)
	if h.Hash(testChain) != b.Hash(testChain) {
		t.Fatal("header and block hashes differ")
	}
	const golden = "04bedacba7186154fbbb723c53e9d700238131ea8c16029bc2b0027bd9efe1a4"
	if got := b.Hash(testChain).String(); got != golden {
		t.Fatalf("block hash changed: %s, want %s", got, golden)
	}
	const goldenPayload = "f0aa2a15567057770aa9a2727c7853b82b205ab894611cf2b3c39e790a4e2126"
	if got := h.PayloadHash.String(); got != goldenPayload {
		t.Fatalf("payload hash changed: %s, want %s", got, goldenPayload)
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
