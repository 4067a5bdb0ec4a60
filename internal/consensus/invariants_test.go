package consensus

import (
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// The invariant checker has teeth: each kind of broken state is reported.
func TestCheckInvariantsCatchesBrokenState(t *testing.T) {
	breakers := map[string]func(c *Core){
		"round went back": func(c *Core) { c.inv.round = c.round + 1 },
		"not above the high QC": func(c *Core) {
			c.round = c.safety.HighQC.Round
			c.inv.checked = false
		},
		"commits conflicted":    func(c *Core) { c.stats.ConflictCommit++ },
		"not in the block tree": func(c *Core) { delete(c.tree, c.tipHash) },
		"no parent in the tree": func(c *Core) {
			c.tree[chain.Hash{9}] = &chain.Block{Height: c.tip.Height + 2, Parent: chain.Hash{8}}
		},
		"last voted round went back": func(c *Core) { c.inv.voted = c.safety.LastVotedRound + 1 },
		"high QC went back": func(c *Core) {
			c.safety.HighQC = chain.GenesisQC(c.genesis)
		},
	}
	for want, brk := range breakers {
		n := newTestNet(t, 4, nil)
		n.run(30)
		c := n.cores[0]
		if err := c.CheckInvariants(); err != nil {
			t.Fatalf("%s: a healthy core fails its invariants: %v", want, err)
		}
		if c.round < 3 || c.safety.LastVotedRound == 0 {
			t.Fatalf("%s: no progress to break (round %d)", want, c.round)
		}
		brk(c)
		if err := c.CheckInvariants(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("broken %q: got %v", want, err)
		}
	}
}
