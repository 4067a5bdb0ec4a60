package chain

// Header is a block without its payload and evidence, which it names by
// digest. A header has the same hash as its block, so a proposer's
// signature over a block's hash is checked on the header alone: proofs of
// misbehaviour and the memory of proposals seen carry headers, never
// payloads.
type Header struct {
	Height       uint64
	Round        uint64
	Parent       Hash
	QC           *QC // certificate of the parent; nil only for genesis
	PayloadHash  Hash
	EvidenceHash Hash // zero when the block records no evidence
	Proposer     uint32
	Time         int64
	ExecHeight   uint64
	StateRoot    []byte // at most MaxStateRoot bytes
	// FailedLeaders as in Block.
	FailedLeaders []uint32
}

// Hash returns the identity of the block the header stands for; see
// Block.Hash, which is defined through it.
func (h *Header) Hash(chainID string) Hash {
	e := newEncoder(domainBlock, chainID)
	h.encode(e)
	return e.sum()
}

// encode appends the header's canonical encoding: every field, each of
// fixed length or length-prefixed, so that no two headers share one.
func (h *Header) encode(e *encoder) {
	e.u64(h.Height)
	e.u64(h.Round)
	e.hash(h.Parent)
	if h.QC == nil {
		e.buf = append(e.buf, 0)
	} else {
		e.buf = append(e.buf, 1)
		h.QC.encode(e)
	}
	e.hash(h.PayloadHash)
	e.hash(h.EvidenceHash)
	e.u32(h.Proposer)
	e.i64(h.Time)
	e.u64(h.ExecHeight)
	e.bytes(h.StateRoot)
	e.u64(uint64(len(h.FailedLeaders)))
	for _, v := range h.FailedLeaders {
		e.u32(v)
	}
}

// SignedHeader is a proposal reduced to what proves it was made: the
// header of the proposed block and the proposer's signature over
// ProposalSignBytes(chain id, round, header hash).
type SignedHeader struct {
	Header Header
	Sig    []byte
}

// SignedHeader returns the compact form of p.
func (p *Proposal) SignedHeader(chainID string) *SignedHeader {
	return &SignedHeader{Header: p.Block.Header(chainID), Sig: p.Sig}
}
