package chain

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"testing"
)

const testChain = "test-chain"

func sampleBlock() *Block {
	return &Block{
		Height: 7,
		Round:  9,
		Parent: Hash{1, 2, 3},
		QC: &QC{Round: 8, BlockHash: Hash{1, 2, 3}, Votes: []Signature{
			{Signer: 0, Sig: []byte("sig-0")}, {Signer: 2, Sig: []byte("sig-2")},
		}},
		Payload:    [][]byte{[]byte("tx-a"), []byte("tx-b")},
		Proposer:   1,
		Time:       1_700_000_000,
		ExecHeight: 5,
		StateRoot:  []byte{9, 9, 9, 9, 9, 9, 9, 9},
	}
}

// cloneBlock deep-copies b, so mutations of the copy cannot reach b.
func cloneBlock(b *Block) *Block {
	c := *b
	if b.QC != nil {
		qc := *b.QC
		qc.Votes = nil
		for _, v := range b.QC.Votes {
			qc.Votes = append(qc.Votes, Signature{Signer: v.Signer, Sig: bytes.Clone(v.Sig)})
		}
		c.QC = &qc
	}
	c.Payload = nil
	for _, tx := range b.Payload {
		c.Payload = append(c.Payload, bytes.Clone(tx))
	}
	c.StateRoot = bytes.Clone(b.StateRoot)
	c.FailedLeaders = append([]uint32(nil), b.FailedLeaders...)
	c.Evidence = append([]Evidence(nil), b.Evidence...)
	return &c
}

func TestBlockHashIsDeterministic(t *testing.T) {
	a, b := sampleBlock(), cloneBlock(sampleBlock())
	if a.Hash(testChain) != a.Hash(testChain) || a.Hash(testChain) != b.Hash(testChain) {
		t.Fatal("equal blocks hash differently")
	}
	if a.Hash(testChain).IsZero() {
		t.Fatal("zero hash")
	}
}

// Changing any field of a block, or the chain id, changes its hash. The
// table must name every field of Block, so a field added later without
// being hashed fails here.
func TestBlockHashCoversEveryField(t *testing.T) {
	tests := []struct {
		field  string // Block field touched
		chain  string // chain id to hash under; "" means testChain
		mutate func(b *Block)
	}{
		{"Height", "", func(b *Block) { b.Height++ }},
		{"Round", "", func(b *Block) { b.Round++ }},
		{"Parent", "", func(b *Block) { b.Parent[31] ^= 1 }},
		{"QC", "", func(b *Block) { b.QC = nil }},
		{"QC", "", func(b *Block) { b.QC.Round++ }},
		{"QC", "", func(b *Block) { b.QC.BlockHash[0] ^= 1 }},
		{"QC", "", func(b *Block) { b.QC.Votes[1].Signer = 3 }},
		{"QC", "", func(b *Block) { b.QC.Votes[0].Sig[0] ^= 1 }},
		{"QC", "", func(b *Block) { b.QC.Votes = b.QC.Votes[:1] }},
		{"QC", "", func(b *Block) { b.QC.Votes = nil }},
		{"Payload", "", func(b *Block) { b.Payload[1][0] ^= 1 }},
		{"Payload", "", func(b *Block) { b.Payload = b.Payload[:1] }},
		{"Payload", "", func(b *Block) { b.Payload = append(b.Payload, nil) }},
		{"Payload", "", func(b *Block) { b.Payload = [][]byte{[]byte("tx-atx-b")} }}, // same bytes, one tx
		{"Payload", "", func(b *Block) { b.Payload = [][]byte{[]byte("tx-"), []byte("atx-b")} }},
		{"Payload", "", func(b *Block) { b.Payload = nil }},
		{"Proposer", "", func(b *Block) { b.Proposer++ }},
		{"Time", "", func(b *Block) { b.Time = -b.Time }},
		{"ExecHeight", "", func(b *Block) { b.ExecHeight++ }},
		{"StateRoot", "", func(b *Block) { b.StateRoot[7] ^= 1 }},
		{"StateRoot", "", func(b *Block) { b.StateRoot = b.StateRoot[:7] }},
		{"StateRoot", "", func(b *Block) { b.StateRoot = append(b.StateRoot, 0) }},
		{"StateRoot", "", func(b *Block) { b.StateRoot = nil }},
		{"Evidence", "", func(b *Block) { b.Evidence = []Evidence{voteEvidence(1)} }},
		{"FailedLeaders", "", func(b *Block) { b.FailedLeaders = []uint32{0} }},
		{"FailedLeaders", "", func(b *Block) { b.FailedLeaders = []uint32{1, 2} }},
		{"", "other-chain", func(*Block) {}},
		{"", "test-chai", func(*Block) {}},
	}
	base := sampleBlock().Hash(testChain)
	covered := map[string]bool{}
	for _, tt := range tests {
		b := cloneBlock(sampleBlock())
		tt.mutate(b)
		id := testChain
		if tt.chain != "" {
			id = tt.chain
		}
		if b.Hash(id) == base {
			t.Errorf("changing %s (chain %q) did not change the hash", tt.field, id)
		}
		covered[tt.field] = true
	}
	typ := reflect.TypeFor[Block]()
	for i := range typ.NumField() {
		if !covered[typ.Field(i).Name] {
			t.Errorf("field %s has no case: is it hashed?", typ.Field(i).Name)
		}
	}
}

