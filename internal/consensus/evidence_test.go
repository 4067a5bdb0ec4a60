package consensus

import (
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// Two different validly signed proposals of the round-1 leader yield exactly
// one DoubleProposal evidence holding both; a third or a repeat adds none.
func TestDoubleProposalEvidence(t *testing.T) {
	f := newFixture(t)
	n := f.net
	other := n.propose(n.block(1, 1, n.genesis, f.gqc, 1, "conflicting"), nil)
	third := n.propose(n.block(1, 1, n.genesis, f.gqc, 1, "third"), nil)

	var ev []chain.Evidence
	for _, p := range []*chain.Proposal{f.p1, other, f.p1, third, other} {
		r := f.stepOne(0, Message{From: 1, Proposal: p})
		ev = append(ev, r.Evidence...)
	}
	if len(ev) != 1 {
		t.Fatalf("got %d pieces of evidence, want 1: %+v", len(ev), ev)
	}
	e := ev[0]
	if e.Kind != chain.DoubleProposal || e.Validator != 1 || e.Round != 1 || e.Height != 1 {
		t.Fatalf("evidence = %+v", e)
	}
	if e.HeaderA.Header.Hash(testChainID) != f.h1 || e.HeaderB.Header.Hash(testChainID) != other.Block.Hash(testChainID) {
		t.Fatalf("evidence does not hold the two proposals' headers in arrival order")
	}
	// Anyone can check the proof: two different blocks, both signed.
	ha, hb := e.HeaderA.Header.Hash(testChainID), e.HeaderB.Header.Hash(testChainID)
	pub := n.vals.Get(1).PubKey
	v := chain.Ed25519Verifier{}
	if ha == hb || !v.Verify(pub, chain.ProposalSignBytes(testChainID, 1, ha), e.HeaderA.Sig) ||
		!v.Verify(pub, chain.ProposalSignBytes(testChainID, 1, hb), e.HeaderB.Sig) {
		t.Fatal("evidence is not a valid proof")
	}
	// The third variant, after the proof, was dropped unverified; nothing
	// else was.
	if st := n.cores[0].Stats(); totalDropped(st) != 1 || st.Dropped["proposal after a proven double proposal"] != 1 {
		t.Fatalf("drops = %v, want only the third variant", st.Dropped)
	}
	if n.cores[0].HasBlock(third.Block.Hash(testChainID)) {
		t.Fatal("a third variant after the proof entered the block tree (and so the store)")
	}
}

// A proposal that is merely invalid is no evidence: it is dropped before
// it can be compared.
func TestForgedSecondProposalIsNoEvidence(t *testing.T) {
	f := newFixture(t)
	forged := f.net.propose(f.net.block(1, 1, f.net.genesis, f.gqc, 1, "forged"), nil)
	forged.Sig = corrupt(forged.Sig)
	for _, p := range []*chain.Proposal{f.p1, forged} {
		if r := f.stepOne(0, Message{From: 1, Proposal: p}); len(r.Evidence) != 0 {
			t.Fatalf("evidence from a forged proposal: %+v", r.Evidence)
		}
	}
}

// Two validly signed votes of one voter for different blocks of one round,
// sent to the next leader, yield exactly one DoubleVote evidence.
func TestDoubleVoteEvidence(t *testing.T) {
	f := newFixture(t)
	n := f.net
	hb := n.block(1, 1, n.genesis, f.gqc, 1, "other").Hash(testChainID)
	hc := n.block(1, 1, n.genesis, f.gqc, 1, "third").Hash(testChainID)
	va, vb, vc := n.vote(3, 1, f.h1), n.vote(3, 1, hb), n.vote(3, 1, hc)

	var ev []chain.Evidence
	for _, v := range []*chain.Vote{va, va, vb, vc, n.vote(0, 1, f.h1)} {
		r := f.stepOne(2, Message{From: v.Voter, Vote: v})
		ev = append(ev, r.Evidence...)
	}
	if len(ev) != 1 {
		t.Fatalf("got %d pieces of evidence, want 1: %+v", len(ev), ev)
	}
	e := ev[0]
	if e.Kind != chain.DoubleVote || e.Validator != 3 || e.Round != 1 || e.VoteA != va || e.VoteB != vb {
		t.Fatalf("evidence = %+v", e)
	}
}

// An honest network produces no evidence at all.
func TestHonestRunHasNoEvidence(t *testing.T) {
	n := newTestNet(t, 4, nil)
	var ev []chain.Evidence
	n.observe = func(_ uint32, r Ready) { ev = append(ev, r.Evidence...) }
	n.run(100)
	if len(ev) != 0 {
		t.Fatalf("evidence in an honest run: %+v", ev)
	}
}
