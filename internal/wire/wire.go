package wire

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

// Envelope is one unit of traffic between validators: a consensus message
// or a batch of transactions gossiped between mempools. Exactly one is set:
// Msg with exactly one payload, or a non-nil TxBatch. Msg.From and Msg.To
// are not encoded, since the transport knows the peer.
type Envelope struct {
	Msg      consensus.Message
	TxBatch  [][]byte        // at least one transaction when set
	Evidence *chain.Evidence // proof of misbehaviour, gossiped
	// State sync, outside consensus (snapshot.go).
	SnapshotRequest  *SnapshotRequest
	SnapshotResponse *SnapshotResponse
}

// kind names e's payload for errors; "" if e holds no payload.
func (e *Envelope) kind() (string, error) {
	n, kind := 0, ""
	if e.TxBatch != nil {
		n, kind = 1, "tx batch"
	}
	if e.Evidence != nil {
		n, kind = n+1, "evidence"
	}
	if e.SnapshotRequest != nil {
		n, kind = n+1, "snapshot request"
	}
	if e.SnapshotResponse != nil {
		n, kind = n+1, "snapshot response"
	}
	m := &e.Msg
	for _, p := range []struct {
		set  bool
		name string
	}{
		{m.Proposal != nil, "proposal"},
		{m.Vote != nil, "vote"},
		{m.Timeout != nil, "timeout"},
		{m.BlockRequest != nil, "block request"},
		{m.BlockResponse != nil, "block response"},
		{m.SyncRequest != nil, "sync request"},
		{m.SyncResponse != nil, "sync response"},
		{m.QC != nil, "qc"},
	} {
		if p.set {
			n, kind = n+1, p.name
		}
	}
	switch n {
	case 0:
		return "", errors.New("empty envelope")
	case 1:
		return kind, nil
	}
	return "", fmt.Errorf("envelope has %d payloads, want exactly one", n)
}

// Encode returns the protobuf encoding of e. It fails if e does not hold
// exactly one payload or breaks a shape rule of the package doc.
func Encode(e Envelope) ([]byte, error) {
	kind, err := e.kind()
	if err != nil {
		return nil, fmt.Errorf("wire: encode: %w", err)
	}
	pb, err := envelopePB(&e)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", kind, err)
	}
	b, err := proto.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", kind, err)
	}
	return b, nil
}

func envelopePB(e *Envelope) (*wirepb.Envelope, error) {
	m := &e.Msg
	switch {
	case e.TxBatch != nil:
		if err := checkTxBatch(e.TxBatch); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_TxBatch{TxBatch: &wirepb.TxBatch{Txs: e.TxBatch}}}, nil
	case e.Evidence != nil:
		if err := checkEvidence(e.Evidence); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_Evidence{Evidence: evidencePB(e.Evidence)}}, nil
	case e.SnapshotRequest != nil:
		if err := checkSnapshotRequest(e.SnapshotRequest); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_SnapshotRequest{SnapshotRequest: snapshotRequestPB(e.SnapshotRequest)}}, nil
	case e.SnapshotResponse != nil:
		if err := checkSnapshotResponse(e.SnapshotResponse); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_SnapshotResponse{SnapshotResponse: snapshotResponsePB(e.SnapshotResponse)}}, nil
	case m.Proposal != nil:
		if err := checkProposal(m.Proposal); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_Proposal{Proposal: proposalPB(m.Proposal)}}, nil
	case m.Vote != nil:
		if err := checkVote(m.Vote); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_Vote{Vote: votePB(m.Vote)}}, nil
	case m.Timeout != nil:
		if err := checkTimeout(m.Timeout); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_Timeout{Timeout: timeoutPB(m.Timeout)}}, nil
	case m.BlockRequest != nil:
		if err := checkBlockRequest(m.BlockRequest); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_BlockRequest{BlockRequest: blockRequestPB(m.BlockRequest)}}, nil
	default:
		if err := checkBlockResponse(m.BlockResponse); err != nil {
			return nil, err
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_BlockResponse{BlockResponse: blockResponsePB(m.BlockResponse)}}, nil
	case m.SyncRequest != nil:
		if err := checkSyncRequest(m.SyncRequest); err != nil {
			return nil, fmt.Errorf("sync request: %w", err)
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_SyncRequest{SyncRequest: syncRequestPB(m.SyncRequest)}}, nil
	case m.SyncResponse != nil:
		if err := checkSyncResponse(m.SyncResponse); err != nil {
			return nil, fmt.Errorf("sync response: %w", err)
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_SyncResponse{SyncResponse: syncResponsePB(m.SyncResponse)}}, nil
	case m.QC != nil:
		if err := checkQC(m.QC); err != nil {
			return nil, fmt.Errorf("qc: %w", err)
		}
		return &wirepb.Envelope{Payload: &wirepb.Envelope_Qc{Qc: qcPB(m.QC)}}, nil
	}
}