// The sign-bytes of votes, timeouts and proposals never coincide, even for
// identical numbers, and all depend on the chain id.
func TestSignBytesDomainsDiffer(t *testing.T) {
	var zero Hash
	h := Hash{5}
	kinds := map[string]func(chainID string) []byte{
		"vote":             func(c string) []byte { return VoteSignBytes(c, 5, zero) },
		"vote/hash":        func(c string) []byte { return VoteSignBytes(c, 5, h) },
		"timeout":          func(c string) []byte { return TimeoutSignBytes(c, 5, 0) },
		"timeout/high":     func(c string) []byte { return TimeoutSignBytes(c, 5, 5) },
		"proposal":         func(c string) []byte { return ProposalSignBytes(c, 5, zero) },
		"proposal/hash":    func(c string) []byte { return ProposalSignBytes(c, 5, h) },
		"block hash":       func(c string) []byte { h := (&Block{Round: 5}).Hash(c); return h[:] },
		"payload hash":     func(c string) []byte { h := PayloadHash(c, nil); return h[:] },
		"qc digest":        func(string) []byte { h := (&QC{Round: 5}).Digest(); return h[:] },
		"tc digest":        func(string) []byte { h := (&TC{Round: 5}).Digest(); return h[:] },
		"validators hash":  func(c string) []byte { h := mustSet(t, 1).Hash(c); return h[:] },
		"vote, round 6":    func(c string) []byte { return VoteSignBytes(c, 6, zero) },
		"timeout, round 6": func(c string) []byte { return TimeoutSignBytes(c, 6, 0) },
	}
	seen := map[string]string{}
	for name, f := range kinds {
		a := f(testChain)
		if !bytes.Equal(a, f(testChain)) {
			t.Errorf("%s: not deterministic", name)
		}
		if other, ok := seen[string(a)]; ok {
			t.Errorf("%s and %s have the same bytes", name, other)
		}
		seen[string(a)] = name
		// The digests and the payload hash (a Merkle root over the
		// transactions) bind the chain id only through the header or
		// certificate that carries them.
		if name != "qc digest" && name != "tc digest" && name != "payload hash" && bytes.Equal(a, f("other-chain")) {
			t.Errorf("%s: does not depend on the chain id", name)
		}
	}
	// So a signature over one kind does not verify as another.
	key := testKey(1)
	sig := Ed25519Signer{Key: key}.Sign(VoteSignBytes(testChain, 5, h))
	pub := key.Public().(ed25519.PublicKey)
	v := Ed25519Verifier{}
	if !v.Verify(pub, VoteSignBytes(testChain, 5, h), sig) {
		t.Fatal("vote signature does not verify")
	}
	if v.Verify(pub, ProposalSignBytes(testChain, 5, h), sig) || v.Verify(pub, VoteSignBytes("other-chain", 5, h), sig) {
		t.Fatal("vote signature verifies as a proposal or on another chain")
	}
}
