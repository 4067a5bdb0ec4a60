package consensus

import (
	"slices"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

type voteAgg struct {
	done    bool
	byBlock map[chain.Hash]*voteSet
}

type voteSet struct {
	tally quorum.Tally
	sigs  []chain.Signature
}

type timeoutAgg struct {
	done  bool
	tally quorum.Tally
	sigs  []chain.TimeoutSig
	high  *chain.QC
}

// onVote verifies a vote sent to this validator as the next leader. What
// it keeps is bounded by construction: at most two votes per (round,
// voter), the second proving a double vote, for rounds within
// futureVoteRounds of the current one. A repeated vote, or any vote after a proven double vote, is
// dropped before its signature is checked, so a sender cannot make the
// leader verify the same signature twice.
func (c *Core) onVote(v *chain.Vote, from uint32) {
	switch {
	case !c.cfg.Validators.Has(v.Voter):
		c.drop("vote from unknown validator")
		return
	case v.Round+1 < c.round:
		c.drop("stale vote")
		return
	case v.Round > c.round+futureVoteRounds:
		c.drop("vote too far in the future")
		return
	}
	switch first, seen := c.seenVotes[seenKey{round: v.Round, validator: v.Voter}]; {
	case seen && first == nil:
		c.drop("vote after a proven double vote")
		return
	case seen && first.BlockHash == v.BlockHash:
		c.drop("duplicate vote")
		return
	}
	if !c.cfg.Verifier.Verify(c.cfg.Validators.Get(v.Voter).PubKey, chain.VoteSignBytes(c.cfg.ChainID, v.Round, v.BlockHash), v.Sig) {
		c.drop("vote with invalid signature")
		return
	}
	c.addVote(v, from)
}

// addVote counts a verified vote and forms a QC once a quorum of distinct
// validators voted for one block. At most two votes of a voter are counted
// in a round: its first, and one conflicting vote, which proves the double
// vote; onVote drops any further one unverified.
func (c *Core) addVote(v *chain.Vote, from uint32) {
	k := seenKey{round: v.Round, validator: v.Voter}
	switch first, seen := c.seenVotes[k]; {
	case !seen:
		c.seenVotes[k] = v
	case first == nil || first.BlockHash == v.BlockHash:
		return
	default:
		c.out.Evidence = append(c.out.Evidence, chain.Evidence{
			Kind: chain.DoubleVote, Validator: v.Voter, Round: v.Round, VoteA: first, VoteB: v,
		})
		c.seenVotes[k] = nil // report once; count nothing more from it this round
	}
	agg := c.votes[v.Round]
	if agg == nil {
		agg = &voteAgg{byBlock: make(map[chain.Hash]*voteSet)}
		c.votes[v.Round] = agg
	}
	if agg.done {
		return
	}
	set := agg.byBlock[v.BlockHash]
	if set == nil {
		set = &voteSet{}
		agg.byBlock[v.BlockHash] = set
	}
	if !set.tally.Add(v.Voter, c.cfg.Validators.Power(v.Voter)) {
		return
	}
	set.sigs = append(set.sigs, chain.Signature{Signer: v.Voter, Sig: v.Sig})
	if !quorum.Reached(set.tally.Power(), c.cfg.Validators.TotalPower()) {
		return
	}
	agg.done = true
	sigs := slices.Clone(set.sigs)
	slices.SortFunc(sigs, func(a, b chain.Signature) int { return int(a.Signer) - int(b.Signer) })
	qc := &chain.QC{Round: v.Round, BlockHash: v.BlockHash, Votes: sigs}
	c.remember(qc.Digest())
	// Without the block the next leader cannot be drawn (the rule reads
	// the chain it ends); that leader then gets the votes, or the QC in
	// later timeouts.
	if _, held := c.tree[v.BlockHash]; held {
		if next := c.leaderFor(v.Round+1, v.BlockHash); next != c.cfg.Self {
			c.send(next, Message{QC: qc})
		}
	}
	c.processQC(qc, from)
}

// onQC learns a certificate another validator formed (see Message.QC). A
// QC no higher than this validator's own is dropped before its signatures
// are checked, so repeating one costs nothing; a higher one is verified
// once, like any certificate.
func (c *Core) onQC(qc *chain.QC, from uint32) {
	switch {
	case qc.Round <= c.safety.HighQC.Round:
		return // known or superseded
	case slices.ContainsFunc(c.pendingQCs[qc.BlockHash], func(p *chain.QC) bool { return p.Round == qc.Round }):
		return // already waiting for its block
	case qc.Round > c.round+futureRounds:
		c.drop("qc too far in the future")
		return
	}
	if err := c.verifyQC(qc); err != nil {
		c.drop("invalid qc")
		return
	}
	c.processQC(qc, from)
}

// onTimeout verifies a peer's timeout, learns its certificates, and forms a
// TC once a quorum timed out in one round.
func (c *Core) onTimeout(t *chain.Timeout, from uint32) {
	if err := c.verifyTimeout(t); err != nil {
		c.drop("invalid timeout")
		return
	}
	// Certificates prove progress however far ahead they are: a validator
	// that was away for a long time catches up on them. Only the timeout
	// itself, one validator's word, is kept within a window of rounds.
	c.processQC(t.HighQC, from)
	c.processTC(t.LastTC, from)
	if t.Round > c.round+futureRounds {
		c.drop("timeout too far in the future")
		return
	}
	c.addTimeout(t, from)
}

func (c *Core) addTimeout(t *chain.Timeout, from uint32) {
	if t.Round < c.round {
		return // the round is over; its certificates were learnt above
	}
	agg := c.timeouts[t.Round]
	if agg == nil {
		agg = &timeoutAgg{}
		c.timeouts[t.Round] = agg
	}
	if agg.done || !agg.tally.Add(t.Voter, c.cfg.Validators.Power(t.Voter)) {
		return
	}
	agg.sigs = append(agg.sigs, chain.TimeoutSig{Signer: t.Voter, HighQCRound: t.HighQC.Round, Sig: t.Sig})
	if agg.high == nil || t.HighQC.Round > agg.high.Round {
		agg.high = t.HighQC
	}
	total := c.cfg.Validators.TotalPower()
	// Join a round that more than f validators gave up on: at least one
	// honest validator timed out, so waiting longer cannot help.
	if t.Round == c.round && quorum.Weak(agg.tally.Power(), total) &&
		(c.safety.LastTimeout == nil || c.safety.LastTimeout.Round < c.round) {
		c.localTimeout()
	}
	if agg.done || !quorum.Reached(agg.tally.Power(), total) {
		return
	}
	agg.done = true
	sigs := slices.Clone(agg.sigs)
	slices.SortFunc(sigs, func(a, b chain.TimeoutSig) int { return int(a.Signer) - int(b.Signer) })
	tc := &chain.TC{Round: t.Round, HighQC: agg.high, Timeouts: sigs}
	c.remember(tc.Digest())
	c.processTC(tc, from)
}

// localTimeout gives up on the current round: the validator stops voting in
// it, signs a timeout carrying its highest QC, and broadcasts it. A timeout
// already signed for this round is re-sent unchanged, unless the high QC
// has risen since: a stale timeout would hide that QC from validators still
// waiting for it. Re-signing with a higher QC is safe, because a high QC
// only rises, so every timeout a validator signs after voting for a block
// still reports at least that block's parent certificate.
func (c *Core) localTimeout() {
	t := c.safety.LastTimeout
	if t == nil || t.Round != c.round || t.HighQC.Round < c.safety.HighQC.Round {
		c.safety.LastVotedRound = max(c.safety.LastVotedRound, c.round)
		t = &chain.Timeout{
			Round:  c.round,
			HighQC: c.safety.HighQC,
			Voter:  c.cfg.Self,
			Sig:    c.sign(chain.TimeoutSignBytes(c.cfg.ChainID, c.round, c.safety.HighQC.Round)),
		}
		if c.highTC != nil && c.highTC.Round+1 == c.round {
			t.LastTC = c.highTC
		}
		c.safety.LastTimeout = t
		c.safetyDirty = true
	}
	c.failedRounds++
	c.ticksLeft = c.timeout()
	c.send(Broadcast, Message{Timeout: t})
	c.addTimeout(t, c.cfg.Self)
}

// processQC learns a verified QC: it may raise the high QC, commit blocks
// and advance the round. A QC for a block not yet held is kept until the
// block is fetched.
func (c *Core) processQC(qc *chain.QC, from uint32) {
	if qc == nil || qc.Round <= c.tip.Round {
		return
	}
	if _, ok := c.tree[qc.BlockHash]; !ok {
		if len(c.pendingQCs[qc.BlockHash]) < maxPendingQCs {
			c.pendingQCs[qc.BlockHash] = append(c.pendingQCs[qc.BlockHash], qc)
		}
		c.fetch(qc.BlockHash, from)
		c.enterRound(qc.Round+1, true)
		return
	}
	if qc.Round > c.safety.HighQC.Round {
		c.safety.HighQC = qc
		c.safetyDirty = true
	}
	c.tryCommit(qc)
	c.enterRound(qc.Round+1, true)
	c.proposeDue = true
}

// processTC learns a verified TC and advances the round past it.
func (c *Core) processTC(tc *chain.TC, from uint32) {
	if tc == nil {
		return
	}
	if c.highTC == nil || tc.Round > c.highTC.Round {
		c.highTC = tc
		c.safety.HighTC = tc
		c.safetyDirty = true
	}
	c.processQC(tc.HighQC, from)
	c.enterRound(tc.Round+1, false)
	c.proposeDue = true
}

// enterRound moves to round r if it is ahead of the current one.
func (c *Core) enterRound(r uint64, progress bool) {
	if r <= c.round {
		return
	}
	if progress && r == c.round+1 {
		c.noteRound(c.roundTicks) // the current round ended in its QC
	}
	c.round = r
	c.roundTicks = 0
	if progress {
		c.failedRounds = 0
	}
	c.ticksLeft = c.timeout()
	for old := range c.votes {
		if old+1 < r {
			delete(c.votes, old)
		}
	}
	for old := range c.timeouts {
		if old < r {
			delete(c.timeouts, old)
		}
	}
	c.proposeDue = true
}

// tryCommit applies the two-chain commit rule to a QC whose block is held.
func (c *Core) tryCommit(qc *chain.QC) {
	child := c.tree[qc.BlockHash]
	parent, ok := c.tree[child.Parent]
	if !ok || parent.Height <= c.tip.Height {
		return
	}
	if !commits(parent.Round, child.Round) && !c.cfg.Unsafe.SkipCommitRoundCheck {
		return
	}
	c.commit(child.Parent, child.QC)
}

// commit commits block h, certified by qc, and its uncommitted ancestors in
// height order, then prunes the tree.
func (c *Core) commit(h chain.Hash, qc *chain.QC) {
	var chainUp []Commit
	for cur, cert := h, qc; cur != c.tipHash; {
		b, ok := c.tree[cur]
		if !ok || b.Height <= c.tip.Height {
			// The certified branch does not extend our committed tip:
			// only possible with more than f Byzantine validators.
			c.stats.ConflictCommit++
			return
		}
		chainUp = append(chainUp, Commit{Block: b, Hash: cur, QC: cert})
		cur, cert = b.Parent, b.QC
	}
	slices.Reverse(chainUp)
	if c.rep != nil {
		for _, cm := range chainUp {
			c.rep.Commit(cm.Block)
		}
	}
	c.out.Committed = append(c.out.Committed, chainUp...)
	c.tip, c.tipHash = chainUp[len(chainUp)-1].Block, h
	c.prune()
}

// prune forgets blocks that can no longer matter: those at or below the
// committed tip and those not descending from it.
func (c *Core) prune() {
	for h, b := range c.tree {
		if h != c.tipHash && b.Height <= c.tip.Height {
			delete(c.tree, h)
		}
	}
	for changed := true; changed; {
		changed = false
		for h, b := range c.tree {
			if h == c.tipHash {
				continue
			}
			if _, ok := c.tree[b.Parent]; !ok {
				delete(c.tree, h)
				changed = true
			}
		}
	}
	for parent, ps := range c.pendingProps {
		ps = slices.DeleteFunc(ps, func(p *chain.Proposal) bool { return p.Block.Round <= c.tip.Round })
		if len(ps) == 0 {
			delete(c.pendingProps, parent)
		} else {
			c.pendingProps[parent] = ps
		}
	}
	for h, qcs := range c.pendingQCs {
		if qcs[0].Round <= c.tip.Round {
			delete(c.pendingQCs, h)
		}
	}
	for h, b := range c.orphans {
		if b.Height <= c.tip.Height {
			delete(c.orphans, h)
		}
	}
	if c.round > EvidenceRounds {
		floor := c.round - EvidenceRounds
		for k := range c.seenProposals {
			if k.round < floor {
				delete(c.seenProposals, k)
			}
		}
	}
	if c.round > voteMemoryRounds {
		floor := c.round - voteMemoryRounds
		for k := range c.seenVotes {
			if k.round < floor {
				delete(c.seenVotes, k)
			}
		}
	}
}