// Decode parses an envelope received from a peer under DefaultLimits; see
// Decoder.Decode.
func Decode(b []byte) (Envelope, error) { return Decoder{Limits: DefaultLimits}.Decode(b) }

// Decoder decodes envelopes from peers within its Limits.
type Decoder struct{ Limits Limits }

// IsLimit reports whether err is a Decode error for a frame over the
// decoder's limits (as opposed to a malformed one).
func IsLimit(err error) bool {
	var l *limitError
	return errors.As(err, &l)
}

// Decode parses an envelope received from a peer. It rejects anything but
// exactly one known payload of valid shape, and never panics. Before
// protobuf allocates, a scan of the bytes checks the envelope's size for
// its kind and every count and length against d.Limits, so what a frame
// costs to refuse is proportional to its bytes, never to what it
// describes.
func (d Decoder) Decode(b []byte) (Envelope, error) {
	field, err := prescan(b, &d.Limits)
	if err != nil {
		if IsLimit(err) {
			return Envelope{}, fmt.Errorf("wire: decode %w", err)
		}
		return Envelope{}, fmt.Errorf("wire: decode: %w", err)
	}
	var pb wirepb.Envelope
	if err := proto.Unmarshal(b, &pb); err != nil {
		return Envelope{}, fmt.Errorf("wire: decode: %w", err)
	}
	var e Envelope
	m := &e.Msg
	switch p := pb.Payload.(type) {
	case *wirepb.Envelope_Proposal:
		err = decodeAs("proposal", &m.Proposal, p.Proposal, proposalFrom, checkProposal)
	case *wirepb.Envelope_Vote:
		err = decodeAs("vote", &m.Vote, p.Vote, voteFrom, checkVote)
	case *wirepb.Envelope_Timeout:
		err = decodeAs("timeout", &m.Timeout, p.Timeout, timeoutFrom, checkTimeout)
	case *wirepb.Envelope_BlockRequest:
		err = decodeAs("block request", &m.BlockRequest, p.BlockRequest, blockRequestFrom, checkBlockRequest)
	case *wirepb.Envelope_BlockResponse:
		err = decodeAs("block response", &m.BlockResponse, p.BlockResponse, blockResponseFrom, checkBlockResponse)
	case *wirepb.Envelope_SyncRequest:
		err = decodeAs("sync request", &m.SyncRequest, p.SyncRequest, syncRequestFrom, checkSyncRequest)
	case *wirepb.Envelope_SyncResponse:
		err = decodeAs("sync response", &m.SyncResponse, p.SyncResponse, syncResponseFrom, checkSyncResponse)
	case *wirepb.Envelope_Qc:
		err = decodeAs("qc", &m.QC, p.Qc, qcFrom, checkQC)
	case *wirepb.Envelope_TxBatch:
		e.TxBatch = txsFrom(p.TxBatch.GetTxs())
		if err = checkTxBatch(e.TxBatch); err != nil {
			err = fmt.Errorf("wire: decode tx batch: %w", err)
		}
	case *wirepb.Envelope_Evidence:
		var ev chain.Evidence
		if ev, err = evidenceFrom(p.Evidence); err == nil {
			err = checkEvidence(&ev)
		}
		if err != nil {
			err = fmt.Errorf("wire: decode evidence: %w", err)
		} else {
			e.Evidence = &ev
		}
	case *wirepb.Envelope_SnapshotRequest:
		err = decodeAs("snapshot request", &e.SnapshotRequest, p.SnapshotRequest, snapshotRequestFrom, checkSnapshotRequest)
	case *wirepb.Envelope_SnapshotResponse:
		err = decodeAs("snapshot response", &e.SnapshotResponse, p.SnapshotResponse, snapshotResponseFrom, checkSnapshotResponse)
	default:
		err = fmt.Errorf("wire: decode: unknown payload (field %d)", field)
	}
	if err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// decodeAs converts a decoded payload into *dst and checks its shape,
// wrapping errors with the payload's kind.
func decodeAs[M any, T any](kind string, dst **T, pb *M, from func(*M) (*T, error), check func(*T) error) error {
	v, err := from(pb)
	if err == nil {
		err = check(v)
	}
	if err != nil {
		return fmt.Errorf("wire: decode %s: %w", kind, err)
	}
	*dst = v
	return nil
}

// onlyField checks that the encoded envelope b holds exactly one top-level
// field, and returns its number. Protobuf itself would let a later oneof
// case silently replace an earlier one, or merge repeats of one case.
func onlyField(b []byte) (protowire.Number, error) {
	var first protowire.Number
	for n := 0; len(b) > 0; n++ {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return 0, protowire.ParseError(tagLen)
		}
		valLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if valLen < 0 {
			return 0, protowire.ParseError(valLen)
		}
		if n > 0 {
			return 0, errors.New("envelope has more than one field")
		}
		first, b = num, b[tagLen+valLen:]
	}
	if first == 0 {
		return 0, errors.New("empty envelope")
	}
	return first, nil
}

