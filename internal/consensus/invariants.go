package consensus

import (
	"fmt"
)

// invariantState is what CheckInvariants remembers between calls, to
// check that what must only rise never falls.
type invariantState struct {
	checked                         bool
	round, highQC, voted, tipHeight uint64
}

// CheckInvariants returns an error if the core's state breaks what must
// always hold, whatever its inputs: the committed tip is in the block
// tree, every other block in it descends from the tip, the round is past
// the high QC's and the high TC's, the block of the high QC is held (or
// being fetched), no commit ever conflicted, and the round, the high QC,
// the last voted round and the committed height never went back since the
// previous call. The simulator and the tests call it after every Step and
// Tick and fail at the first error; it costs a walk of the tree, so the
// node does not.
func (c *Core) CheckInvariants() error {
	if err := c.checkTree(); err != nil {
		return err
	}
	qc := c.safety.HighQC
	switch {
	case c.stats.ConflictCommit > 0:
		return fmt.Errorf("consensus invariant: %d commits conflicted with the committed chain", c.stats.ConflictCommit)
	case c.round <= qc.Round:
		return fmt.Errorf("consensus invariant: round %d not above the high QC's %d", c.round, qc.Round)
	case c.highTC != nil && c.round <= c.highTC.Round:
		return fmt.Errorf("consensus invariant: round %d not above the high TC's %d", c.round, c.highTC.Round)
	}
	if _, held := c.tree[qc.BlockHash]; !held && qc.Round > c.tip.Round {
		if _, fetching := c.fetching[qc.BlockHash]; !fetching && len(c.pendingQCs[qc.BlockHash]) == 0 {
			return fmt.Errorf("consensus invariant: the high QC's block %s is neither held nor awaited", qc.BlockHash)
		}
	}
	p := &c.inv
	if p.checked {
		switch {
		case c.round < p.round:
			return fmt.Errorf("consensus invariant: round went back from %d to %d", p.round, c.round)
		case qc.Round < p.highQC:
			return fmt.Errorf("consensus invariant: high QC went back from round %d to %d", p.highQC, qc.Round)
		case c.safety.LastVotedRound < p.voted:
			return fmt.Errorf("consensus invariant: last voted round went back from %d to %d", p.voted, c.safety.LastVotedRound)
		case c.tip.Height < p.tipHeight:
			return fmt.Errorf("consensus invariant: committed height went back from %d to %d", p.tipHeight, c.tip.Height)
		}
	}
	*p = invariantState{checked: true, round: c.round, highQC: qc.Round, voted: c.safety.LastVotedRound, tipHeight: c.tip.Height}
	return nil
}

func (c *Core) checkTree() error {
	if c.tree[c.tipHash] != c.tip {
		return fmt.Errorf("consensus invariant: the committed tip %s is not in the block tree", c.tipHash)
	}
	for h, b := range c.tree {
		if h == c.tipHash {
			continue
		}
		parent, ok := c.tree[b.Parent]
		if !ok {
			return fmt.Errorf("consensus invariant: block %s at height %d has no parent in the tree", h, b.Height)
		}
		if b.Height != parent.Height+1 || b.Height <= c.tip.Height {
			return fmt.Errorf("consensus invariant: block %s at height %d on a parent at height %d, tip at %d", h, b.Height, parent.Height, c.tip.Height)
		}
	}
	return nil
}
