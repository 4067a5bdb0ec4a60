package chain

import (
	"errors"
	"fmt"
)

// Key identifies the misbehaviour an evidence value proves: one per kind,
// validator and round, however many times it is reported.
func (e Evidence) Key() string { return fmt.Sprintf("%s/%d/%d", e.Kind, e.Validator, e.Round) }

// VerifyEvidence checks that e proves what it claims: two messages of the
// same kind, signed by the same validator of vals for the same round of
// chainID, for different blocks. A forged accusation against an honest
// validator fails, since it cannot carry two valid signatures of that
// validator over conflicting messages.
func VerifyEvidence(e Evidence, chainID string, vals *ValidatorSet, v Verifier) error {
	if !vals.Has(e.Validator) {
		return fmt.Errorf("chain: evidence against %d, not a validator", e.Validator)
	}
	pub := vals.Get(e.Validator).PubKey
	switch e.Kind {
	case DoubleProposal:
		a, b := e.ProposalA, e.ProposalB
		if a == nil || b == nil || a.Block == nil || b.Block == nil || e.VoteA != nil || e.VoteB != nil {
			return errors.New("chain: double-proposal evidence needs two proposals and nothing else")
		}
		if a.Block.Proposer != e.Validator || b.Block.Proposer != e.Validator || a.Block.Round != e.Round || b.Block.Round != e.Round {
			return errors.New("chain: proposals are not both by the accused for the round")
		}
		ha, hb := a.Block.Hash(chainID), b.Block.Hash(chainID)
		if ha == hb {
			return errors.New("chain: the two proposals are the same block")
		}
		if !v.Verify(pub, ProposalSignBytes(chainID, e.Round, ha), a.Sig) || !v.Verify(pub, ProposalSignBytes(chainID, e.Round, hb), b.Sig) {
			return errors.New("chain: a proposal's signature does not verify")
		}
	case DoubleVote:
		a, b := e.VoteA, e.VoteB
		if a == nil || b == nil || e.ProposalA != nil || e.ProposalB != nil {
			return errors.New("chain: double-vote evidence needs two votes and nothing else")
		}
		if a.Voter != e.Validator || b.Voter != e.Validator || a.Round != e.Round || b.Round != e.Round {
			return errors.New("chain: votes are not both by the accused for the round")
		}
		if a.BlockHash == b.BlockHash {
			return errors.New("chain: the two votes are for the same block")
		}
		if !v.Verify(pub, VoteSignBytes(chainID, e.Round, a.BlockHash), a.Sig) || !v.Verify(pub, VoteSignBytes(chainID, e.Round, b.BlockHash), b.Sig) {
			return errors.New("chain: a vote's signature does not verify")
		}
	default:
		return fmt.Errorf("chain: unknown evidence kind %q", e.Kind)
	}
	return nil
}
