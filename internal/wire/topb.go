package wire

import (
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

// Conversions from Go values to protobuf messages. They run after the check
// functions, share the Go values' slices (proto.Marshal copies them out) and
// cannot fail. A nil pointer becomes an absent field.

func hashPB(h chain.Hash) []byte { return h[:] }

func qcPB(q *chain.QC) *wirepb.QC {
	if q == nil {
		return nil
	}
	out := &wirepb.QC{Round: q.Round, BlockHash: hashPB(q.BlockHash)}
	if len(q.Votes) > 0 {
		out.Votes = make([]*wirepb.Signature, len(q.Votes))
		sigs := make([]wirepb.Signature, len(q.Votes))
		for i, v := range q.Votes {
			sigs[i].Signer, sigs[i].Sig = uint64(v.Signer), v.Sig
			out.Votes[i] = &sigs[i]
		}
	}
	return out
}

func blockPB(b *chain.Block) *wirepb.Block {
	if b == nil {
		return nil
	}
	return &wirepb.Block{
		Height:     b.Height,
		Round:      b.Round,
		Parent:     hashPB(b.Parent),
		Qc:         qcPB(b.QC),
		Payload:    b.Payload,
		Proposer:   uint64(b.Proposer),
		Time:       b.Time,
		ExecHeight: b.ExecHeight,
		StateRoot:  b.StateRoot,

		FailedLeaders: indicesPB(b.FailedLeaders),
		Evidence:      evidenceListPB(b.Evidence),
	}
}

func evidenceListPB(evs []chain.Evidence) []*wirepb.Evidence {
	if len(evs) == 0 {
		return nil
	}
	out := make([]*wirepb.Evidence, len(evs))
	for i := range evs {
		out[i] = evidencePB(&evs[i])
	}
	return out
}

func votePB(v *chain.Vote) *wirepb.Vote {
	if v == nil {
		return nil
	}
	return &wirepb.Vote{Round: v.Round, BlockHash: hashPB(v.BlockHash), Voter: uint64(v.Voter), Sig: v.Sig}
}

func tcPB(t *chain.TC) *wirepb.TC {
	if t == nil {
		return nil
	}
	out := &wirepb.TC{Round: t.Round, HighQc: qcPB(t.HighQC)}
	if len(t.Timeouts) > 0 {
		out.Timeouts = make([]*wirepb.TimeoutSig, len(t.Timeouts))
		sigs := make([]wirepb.TimeoutSig, len(t.Timeouts))
		for i, s := range t.Timeouts {
			sigs[i].Signer, sigs[i].HighQcRound, sigs[i].Sig = uint64(s.Signer), s.HighQCRound, s.Sig
			out.Timeouts[i] = &sigs[i]
		}
	}
	return out
}

func timeoutPB(t *chain.Timeout) *wirepb.Timeout {
	if t == nil {
		return nil
	}
	return &wirepb.Timeout{Round: t.Round, HighQc: qcPB(t.HighQC), LastTc: tcPB(t.LastTC), Voter: uint64(t.Voter), Sig: t.Sig}
}

func proposalPB(p *chain.Proposal) *wirepb.Proposal {
	if p == nil {
		return nil
	}
	return &wirepb.Proposal{Block: blockPB(p.Block), Tc: tcPB(p.TC), Sig: p.Sig}
}

func blockRequestPB(r *consensus.BlockRequest) *wirepb.BlockRequest {
	return &wirepb.BlockRequest{Hash: hashPB(r.Hash), Count: uint64(r.Count), Above: r.Above}
}

func blockResponsePB(r *consensus.BlockResponse) *wirepb.BlockResponse {
	out := &wirepb.BlockResponse{Blocks: make([]*wirepb.Block, len(r.Blocks))}
	for i, b := range r.Blocks {
		out.Blocks[i] = blockPB(b)
	}
	return out
}

func syncRequestPB(r *consensus.SyncRequest) *wirepb.SyncRequest {
	return &wirepb.SyncRequest{From: r.From, Count: uint64(r.Count)}
}

func syncResponsePB(r *consensus.SyncResponse) *wirepb.SyncResponse {
	return &wirepb.SyncResponse{Blocks: blockResponsePB(&consensus.BlockResponse{Blocks: r.Blocks}).Blocks, Qc: qcPB(r.QC), Tip: r.Tip, Earliest: r.Earliest}
}

func evidenceKindPB(k chain.EvidenceKind) wirepb.Evidence_Kind {
	switch k {
	case chain.DoubleProposal:
		return wirepb.Evidence_KIND_DOUBLE_PROPOSAL
	case chain.DoubleVote:
		return wirepb.Evidence_KIND_DOUBLE_VOTE
	}
	return wirepb.Evidence_KIND_UNSPECIFIED
}

func evidencePB(e *chain.Evidence) *wirepb.Evidence {
	return &wirepb.Evidence{
		Kind:      evidenceKindPB(e.Kind),
		Validator: uint64(e.Validator),
		Round:     e.Round,
		Height:    e.Height,
		HeaderA:   signedHeaderPB(e.HeaderA),
		HeaderB:   signedHeaderPB(e.HeaderB),
		VoteA:     votePB(e.VoteA),
		VoteB:     votePB(e.VoteB),
	}
}

func safetyPB(s *consensus.SafetyState) *wirepb.SafetyState {
	return &wirepb.SafetyState{LastVotedRound: s.LastVotedRound, HighQc: qcPB(s.HighQC), LastTimeout: timeoutPB(s.LastTimeout), HighTc: tcPB(s.HighTC)}
}

func signedHeaderPB(h *chain.SignedHeader) *wirepb.SignedHeader {
	if h == nil {
		return nil
	}
	x := &h.Header
	return &wirepb.SignedHeader{Sig: h.Sig, Header: &wirepb.Header{
		Height: x.Height, Round: x.Round, Parent: x.Parent[:], Qc: qcPB(x.QC), PayloadHash: x.PayloadHash[:],
		EvidenceHash: x.EvidenceHash[:],
		Proposer:     uint64(x.Proposer), Time: x.Time, ExecHeight: x.ExecHeight, StateRoot: x.StateRoot,
		FailedLeaders: indicesPB(x.FailedLeaders),
	}}
}
