package chain

import (
	"errors"
	"fmt"
)

// Key identifies the misbehaviour an evidence value proves: one per kind,
// validator and round, however many times it is reported.
func (e Evidence) Key() string { return fmt.Sprintf("%s/%d/%d", e.Kind, e.Validator, e.Round) }

// EvidenceRules are what a proof is judged against besides its signatures.
type EvidenceRules struct {
	// Leader, if set, returns the validator that led a round, and only
	// that validator's proposals count. Nil accepts a double proposal by
	// any validator: with a leader rule that reads the committed chain,
	// the judge may not see the leader the accused saw, and two proposals
	// for one round are misbehaviour whoever signs them.
	Leader func(round uint64) uint32
	// Now is the round the proof is judged at (the block's round when a
	// block records it, the validator's own round when it arrives by
	// gossip), and Window how far from Now a proof's round may be: a proof
	// older than Now-Window is stale, one newer than Now+Window premature.
	// Window 0 accepts any round.
	Now, Window uint64
}

// Evidence errors that callers tell apart.
var (
	ErrEvidenceStale = errors.New("chain: evidence outside the window of rounds")
	ErrNotLeader     = errors.New("chain: the accused did not lead the round")
)

// VerifyEvidence checks that e proves what it claims: two messages of the
// same kind, signed by the same validator of vals for the same round of
// chainID, for different blocks, within the rules' window of rounds, and,
// for proposals, by the round's leader with certificates no larger than
// the validator set. A forged accusation against an honest validator
// fails, since it cannot carry two valid signatures of that validator
// over conflicting messages.
func VerifyEvidence(e Evidence, chainID string, vals *ValidatorSet, v Verifier, r EvidenceRules) error {
	if !vals.Has(e.Validator) {
		return fmt.Errorf("chain: evidence against %d, not a validator", e.Validator)
	}
	if r.Window > 0 && (e.Round+r.Window < r.Now || e.Round > r.Now+r.Window) {
		return fmt.Errorf("%w: round %d judged at round %d (window %d)", ErrEvidenceStale, e.Round, r.Now, r.Window)
	}
	pub := vals.Get(e.Validator).PubKey
	switch e.Kind {
	case DoubleProposal:
		a, b := e.HeaderA, e.HeaderB
		if a == nil || b == nil || e.VoteA != nil || e.VoteB != nil {
			return errors.New("chain: double-proposal evidence needs two headers and nothing else")
		}
		if err := checkHeaders(e, a, b, vals.Len()); err != nil {
			return err
		}
		if r.Leader != nil && r.Leader(e.Round) != e.Validator {
			return fmt.Errorf("%w: validator %d, round %d", ErrNotLeader, e.Validator, e.Round)
		}
		ha, hb := a.Header.Hash(chainID), b.Header.Hash(chainID)
		if ha == hb {
			return errors.New("chain: the two proposals are the same block")
		}
		if !v.Verify(pub, ProposalSignBytes(chainID, e.Round, ha), a.Sig) || !v.Verify(pub, ProposalSignBytes(chainID, e.Round, hb), b.Sig) {
			return errors.New("chain: a proposal's signature does not verify")
		}
	case DoubleVote:
		a, b := e.VoteA, e.VoteB
		if a == nil || b == nil || e.HeaderA != nil || e.HeaderB != nil {
			return errors.New("chain: double-vote evidence needs two votes and nothing else")
		}
		if e.Height != 0 {
			return errors.New("chain: double-vote evidence names a height")
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

// checkHeaders checks what a double proposal's headers claim, before any
// signature: both by the accused, for the round, the evidence's height
// that of the first, and certificates no larger than the validator set
// (so a proof's size is bounded by n signatures per header).
func checkHeaders(e Evidence, a, b *SignedHeader, n int) error {
	if a.Header.Proposer != e.Validator || b.Header.Proposer != e.Validator || a.Header.Round != e.Round || b.Header.Round != e.Round {
		return errors.New("chain: proposals are not both by the accused for the round")
	}
	if e.Height != a.Header.Height {
		return fmt.Errorf("chain: evidence names height %d, its first proposal %d", e.Height, a.Header.Height)
	}
	for _, h := range []*SignedHeader{a, b} {
		if h.Header.QC != nil && len(h.Header.QC.Votes) > n {
			return fmt.Errorf("chain: a proposal's certificate has %d votes for %d validators", len(h.Header.QC.Votes), n)
		}
	}
	return nil
}

// EvidenceHash returns a digest of a block's evidence: the zero hash when
// there is none, so that a header without evidence says so plainly.
func EvidenceHash(chainID string, evs []Evidence) Hash {
	if len(evs) == 0 {
		return Hash{}
	}
	enc := newEncoder(domainEvidence, chainID)
	enc.u64(uint64(len(evs)))
	for _, e := range evs {
		e.encode(enc)
	}
	return enc.sum()
}

// Size returns the length of e's canonical encoding: what a proof costs
// of a block's budget.
func (e Evidence) Size() int {
	var enc encoder
	e.encode(&enc)
	return len(enc.buf)
}

// EvidenceBytes returns the total Size of the block's evidence.
func (b *Block) EvidenceBytes() int {
	n := 0
	for _, e := range b.Evidence {
		n += e.Size()
	}
	return n
}

// encode appends e's canonical encoding: every field, with a presence byte
// before each of the four optional messages.
func (e Evidence) encode(enc *encoder) {
	enc.str(string(e.Kind))
	enc.u32(e.Validator)
	enc.u64(e.Round)
	enc.u64(e.Height)
	for _, h := range []*SignedHeader{e.HeaderA, e.HeaderB} {
		if h == nil {
			enc.buf = append(enc.buf, 0)
			continue
		}
		enc.buf = append(enc.buf, 1)
		h.Header.encode(enc)
		enc.bytes(h.Sig)
	}
	for _, v := range []*Vote{e.VoteA, e.VoteB} {
		if v == nil {
			enc.buf = append(enc.buf, 0)
			continue
		}
		enc.buf = append(enc.buf, 1)
		enc.u64(v.Round)
		enc.hash(v.BlockHash)
		enc.u32(v.Voter)
		enc.bytes(v.Sig)
	}
}
