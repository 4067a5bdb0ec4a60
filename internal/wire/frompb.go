package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

// Conversions from protobuf messages to Go values. They fail only where the
// protobuf value has no Go counterpart (a hash that is not 32 bytes, an
// index above uint32, an unknown enum); the check functions then apply the
// shape rules to the result. An absent field becomes a nil pointer, and
// empty byte strings and lists become nil. Decoded messages own their
// bytes, so the Go values may share them.

func hashFrom(b []byte, what string) (chain.Hash, error) {
	var h chain.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("%s has %d bytes, want %d", what, len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

// rootFrom converts a state root: an application's app hash, of any
// length up to chain.MaxStateRoot; empty is nil.
func rootFrom(b []byte) ([]byte, error) {
	if len(b) > chain.MaxStateRoot {
		return nil, fmt.Errorf("state root has %d bytes, want at most %d", len(b), chain.MaxStateRoot)
	}
	return bytesFrom(b), nil
}

func indexFrom(v uint64, what string) (uint32, error) {
	if v > math.MaxUint32 {
		return 0, fmt.Errorf("%s %d does not fit in 32 bits", what, v)
	}
	return uint32(v), nil
}

// indicesFrom converts a list of validator indices; an empty list is nil,
// so that a block decodes to what was encoded.
func indicesFrom(vs []uint64, what string) ([]uint32, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	out := make([]uint32, len(vs))
	for i, v := range vs {
		x, err := indexFrom(v, what)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

func indicesPB(vs []uint32) []uint64 {
	if len(vs) == 0 {
		return nil
	}
	out := make([]uint64, len(vs))
	for i, v := range vs {
		out[i] = uint64(v)
	}
	return out
}

func bytesFrom(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func txsFrom(txs [][]byte) [][]byte {
	if len(txs) == 0 {
		return nil
	}
	for i, tx := range txs {
		txs[i] = bytesFrom(tx)
	}
	return txs
}

func qcFrom(m *wirepb.QC) (*chain.QC, error) {
	if m == nil {
		return nil, nil
	}
	h, err := hashFrom(m.BlockHash, "block hash")
	if err != nil {
		return nil, err
	}
	q := &chain.QC{Round: m.Round, BlockHash: h}
	if len(m.Votes) > 0 {
		q.Votes = make([]chain.Signature, len(m.Votes))
		for i, v := range m.Votes {
			if q.Votes[i].Signer, err = indexFrom(v.GetSigner(), "signer"); err != nil {
				return nil, fmt.Errorf("vote %d: %w", i, err)
			}
			q.Votes[i].Sig = bytesFrom(v.GetSig())
		}
	}
	return q, nil
}

func blockFrom(m *wirepb.Block) (*chain.Block, error) {
	if m == nil {
		return nil, nil
	}
	parent, err := hashFrom(m.Parent, "parent")
	if err != nil {
		return nil, err
	}
	root, err := rootFrom(m.StateRoot)
	if err != nil {
		return nil, err
	}
	proposer, err := indexFrom(m.Proposer, "proposer")
	if err != nil {
		return nil, err
	}
	qc, err := qcFrom(m.Qc)
	if err != nil {
		return nil, fmt.Errorf("qc: %w", err)
	}
	failed, err := indicesFrom(m.FailedLeaders, "failed leader")
	if err != nil {
		return nil, err
	}
	evs, err := evidenceListFrom(m.Evidence)
	if err != nil {
		return nil, err
	}
	return &chain.Block{
		Evidence:      evs,
		FailedLeaders: failed,
		Height:        m.Height,
		Round:         m.Round,
		Parent:        parent,
		QC:            qc,
		Payload:       txsFrom(m.Payload),
		Proposer:      proposer,
		Time:          m.Time,
		ExecHeight:    m.ExecHeight,
		StateRoot:     root,
	}, nil
}

func voteFrom(m *wirepb.Vote) (*chain.Vote, error) {
	if m == nil {
		return nil, nil
	}
	h, err := hashFrom(m.BlockHash, "block hash")
	if err != nil {
		return nil, err
	}
	voter, err := indexFrom(m.Voter, "voter")
	if err != nil {
		return nil, err
	}
	return &chain.Vote{Round: m.Round, BlockHash: h, Voter: voter, Sig: bytesFrom(m.Sig)}, nil
}

func tcFrom(m *wirepb.TC) (*chain.TC, error) {
	if m == nil {
		return nil, nil
	}
	qc, err := qcFrom(m.HighQc)
	if err != nil {
		return nil, fmt.Errorf("high qc: %w", err)
	}
	t := &chain.TC{Round: m.Round, HighQC: qc}
	if len(m.Timeouts) > 0 {
		t.Timeouts = make([]chain.TimeoutSig, len(m.Timeouts))
		for i, s := range m.Timeouts {
			if t.Timeouts[i].Signer, err = indexFrom(s.GetSigner(), "signer"); err != nil {
				return nil, fmt.Errorf("timeout %d: %w", i, err)
			}
			t.Timeouts[i].HighQCRound = s.GetHighQcRound()
			t.Timeouts[i].Sig = bytesFrom(s.GetSig())
		}
	}
	return t, nil
}

func timeoutFrom(m *wirepb.Timeout) (*chain.Timeout, error) {
	if m == nil {
		return nil, nil
	}
	qc, err := qcFrom(m.HighQc)
	if err != nil {
		return nil, fmt.Errorf("high qc: %w", err)
	}
	tc, err := tcFrom(m.LastTc)
	if err != nil {
		return nil, fmt.Errorf("last tc: %w", err)
	}
	voter, err := indexFrom(m.Voter, "voter")
	if err != nil {
		return nil, err
	}
	return &chain.Timeout{Round: m.Round, HighQC: qc, LastTC: tc, Voter: voter, Sig: bytesFrom(m.Sig)}, nil
}

func proposalFrom(m *wirepb.Proposal) (*chain.Proposal, error) {
	if m == nil {
		return nil, nil
	}
	b, err := blockFrom(m.Block)
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	tc, err := tcFrom(m.Tc)
	if err != nil {
		return nil, fmt.Errorf("tc: %w", err)
	}
	return &chain.Proposal{Block: b, TC: tc, Sig: bytesFrom(m.Sig)}, nil
}

func blockRequestFrom(m *wirepb.BlockRequest) (*consensus.BlockRequest, error) {
	h, err := hashFrom(m.GetHash(), "hash")
	if err != nil {
		return nil, err
	}
	if m.GetCount() > MaxBlocks { // before the conversion to int
		return nil, fmt.Errorf("count %d, want 0 to %d", m.GetCount(), MaxBlocks)
	}
	return &consensus.BlockRequest{Hash: h, Count: int(m.GetCount()), Above: m.GetAbove()}, nil
}

func blockResponseFrom(m *wirepb.BlockResponse) (*consensus.BlockResponse, error) {
	blocks := m.GetBlocks()
	if len(blocks) > MaxBlocks {
		return nil, fmt.Errorf("%d blocks, want 1 to %d", len(blocks), MaxBlocks)
	}
	r := &consensus.BlockResponse{}
	if len(blocks) > 0 {
		r.Blocks = make([]*chain.Block, len(blocks))
	}
	for i, b := range blocks {
		var err error
		if r.Blocks[i], err = blockFrom(b); err != nil {
			return nil, fmt.Errorf("block %d: %w", i, err)
		}
	}
	return r, nil
}

// evidenceListFrom converts a block's evidence; an empty list is nil. The
// count is checked first, so that a block cannot make the decoder convert
// more proofs than a block may hold.
func evidenceListFrom(ms []*wirepb.Evidence) ([]chain.Evidence, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	if len(ms) > chain.MaxBlockEvidence {
		return nil, fmt.Errorf("%d proofs of misbehaviour, want at most %d", len(ms), chain.MaxBlockEvidence)
	}
	out := make([]chain.Evidence, len(ms))
	for i, m := range ms {
		var err error
		if out[i], err = evidenceFrom(m); err != nil {
			return nil, fmt.Errorf("evidence %d: %w", i, err)
		}
	}
	return out, nil
}

func evidenceFrom(m *wirepb.Evidence) (chain.Evidence, error) {
	var e chain.Evidence
	switch m.Kind {
	case wirepb.Evidence_KIND_DOUBLE_PROPOSAL:
		e.Kind = chain.DoubleProposal
	case wirepb.Evidence_KIND_DOUBLE_VOTE:
		e.Kind = chain.DoubleVote
	default:
		return e, fmt.Errorf("unknown kind %d", m.Kind)
	}
	var err error
	if e.Validator, err = indexFrom(m.Validator, "validator"); err != nil {
		return e, err
	}
	e.Round, e.Height = m.Round, m.Height
	if m.ProposalA != nil || m.ProposalB != nil {
		return e, errors.New("whole proposals (the format before signed headers) are not accepted")
	}
	if e.HeaderA, err = signedHeaderFrom(m.HeaderA); err != nil {
		return e, fmt.Errorf("header a: %w", err)
	}
	if e.HeaderB, err = signedHeaderFrom(m.HeaderB); err != nil {
		return e, fmt.Errorf("header b: %w", err)
	}
	if e.VoteA, err = voteFrom(m.VoteA); err != nil {
		return e, fmt.Errorf("vote a: %w", err)
	}
	if e.VoteB, err = voteFrom(m.VoteB); err != nil {
		return e, fmt.Errorf("vote b: %w", err)
	}
	return e, nil
}

func safetyFrom(m *wirepb.SafetyState) (consensus.SafetyState, error) {
	s := consensus.SafetyState{LastVotedRound: m.LastVotedRound}
	var err error
	if s.HighQC, err = qcFrom(m.HighQc); err != nil {
		return s, fmt.Errorf("high qc: %w", err)
	}
	if s.LastTimeout, err = timeoutFrom(m.LastTimeout); err != nil {
		return s, fmt.Errorf("last timeout: %w", err)
	}
	if s.HighTC, err = tcFrom(m.HighTc); err != nil {
		return s, fmt.Errorf("high tc: %w", err)
	}
	return s, nil
}

func syncRequestFrom(m *wirepb.SyncRequest) (*consensus.SyncRequest, error) {
	if m.GetCount() > MaxBlocks { // before the conversion to int
		return nil, fmt.Errorf("count %d, want 0 to %d", m.GetCount(), MaxBlocks)
	}
	return &consensus.SyncRequest{From: m.GetFrom(), Count: int(m.GetCount())}, nil
}

func syncResponseFrom(m *wirepb.SyncResponse) (*consensus.SyncResponse, error) {
	if len(m.GetBlocks()) == 0 && m.GetQc() == nil {
		return &consensus.SyncResponse{Tip: m.GetTip(), Earliest: m.GetEarliest()}, nil
	}
	br, err := blockResponseFrom(&wirepb.BlockResponse{Blocks: m.GetBlocks()})
	if err != nil {
		return nil, err
	}
	r := &consensus.SyncResponse{Blocks: br.Blocks, Tip: m.GetTip(), Earliest: m.GetEarliest()}
	if m.GetQc() != nil {
		if r.QC, err = qcFrom(m.GetQc()); err != nil {
			return nil, fmt.Errorf("qc: %w", err)
		}
	}
	return r, nil
}

func signedHeaderFrom(m *wirepb.SignedHeader) (*chain.SignedHeader, error) {
	if m == nil {
		return nil, nil
	}
	x := m.GetHeader()
	if x == nil {
		return nil, errors.New("missing header")
	}
	h := &chain.SignedHeader{Sig: bytesFrom(m.Sig), Header: chain.Header{Height: x.Height, Round: x.Round, Time: x.Time, ExecHeight: x.ExecHeight}}
	var err error
	if h.Header.Parent, err = hashFrom(x.Parent, "parent"); err != nil {
		return nil, err
	}
	if h.Header.PayloadHash, err = hashFrom(x.PayloadHash, "payload hash"); err != nil {
		return nil, err
	}
	if h.Header.EvidenceHash, err = hashFrom(x.EvidenceHash, "evidence hash"); err != nil {
		return nil, err
	}
	if h.Header.StateRoot, err = rootFrom(x.StateRoot); err != nil {
		return nil, err
	}
	if h.Header.Proposer, err = indexFrom(x.Proposer, "proposer"); err != nil {
		return nil, err
	}
	if h.Header.FailedLeaders, err = indicesFrom(x.FailedLeaders, "failed leader"); err != nil {
		return nil, err
	}
	if x.Qc != nil {
		if h.Header.QC, err = qcFrom(x.Qc); err != nil {
			return nil, fmt.Errorf("qc: %w", err)
		}
	}
	return h, nil
}
