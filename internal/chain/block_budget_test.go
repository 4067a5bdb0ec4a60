package chain

import (
	"bytes"
	"errors"
	"testing"
)

// voteEvidence is a double vote against v, unsigned: enough for hashing
// and budgets, which check no signature.
func voteEvidence(v uint32) Evidence {
	return Evidence{Kind: DoubleVote, Validator: v, Round: 4,
		VoteA: &Vote{Round: 4, BlockHash: Hash{1}, Voter: v, Sig: []byte("sig-a")},
		VoteB: &Vote{Round: 4, BlockHash: Hash{2}, Voter: v, Sig: []byte("sig-b")}}
}

// proposalEvidence is a double proposal against v whose headers carry
// certificates of votes signatures each, unsigned.
func proposalEvidence(v uint32, votes int) Evidence {
	qc := &QC{Round: 2, BlockHash: Hash{7}}
	for i := range votes {
		qc.Votes = append(qc.Votes, Signature{Signer: uint32(i), Sig: bytes.Repeat([]byte{byte(i)}, 64)})
	}
	h := func(tx string) *SignedHeader {
		b := &Block{Height: 3, Round: 3, Proposer: v, QC: qc, Parent: Hash{7}, Payload: [][]byte{[]byte(tx)},
			StateRoot: []byte{1, 2, 3}, FailedLeaders: []uint32{1}}
		return &SignedHeader{Header: b.Header(testChain), Sig: []byte("sig-" + tx)}
	}
	return Evidence{Kind: DoubleProposal, Validator: v, Round: 3, Height: 3, HeaderA: h("a"), HeaderB: h("b")}
}

// Roots of every length up to MaxStateRoot are within the budget and hash
// apart, even where one is a prefix of another or equal up to padding;
// one byte more is refused.
func TestStateRootLengths(t *testing.T) {
	seen := map[Hash]string{}
	roots := map[string][]byte{
		"nil": nil, "0": {}, "8": bytes.Repeat([]byte{5}, 8), "8+zeros": append(bytes.Repeat([]byte{5}, 8), make([]byte, 24)...),
		"32": bytes.Repeat([]byte{5}, 32), "64": bytes.Repeat([]byte{5}, 64),
	}
	for name, root := range roots {
		b := sampleBlock()
		b.StateRoot = root
		if err := b.CheckBudget(MaxBlockTxs, MaxBlockBytes); err != nil {
			t.Errorf("root %s: %v", name, err)
		}
		h := b.Hash(testChain)
		if other, ok := seen[h]; ok && !(name == "nil" && other == "0" || name == "0" && other == "nil") {
			t.Errorf("roots %s and %s hash alike", name, other)
		}
		seen[h] = name
		if hd := b.Header(testChain); !bytes.Equal(hd.StateRoot, root) || hd.Hash(testChain) != h {
			t.Errorf("root %s: the header does not carry it", name)
		}
	}
	b := sampleBlock()
	b.StateRoot = make([]byte, MaxStateRoot+1)
	if err := b.CheckBudget(MaxBlockTxs, MaxBlockBytes); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("a root of %d bytes: %v, want ErrOverBudget", MaxStateRoot+1, err)
	}
}

