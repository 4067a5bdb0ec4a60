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

// timeoutTicks is the pacemaker's backoff: the base timeout doubles with
// every consecutive failed round, up to max (as Config.BaseTimeout
// documents). It saturates at max rather than overflow.
func timeoutTicks(base, max, failed int) int {
	t := base
	for i := 0; i < failed && t < max; i++ {
		if t > max/2 {
			return max
		}
		t *= 2
	}
	if t > max {
		t = max
	}
	return t
}
