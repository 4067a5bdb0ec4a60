package chain

// Signature is one validator's signature inside a certificate.
type Signature struct {
	Signer uint32
	Sig    []byte
}

// Vote is a validator's signed statement that it accepts the block with
// hash BlockHash proposed in Round. Votes go to the leader of Round+1.
type Vote struct {
	Round     uint64
	BlockHash Hash
	Voter     uint32
	Sig       []byte
}

// VoteSignBytes returns what a vote signs: (chain id, round, block hash).
func VoteSignBytes(chainID string, round uint64, block Hash) []byte {
	e := newEncoder(domainVote, chainID)
	e.u64(round)
	e.hash(block)
	return e.buf
}

// QC is a quorum certificate: votes of more than two thirds of the voting
// power for one block in one round. Votes are sorted by signer, one each.
type QC struct {
	Round     uint64
	BlockHash Hash
	Votes     []Signature
}

// Signers returns the indices of the validators whose votes form the QC.
func (q *QC) Signers() []uint32 {
	out := make([]uint32, len(q.Votes))
	for i, v := range q.Votes {
		out[i] = v.Signer
	}
	return out
}

func (q *QC) encode(e *encoder) {
	e.u64(q.Round)
	e.hash(q.BlockHash)
	e.u64(uint64(len(q.Votes)))
	for _, v := range q.Votes {
		e.u32(v.Signer)
		e.bytes(v.Sig)
	}
}

// Digest returns a hash of the QC's full content, signatures included; it
// identifies an already-verified certificate.
func (q *QC) Digest() Hash {
	e := newEncoder("strategos/qc-digest", "")
	q.encode(e)
	return e.sum()
}

// Timeout is a validator's signed statement that it gave up on Round. It
// carries the highest QC the validator knows, and, when the validator
// entered Round through a timeout certificate, that certificate, so that
// receivers can catch up.
type Timeout struct {
	Round  uint64
	HighQC *QC
	LastTC *TC // optional: the TC for Round-1
	Voter  uint32
	Sig    []byte
}

// TimeoutSignBytes returns what a timeout signs: (chain id, round, round of
// the sender's highest QC).
func TimeoutSignBytes(chainID string, round, highQCRound uint64) []byte {
	e := newEncoder(domainTimeout, chainID)
	e.u64(round)
	e.u64(highQCRound)
	return e.buf
}

// TimeoutSig is one validator's signed timeout inside a TC.
type TimeoutSig struct {
	Signer      uint32
	HighQCRound uint64
	Sig         []byte
}

// TC is a timeout certificate: timeouts for Round from more than two thirds
// of the voting power. HighQC is the highest QC among them; its round must
// equal the largest HighQCRound that a signer signed.
type TC struct {
	Round    uint64
	HighQC   *QC
	Timeouts []TimeoutSig
}

// Signers returns the indices of the validators whose timeouts form the TC.
func (t *TC) Signers() []uint32 {
	out := make([]uint32, len(t.Timeouts))
	for i, s := range t.Timeouts {
		out[i] = s.Signer
	}
	return out
}

// Digest returns a hash of the TC's full content.
func (t *TC) Digest() Hash {
	e := newEncoder("strategos/tc-digest", "")
	e.u64(t.Round)
	if t.HighQC != nil {
		t.HighQC.encode(e)
	}
	e.u64(uint64(len(t.Timeouts)))
	for _, s := range t.Timeouts {
		e.u32(s.Signer)
		e.u64(s.HighQCRound)
		e.bytes(s.Sig)
	}
	return e.sum()
}

// Proposal is a leader's signed block for a round. When the block's QC is
// not for the previous round, the proposal carries the TC for the previous
// round that justifies skipping it.
type Proposal struct {
	Block *Block
	TC    *TC
	Sig   []byte
}

// ProposalSignBytes returns what a proposal signs: (chain id, round, block
// hash).
func ProposalSignBytes(chainID string, round uint64, block Hash) []byte {
	e := newEncoder(domainProposal, chainID)
	e.u64(round)
	e.hash(block)
	return e.buf
}

// EvidenceKind names a provable kind of misbehaviour.
type EvidenceKind string

// Kinds of evidence.
const (
	DoubleProposal EvidenceKind = "double-proposal"
	DoubleVote     EvidenceKind = "double-vote"
)

// Evidence proves that a validator signed two conflicting messages for one
// round: two proposals, or two votes, for different blocks. Both signed
// messages are kept, so anyone can check the proof; a proposal is kept as
// its signed header, so a proof is two headers (bounded by their
// certificates' signatures), never two payloads.
type Evidence struct {
	Kind      EvidenceKind
	Validator uint32
	Round     uint64
	Height    uint64 // height of the first proposal's block; 0 for votes

	HeaderA, HeaderB *SignedHeader // double proposal
	VoteA, VoteB     *Vote         // double vote
}