// EncodeMessage encodes a consensus message; see Encode.
func EncodeMessage(m consensus.Message) ([]byte, error) {
	return Encode(Envelope{Msg: m})
}

// DecodeMessage decodes a consensus message, and rejects a transaction
// batch; see Decode. From and To are zero.
func DecodeMessage(b []byte) (consensus.Message, error) {
	e, err := Decode(b)
	if err != nil {
		return consensus.Message{}, err
	}
	if e.TxBatch != nil || e.Evidence != nil || e.SnapshotRequest != nil || e.SnapshotResponse != nil {
		return consensus.Message{}, errors.New("wire: decode: gossip where a consensus message was expected")
	}
	return e.Msg, nil
}

// Storage encodings. Each Marshal applies the shape rules of the package doc
// and each Unmarshal enforces them.

// MarshalBlock encodes a block.
func MarshalBlock(b *chain.Block) ([]byte, error) {
	if err := checkBlock(b); err != nil {
		return nil, fmt.Errorf("wire: encode block: %w", err)
	}
	return marshal("block", blockPB(b))
}

// UnmarshalBlock decodes a block encoded by MarshalBlock.
func UnmarshalBlock(data []byte) (*chain.Block, error) {
	var pb wirepb.Block
	if err := unmarshal("block", data, &pb); err != nil {
		return nil, err
	}
	var b *chain.Block
	return b, decodeAs("block", &b, &pb, blockFrom, checkBlock)
}

// MarshalQC encodes a quorum certificate.
func MarshalQC(q *chain.QC) ([]byte, error) {
	if err := checkQC(q); err != nil {
		return nil, fmt.Errorf("wire: encode qc: %w", err)
	}
	return marshal("qc", qcPB(q))
}

// UnmarshalQC decodes a quorum certificate encoded by MarshalQC.
func UnmarshalQC(data []byte) (*chain.QC, error) {
	var pb wirepb.QC
	if err := unmarshal("qc", data, &pb); err != nil {
		return nil, err
	}
	var q *chain.QC
	return q, decodeAs("qc", &q, &pb, qcFrom, checkQC)
}

// MarshalSafety encodes a safety state, including its last timeout.
func MarshalSafety(s consensus.SafetyState) ([]byte, error) {
	if err := checkSafety(&s); err != nil {
		return nil, fmt.Errorf("wire: encode safety state: %w", err)
	}
	return marshal("safety state", safetyPB(&s))
}

// UnmarshalSafety decodes a safety state encoded by MarshalSafety.
func UnmarshalSafety(data []byte) (consensus.SafetyState, error) {
	var pb wirepb.SafetyState
	if err := unmarshal("safety state", data, &pb); err != nil {
		return consensus.SafetyState{}, err
	}
	s, err := safetyFrom(&pb)
	if err == nil {
		err = checkSafety(&s)
	}
	if err != nil {
		return consensus.SafetyState{}, fmt.Errorf("wire: decode safety state: %w", err)
	}
	return s, nil
}

// MarshalEvidence encodes evidence of misbehaviour.
func MarshalEvidence(e chain.Evidence) ([]byte, error) {
	if err := checkEvidence(&e); err != nil {
		return nil, fmt.Errorf("wire: encode evidence: %w", err)
	}
	return marshal("evidence", evidencePB(&e))
}

// UnmarshalEvidence decodes evidence encoded by MarshalEvidence.
func UnmarshalEvidence(data []byte) (chain.Evidence, error) {
	var pb wirepb.Evidence
	if err := unmarshal("evidence", data, &pb); err != nil {
		return chain.Evidence{}, err
	}
	e, err := evidenceFrom(&pb)
	if err == nil {
		err = checkEvidence(&e)
	}
	if err != nil {
		return chain.Evidence{}, fmt.Errorf("wire: decode evidence: %w", err)
	}
	return e, nil
}

func marshal(kind string, m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", kind, err)
	}
	return b, nil
}

func unmarshal(kind string, data []byte, m proto.Message) error {
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("wire: decode %s: %w", kind, err)
	}
	return nil
}
