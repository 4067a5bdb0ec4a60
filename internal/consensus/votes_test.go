package consensus

import (
	"crypto/ed25519"
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
