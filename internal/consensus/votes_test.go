package consensus

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// countingVerifier verifies for real and counts the calls.
type countingVerifier struct{ calls *int }

func (v countingVerifier) Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	*v.calls++
	return chain.Ed25519Verifier{}.Verify(pub, msg, sig)
}

// TestRepeatedVotesAreNotVerified: a leader receiving the same vote many
// times, or votes from a voter already proven to double vote, checks no
// signature for them; each is dropped by a map lookup.
func TestRepeatedVotesAreNotVerified(t *testing.T) {
	calls := 0
	n := newTestNet(t, 4, func(c *Config) { c.Verifier = countingVerifier{&calls} })
	n.queue = nil
	leader := uint32(2) // leads round 2: votes for round 1 go to it
	h := chain.Hash{1}
	v := n.vote(3, 1, h)
	step := func(v *chain.Vote) {
		n.cores[leader].Step(Message{From: v.Voter, To: leader, Vote: v})
		n.cores[leader].Ready()
	}
	step(v)
	if calls != 1 {
		t.Fatalf("first vote: %d verifications, want 1", calls)
	}
	for range 100 {
		step(v)
	}
	if calls != 1 {
		t.Fatalf("100 repeats of one vote: %d verifications in all, want still 1", calls)
	}
	step(n.vote(3, 1, chain.Hash{2})) // a double vote: verified, proven
	for i := range 100 {
		step(n.vote(3, 1, chain.Hash{byte(3 + i)}))
	}
	if calls != 2 {
		t.Fatalf("100 votes after a proven double vote: %d verifications in all, want 2", calls)
	}
	if d := n.cores[leader].Stats().Dropped; d["duplicate vote"] != 100 || d["vote after a proven double vote"] != 100 {
		t.Fatalf("drops = %v", d)
	}
}

// TestVoteTalliesAreBounded: a voter spraying votes for distinct blocks
// over many rounds leaves at most two tally entries per (round, voter)
// (its first vote and the one that proves its double vote), only for
// rounds within futureVoteRounds.
func TestVoteTalliesAreBounded(t *testing.T) {
	n := newTestNet(t, 4, nil)
	n.queue = nil
	leader := uint32(2)
	c := n.cores[leader]
	for r := uint64(1); r < 4*futureVoteRounds; r++ {
		if c.cfg.Election.Leader(r+1) != leader {
			continue
		}
		for i := range 5 {
			c.Step(Message{From: 3, To: leader, Vote: n.vote(3, r, chain.Hash{byte(i), byte(r), byte(r >> 8)})})
			c.Ready()
		}
	}
	entries, rounds := 0, 0
	for r, agg := range c.votes {
		rounds++
		if r > c.round+futureVoteRounds {
			t.Errorf("tally kept for round %d, beyond %d rounds ahead of %d", r, futureVoteRounds, c.round)
		}
		for _, set := range agg.byBlock {
			entries += len(set.sigs)
		}
	}
	if entries != 2*rounds {
		t.Fatalf("%d votes tallied over %d rounds, want two per round", entries, rounds)
	}
	if max := futureVoteRounds/4 + 1; rounds > max {
		t.Fatalf("tallies for %d rounds, want at most %d", rounds, max)
	}
}

// Who leads is judged once a proposal's parent is known, so proposals that
// wait for their parent can come from any validator: each proposer gets a
// share of the queue, and one Byzantine validator cannot fill it and crowd
// out the leader's proposal.
func TestPendingProposalsAreSharedByProposer(t *testing.T) {
	n := newTestNet(t, 4, nil)
	c := n.cores[0]
	share := maxPending / 4
	for i := range share + 20 {
		parent := chain.Hash{byte(i), byte(i >> 8), 1}
		r := uint64(i) + 1
		qc := n.qc(r, parent, 1, 2, 3)
		b := n.block(r+1, 2, parent, qc, 2, fmt.Sprint("x", i))
		c.Step(Message{From: 2, To: 0, Proposal: n.propose(b, nil)})
	}
	if got := c.countPendingBy(2); got != share {
		t.Fatalf("validator 2 has %d proposals pending, want its share %d", got, share)
	}
	if c.Stats().Dropped["too many pending proposals from one proposer"] != 20 {
		t.Fatalf("dropped: %v", c.Stats().Dropped)
	}
	// Another proposer still gets in.
	parent := chain.Hash{9, 9, 9}
	r := uint64(share + 30)
	b := n.block(r+1, 2, parent, n.qc(r, parent, 1, 2, 3), 1, "leader")
	c.Step(Message{From: 1, To: 0, Proposal: n.propose(b, nil)})
	if c.countPendingBy(1) != 1 {
		t.Fatalf("the leader's proposal did not wait for its parent: %v", c.Stats().Dropped)
	}
}
