package consensus

import (
	"slices"

	"github.com/strategos/strategos/internal/chain"
)

// onProposal validates a leader's proposal, learns its certificates, and
// votes for it if the voting rule allows.
func (c *Core) onProposal(p *chain.Proposal, from uint32) {
	b := p.Block
	if b == nil {
		c.drop("proposal without block")
		return
	}
	h := b.Hash(c.cfg.ChainID)
	if _, ok := c.tree[h]; ok {
		return // duplicate
	}
	if first, ok := c.seenProposals[seenKey{round: b.Round, validator: b.Proposer}]; ok {
		if first.hash == h {
			return // duplicate of a proposal already verified
		}
		if first.first == nil {
			// Its double proposal is proven: whatever else it proposes
			// for the round is neither verified nor stored, so that a
			// leader re-signing variants cannot fill disks.
			c.drop("proposal after a proven double proposal")
			return
		}
	}
	if b.Round+EvidenceRounds < c.round {
		c.drop("stale proposal")
		return
	}
	if err := c.verifyProposal(p, h); err != nil {
		c.drop("invalid proposal")
		return
	}
	// A late proposal can still prove equivocation, so it is checked for
	// evidence before it is dropped as stale.
	c.checkDoubleProposal(p, h)
	if b.Round <= c.tip.Round {
		c.drop("stale proposal")
		return
	}
	c.processTC(p.TC, from)
	if b.Height > c.tip.Height+uint64(c.cfg.MaxFetch) {
		c.startSync(from) // far behind: catch up by height rather than walk back
	}
	c.acceptProposal(p, h, from)
}

// acceptProposal inserts a verified proposal's block once its parent is
// known, and votes for it.
func (c *Core) acceptProposal(p *chain.Proposal, h chain.Hash, from uint32) {
	b := p.Block
	if _, ok := c.tree[b.Parent]; !ok {
		if b.Round <= c.tip.Round {
			return
		}
		if c.countPending() >= maxPending {
			c.drop("too many pending proposals")
			return
		}
		// Who leads is judged once the parent is known, so any validator
		// can queue a proposal here: each gets a share of the queue, and
		// f Byzantine ones cannot crowd out the leader's.
		if c.countPendingBy(b.Proposer) >= max(1, maxPending/c.cfg.Validators.Len()) {
			c.drop("too many pending proposals from one proposer")
			return
		}
		c.pendingProps[b.Parent] = append(c.pendingProps[b.Parent], p)
		c.processQC(b.QC, from) // fetches the parent
		return
	}
	if !c.parentOK(b) {
		c.drop("block does not extend its parent")
		return
	}
	// Who leads, and who failed to, is judged against the chain the block
	// extends, which is now known.
	if c.leaderFor(b.Round, b.Parent) != b.Proposer {
		c.drop("proposal from a non-leader")
		return
	}
	if !slices.Equal(b.FailedLeaders, c.failedLeaders(b.Parent, b.QC.Round, b.Round)) {
		c.drop("proposal records other failed leaders")
		return
	}
	c.insert(b, h)
	if b.Round == c.round {
		c.maybeVote(b, h, p.TC)
	}
}

func (c *Core) countPendingBy(v uint32) int {
	n := 0
	for _, ps := range c.pendingProps {
		for _, p := range ps {
			if p.Block.Proposer == v {
				n++
			}
		}
	}
	return n
}

func (c *Core) countPending() int {
	n := 0
	for _, ps := range c.pendingProps {
		n += len(ps)
	}
	return n
}

// maybeVote applies the voting rule and, if it allows, records the vote in
// the safety state and sends it to the next round's leader.
func (c *Core) maybeVote(b *chain.Block, h chain.Hash, tc *chain.TC) {
	last := c.safety.LastVotedRound
	if c.cfg.Unsafe.SkipVoteRoundCheck && b.Round == last {
		last = b.Round - 1
	}
	if !safeToVote(b.Round, b.QC.Round, tc, last) {
		return
	}
	if err := c.cfg.Source.Check(b); err != nil {
		c.drop("block refused by the application")
		return
	}
	c.safety.LastVotedRound = max(c.safety.LastVotedRound, b.Round)
	c.safetyDirty = true
	v := &chain.Vote{
		Round:     b.Round,
		BlockHash: h,
		Voter:     c.cfg.Self,
		Sig:       c.sign(chain.VoteSignBytes(c.cfg.ChainID, b.Round, h)),
	}
	// The vote goes to every validator, not only the next leader: each
	// forms the QC itself, commits at once, and moves to the next round
	// with it, so a failed next leader costs its own round only, and the
	// round after it builds on this block (its timeouts carry the QC).
	c.send(Broadcast, Message{Vote: v})
	c.addVote(v, c.cfg.Self)
}

