package consensus

import "github.com/strategos/strategos/internal/chain"

// The three safety rules of two-chain HotStuff, as pure functions of round
// numbers so they can be tested in isolation (rules_test.go).

// safeToVote is the voting rule: vote for a block of round r only if r is
// above the last round in which this validator voted or timed out, and
// either the block's QC is for round r-1, or the block comes with a TC for
// round r-1 and its QC is at least as high as the highest QC in that TC.
func safeToVote(blockRound, qcRound uint64, tc *chain.TC, lastVotedRound uint64) bool {
	if blockRound <= lastVotedRound {
		return false
	}
	if qcRound+1 == blockRound {
		return true
	}
	return tc != nil && tc.HighQC != nil && tc.Round+1 == blockRound && qcRound >= tc.HighQC.Round
}

// commits is the two-chain commit rule: a QC for a block whose parent was
// proposed in the immediately preceding round commits the parent.
func commits(parentRound, childRound uint64) bool { return parentRound+1 == childRound }

// timeoutTicks is the pacemaker's backoff: the base timeout grows by a
// fifth (at least a tick) with every consecutive failed round, up to max.
// A gentle backoff (Aptos's is 1.2 too) keeps one failed leader from
// making the next rounds slow; max still bounds how long a round can be
// waited for when the network is slower than the base. It saturates at
// max rather than overflow.
func timeoutTicks(base, max, failed int) int {
	t := base
	for i := 0; i < failed && t < max; i++ {
		step := t/5 + 1
		if t > max-step {
			return max
		}
		t += step
	}
	return min(t, max)
}