// The block hash covers every field of every proof it carries, and the
// header names the evidence by a digest that is zero for none.
func TestEvidenceHashCoversEveryField(t *testing.T) {
	base := func() *Block {
		b := sampleBlock()
		b.Evidence = []Evidence{proposalEvidence(1, 2), voteEvidence(2)}
		return b
	}
	if !sampleBlock().Header(testChain).EvidenceHash.IsZero() {
		t.Fatal("a block without evidence has an evidence digest")
	}
	if base().Header(testChain).EvidenceHash.IsZero() {
		t.Fatal("a block with evidence has no evidence digest")
	}
	want := base().Hash(testChain)
	for name, mutate := range map[string]func(b *Block){
		"none":             func(b *Block) { b.Evidence = nil },
		"order":            func(b *Block) { b.Evidence[0], b.Evidence[1] = b.Evidence[1], b.Evidence[0] },
		"one less":         func(b *Block) { b.Evidence = b.Evidence[:1] },
		"kind":             func(b *Block) { b.Evidence[1].Kind = DoubleProposal },
		"validator":        func(b *Block) { b.Evidence[1].Validator++ },
		"round":            func(b *Block) { b.Evidence[1].Round++ },
		"height":           func(b *Block) { b.Evidence[0].Height++ },
		"vote a":           func(b *Block) { b.Evidence[1].VoteA = nil },
		"vote b sig":       func(b *Block) { v := *b.Evidence[1].VoteB; v.Sig = []byte("x"); b.Evidence[1].VoteB = &v },
		"vote b block":     func(b *Block) { v := *b.Evidence[1].VoteB; v.BlockHash[0]++; b.Evidence[1].VoteB = &v },
		"header a":         func(b *Block) { b.Evidence[0].HeaderA = nil },
		"header a sig":     func(b *Block) { h := *b.Evidence[0].HeaderA; h.Sig = []byte("x"); b.Evidence[0].HeaderA = &h },
		"header b root":    func(b *Block) { h := *b.Evidence[0].HeaderB; h.Header.StateRoot = nil; b.Evidence[0].HeaderB = &h },
		"header b payload": func(b *Block) { h := *b.Evidence[0].HeaderB; h.Header.PayloadHash[0]++; b.Evidence[0].HeaderB = &h },
		"header b qc": func(b *Block) {
			h := *b.Evidence[0].HeaderB
			qc := *h.Header.QC
			qc.Votes = qc.Votes[:1]
			h.Header.QC = &qc
			b.Evidence[0].HeaderB = &h
		},
	} {
		b := base()
		mutate(b)
		if b.Hash(testChain) == want {
			t.Errorf("changing the evidence's %s did not change the block hash", name)
		}
	}
}

func TestEvidenceSize(t *testing.T) {
	small, big := proposalEvidence(1, 1), proposalEvidence(1, 100)
	if d := big.Size() - small.Size(); d < 2*99*(64+4) {
		t.Fatalf("99 more signatures in each header add %d bytes", d)
	}
	b := &Block{Evidence: []Evidence{small, big, voteEvidence(3)}}
	if got, want := b.EvidenceBytes(), small.Size()+big.Size()+voteEvidence(3).Size(); got != want {
		t.Fatalf("EvidenceBytes %d, want %d", got, want)
	}
}

// The evidence has its own count and byte budget, and its bytes count
// with the transactions' within the block's.
func TestCheckBudget(t *testing.T) {
	ev := voteEvidence(1)
	block := func(n int, e Evidence, txBytes int) *Block {
		b := sampleBlock()
		b.Payload = [][]byte{make([]byte, txBytes)}
		for range n {
			b.Evidence = append(b.Evidence, e)
		}
		return b
	}
	// A proof big enough that two exceed the evidence budget.
	huge := proposalEvidence(1, MaxBlockEvidenceBytes*3/(5*2*(4+8+64)))
	if huge.Size() > MaxBlockEvidenceBytes || 2*huge.Size() <= MaxBlockEvidenceBytes {
		t.Fatalf("huge proof of %d bytes: the test needs one more than half the budget", huge.Size())
	}
	for _, tt := range []struct {
		name  string
		b     *Block
		ok    bool
		bytes int
	}{
		{"empty", &Block{}, true, MaxBlockBytes},
		{"full evidence", block(MaxBlockEvidence, ev, 10), true, MaxBlockBytes},
		{"one proof too many", block(MaxBlockEvidence+1, ev, 10), false, MaxBlockBytes},
		{"one huge proof", block(1, huge, 10), true, MaxBlockBytes},
		{"evidence over its bytes", block(2, huge, 10), false, MaxBlockBytes},
		{"exactly the block's bytes", block(1, ev, 100), true, 100 + ev.Size()},
		{"evidence counts in the block's bytes", block(1, ev, 100), false, 100 + ev.Size() - 1},
		{"transactions over the block's bytes", block(0, ev, 101), false, 100},
	} {
		err := tt.b.CheckBudget(MaxBlockTxs, tt.bytes)
		if tt.ok != (err == nil) || err != nil && !errors.Is(err, ErrOverBudget) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	b := block(0, ev, 1)
	b.Payload = append(b.Payload, nil, nil)
	if err := b.CheckBudget(2, MaxBlockBytes); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("3 transactions for a budget of 2: %v", err)
	}
}