// tryPropose proposes a block if this validator leads the current round,
// has not proposed in it yet, and holds the certificate that justifies it.
func (c *Core) tryPropose() {
	if c.leaderFor(c.round, c.safety.HighQC.BlockHash) != c.cfg.Self || c.proposed >= c.round || c.safety.LastVotedRound >= c.round {
		return
	}
	qc := c.safety.HighQC
	var tc *chain.TC
	if qc.Round+1 != c.round {
		if c.highTC == nil || c.highTC.Round+1 != c.round || qc.Round < c.highTC.HighQC.Round {
			return
		}
		tc = c.highTC
	}
	parent, ok := c.tree[qc.BlockHash]
	if !ok {
		return
	}
	if c.roundTicks < c.cfg.EmptyBlockDelay && !c.cfg.Source.HasTxs() && !c.payloadAbove(qc.BlockHash) {
		return
	}
	height := parent.Height + 1
	execHeight, root := c.cfg.Source.Executed(parent)
	txs, evidence := c.cfg.Source.Payload(height, c.branch(qc.BlockHash))
	b := &chain.Block{
		Height:     height,
		Round:      c.round,
		Parent:     qc.BlockHash,
		QC:         qc,
		Payload:    txs,
		Proposer:   c.cfg.Self,
		Time:       c.cfg.Source.Time(),
		ExecHeight: execHeight,
		StateRoot:  root,

		FailedLeaders: c.failedLeaders(qc.BlockHash, qc.Round, c.round),
		Evidence:      evidence,
	}
	h := b.Hash(c.cfg.ChainID)
	p := &chain.Proposal{Block: b, TC: tc, Sig: c.sign(chain.ProposalSignBytes(c.cfg.ChainID, c.round, h))}
	c.proposed = c.round
	c.send(Broadcast, Message{Proposal: p})
	c.checkDoubleProposal(p, h)
	c.acceptProposal(p, h, c.cfg.Self)
}

// failedLeaders returns what a block of round that extends parent, of
// round parentRound, records: the leaders of the rounds in between on that
// chain, most recent first, at most chain.MaxFailedLeaders.
func (c *Core) failedLeaders(parent chain.Hash, parentRound, round uint64) []uint32 {
	var out []uint32
	limit := chain.MaxFailedLeaders(c.cfg.Validators.Len())
	for g := round - 1; g > parentRound && len(out) < limit; g-- {
		out = append(out, c.leaderFor(g, parent))
	}
	return out
}

// branch returns the blocks a new block on h extends whose commit the
// runtime has not applied yet, h first: the uncommitted blocks down to the
// committed tip, then the blocks committed since the last Ready. The
// runtime learns of a commit only through Ready, so until then it cannot
// know that their transactions are taken.
func (c *Core) branch(h chain.Hash) []*chain.Block {
	var out []*chain.Block
	for h != c.tipHash {
		b, ok := c.tree[h]
		if !ok {
			break
		}
		out = append(out, b)
		h = b.Parent
	}
	for i := len(c.out.Committed) - 1; i >= 0; i-- {
		out = append(out, c.out.Committed[i].Block)
	}
	return out
}

// payloadAbove reports whether block h or an uncommitted ancestor carries
// transactions: they commit only once blocks are built on top, so the
// leader must not wait before extending them.
func (c *Core) payloadAbove(h chain.Hash) bool {
	for h != c.tipHash {
		b, ok := c.tree[h]
		if !ok {
			return false
		}
		if len(b.Payload) > 0 {
			return true
		}
		h = b.Parent
	}
	return false
}

// checkDoubleProposal records the first proposal of each (round, proposer)
// and reports evidence when a second, different one arrives.
func (c *Core) checkDoubleProposal(p *chain.Proposal, h chain.Hash) {
	k := seenKey{round: p.Block.Round, validator: p.Block.Proposer}
	first, ok := c.seenProposals[k]
	if !ok {
		c.seenProposals[k] = seenProposal{hash: h, first: p.SignedHeader(c.cfg.ChainID)}
		return
	}
	if first.hash == h || first.first == nil {
		return
	}
	c.out.Evidence = append(c.out.Evidence, chain.Evidence{
		Kind: chain.DoubleProposal, Validator: k.validator, Round: k.round,
		Height: first.first.Header.Height, HeaderA: first.first, HeaderB: p.SignedHeader(c.cfg.ChainID),
	})
	c.seenProposals[k] = seenProposal{hash: first.hash} // report once
}
