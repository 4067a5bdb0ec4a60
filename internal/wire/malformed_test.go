package wire

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

func hb(b byte) []byte { x := h(b); return x[:] }

func pbQC() *wirepb.QC {
	return &wirepb.QC{Round: 1, BlockHash: hb(1), Votes: []*wirepb.Signature{{Signer: 1, Sig: sig(1)}}}
}

func pbBlock() *wirepb.Block {
	return &wirepb.Block{Height: 2, Parent: hb(1), Qc: pbQC(), StateRoot: hb(0), Payload: [][]byte{[]byte("tx")}}
}

// pbEvidence is n double votes.
func pbEvidence(n int) []*wirepb.Evidence {
	out := make([]*wirepb.Evidence, n)
	for i := range out {
		out[i] = &wirepb.Evidence{Kind: wirepb.Evidence_KIND_DOUBLE_VOTE, Validator: 1, Round: 3, VoteA: pbVote(), VoteB: pbVote()}
	}
	return out
}

func pbDoubleProposal() *wirepb.Evidence {
	hd := func() *wirepb.SignedHeader {
		return &wirepb.SignedHeader{Sig: sig(4), Header: &wirepb.Header{Height: 2, Round: 3, Parent: hb(1), Qc: pbQC(),
			PayloadHash: hb(2), EvidenceHash: hb(0), Proposer: 1, StateRoot: []byte{1, 2}}}
	}
	return &wirepb.Evidence{Kind: wirepb.Evidence_KIND_DOUBLE_PROPOSAL, Validator: 1, Round: 3, Height: 2, HeaderA: hd(), HeaderB: hd()}
}

func pbVote() *wirepb.Vote { return &wirepb.Vote{Round: 3, BlockHash: hb(3), Voter: 1, Sig: sig(3)} }

func env(p any) []byte {
	var e wirepb.Envelope
	switch p := p.(type) {
	case *wirepb.Proposal:
		e.Payload = &wirepb.Envelope_Proposal{Proposal: p}
	case *wirepb.Vote:
		e.Payload = &wirepb.Envelope_Vote{Vote: p}
	case *wirepb.Timeout:
		e.Payload = &wirepb.Envelope_Timeout{Timeout: p}
	case *wirepb.BlockRequest:
		e.Payload = &wirepb.Envelope_BlockRequest{BlockRequest: p}
	case *wirepb.BlockResponse:
		e.Payload = &wirepb.Envelope_BlockResponse{BlockResponse: p}
	case *wirepb.TxBatch:
		e.Payload = &wirepb.Envelope_TxBatch{TxBatch: p}
	}
	b, err := proto.Marshal(&e)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	vote := env(pbVote())
	many := func(n int) [][]byte { return make([][]byte, n) }
	sigs := func(n int) []*wirepb.Signature {
		out := make([]*wirepb.Signature, n)
		for i := range out {
			out[i] = &wirepb.Signature{}
		}
		return out
	}
	blocks := func(n int) []*wirepb.Block {
		out := make([]*wirepb.Block, n)
		for i := range out {
			out[i] = pbBlock()
		}
		return out
	}
	with := func(f func(*wirepb.Block)) *wirepb.Block { b := pbBlock(); f(b); return b }

	tests := []struct {
		name  string
		input []byte
		want  string // the whole error, or a part of it
	}{
		{"nil", nil, "wire: decode: empty envelope"},
		{"garbage", []byte{0xff, 0xff, 0xff}, "wire: decode: "},
		{"truncated", vote[:len(vote)-1], "wire: decode: "},
		{"two payloads", append(bytes.Clone(vote), env(&wirepb.TxBatch{Txs: many(1)})...), "envelope has more than one field"},
		{"one payload twice", append(bytes.Clone(vote), vote...), "envelope has more than one field"},
		{"unknown payload", protowire.AppendBytes(protowire.AppendTag(nil, 14, protowire.BytesType), nil), "wire: decode: unknown payload (field 14)"},
		{"empty evidence", protowire.AppendBytes(protowire.AppendTag(nil, 11, protowire.BytesType), nil), "wire: decode evidence"},
		{"payload of the wrong wire type", protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1), "wire: decode: "},
		{"empty vote", env(&wirepb.Vote{}), "wire: decode vote: block hash has 0 bytes, want 32"},
		{"short hash", env(&wirepb.Vote{BlockHash: hb(1)[:31]}), "wire: decode vote: block hash has 31 bytes, want 32"},
		{"long signature", env(&wirepb.Vote{BlockHash: hb(1), Sig: make([]byte, 70)}), "wire: decode vote: signature has 70 bytes, want at most 64"},
		{"voter over uint32", env(&wirepb.Vote{BlockHash: hb(1), Voter: 1 << 32}), "wire: decode vote: voter 4294967296 does not fit in 32 bits"},
		{"proposal without block", env(&wirepb.Proposal{}), "wire: decode proposal: block: missing"},
		{"block without qc", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Qc = nil })}), "wire: decode proposal: block: height 2: qc: missing"},
		{"bad parent", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Parent = nil })}), "proposal: block: parent has 0 bytes"},
		{"state root too long", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.StateRoot = make([]byte, 65) })}), "block: state root has 65 bytes, want at most 64"},
		{"too many proofs", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Evidence = pbEvidence(chain.MaxBlockEvidence + 1) })}), "block: more than 4 proofs of misbehaviour"},
		{"legacy proof in a block", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) {
			b.Evidence = []*wirepb.Evidence{{Kind: wirepb.Evidence_KIND_DOUBLE_PROPOSAL, ProposalA: &wirepb.Proposal{}}}
		})}), "proofs of misbehaviour: more than 0 proposal a"},
		{"undecodable proof in a block", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Evidence = []*wirepb.Evidence{{Kind: 9}} })}), "block: evidence 0: unknown kind 9"},
		{"proof with a bad header root", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) {
			e := pbDoubleProposal()
			e.HeaderB.Header.StateRoot = make([]byte, 65)
			b.Evidence = []*wirepb.Evidence{e}
		})}), "block: evidence 0: header b: state root has 65 bytes, want at most 64"},
		{"proposer over uint32", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Proposer = 1 << 40 })}), "block: proposer 1099511627776 does not fit"},
		{"signer over uint32", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Qc.Votes[0].Signer = 1 << 32 })}), "block: qc: vote 0: signer 4294967296 does not fit"},
		{"qc signature too long", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Qc.Votes[0].Sig = make([]byte, 65) })}), "block: height 2: qc: vote 0: signature has 65 bytes"},
		{"qc hash short", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Qc.BlockHash = nil })}), "block: qc: block hash has 0 bytes"},
		{"too many qc signatures", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Qc.Votes = sigs(MaxSignatures + 1) })}), "qc: more than 10000 signatures"},
		{"too many txs", env(&wirepb.Proposal{Block: with(func(b *wirepb.Block) { b.Payload = many(MaxTxs + 1) })}), "block: more than 100000 transactions"},
		{"proposal signature too long", env(&wirepb.Proposal{Block: pbBlock(), Sig: make([]byte, 65)}), "wire: decode proposal: signature has 65 bytes"},
		{"tc without high qc", env(&wirepb.Proposal{Block: pbBlock(), Tc: &wirepb.TC{Round: 2}}), "wire: decode proposal: tc: high qc: missing"},
		{"too many tc signatures", env(&wirepb.Proposal{Block: pbBlock(), Tc: &wirepb.TC{HighQc: pbQC(), Timeouts: make([]*wirepb.TimeoutSig, MaxSignatures+1)}}), "tc: more than 10000 signatures"},
		{"timeout without high qc", env(&wirepb.Timeout{Round: 2}), "wire: decode timeout: high qc: missing"},
		{"timeout with bad last tc", env(&wirepb.Timeout{HighQc: pbQC(), LastTc: &wirepb.TC{}}), "wire: decode timeout: last tc: high qc: missing"},
		{"timeout signer over uint32", env(&wirepb.Timeout{HighQc: pbQC(), LastTc: &wirepb.TC{HighQc: pbQC(), Timeouts: []*wirepb.TimeoutSig{{Signer: 1 << 33}}}}), "last tc: timeout 0: signer 8589934592 does not fit"},
		{"request without hash", env(&wirepb.BlockRequest{Count: 1}), "wire: decode block request: hash has 0 bytes"},
		{"request for too many", env(&wirepb.BlockRequest{Hash: hb(1), Count: MaxBlocks + 1}), "wire: decode block request: count 1001, want 0 to 1000"},
		{"request count over int", env(&wirepb.BlockRequest{Hash: hb(1), Count: 1 << 63}), "count 9223372036854775808, want 0 to 1000"},
		{"empty response", env(&wirepb.BlockResponse{}), "wire: decode block response: 0 blocks, want 1 to 1000"},
		{"too many blocks", env(&wirepb.BlockResponse{Blocks: blocks(MaxBlocks + 1)}), "more than 1000 blocks"},
		{"response with a bad block", env(&wirepb.BlockResponse{Blocks: []*wirepb.Block{pbBlock(), {Height: 1}}}), "wire: decode block response: block 1: parent has 0 bytes"},
		{"empty tx batch", env(&wirepb.TxBatch{}), "wire: decode tx batch: 0 transactions, want 1 to 100000"},
		{"tx batch too large", env(&wirepb.TxBatch{Txs: many(MaxTxs + 1)}), "wire: decode tx batch: more than 100000 transactions"},
	}
	for _, tt := range tests {
		e, err := Decode(tt.input)
		if err == nil {
			t.Errorf("%s: accepted as %+v", tt.name, e)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "wire: decode") {
			t.Errorf("%s: error %q, want %q", tt.name, err, tt.want)
		}
		if _, err := DecodeMessage(tt.input); err == nil {
			t.Errorf("%s: DecodeMessage accepted", tt.name)
		}
	}
}

func TestDecodeMessageRejectsTxBatch(t *testing.T) {
	b, err := Encode(Envelope{TxBatch: [][]byte{[]byte("tx")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeMessage(b); err == nil || !strings.Contains(err.Error(), "gossip") {
		t.Fatalf("got %v", err)
	}
}

func TestEncodeRejects(t *testing.T) {
	vote := &chain.Vote{Sig: sig(1)}
	tests := []struct {
		name string
		env  Envelope
		want string
	}{
		{"empty", Envelope{}, "wire: encode: empty envelope"},
		{"two messages", Envelope{Msg: consensus.Message{Vote: vote, Timeout: sampleTimeout()}}, "wire: encode: envelope has 2 payloads, want exactly one"},
		{"message and batch", Envelope{Msg: consensus.Message{Vote: vote}, TxBatch: [][]byte{nil}}, "envelope has 2 payloads"},
		{"empty batch", Envelope{TxBatch: [][]byte{}}, "wire: encode tx batch: 0 transactions"},
		{"long signature", Envelope{Msg: consensus.Message{Vote: &chain.Vote{Sig: make([]byte, 70)}}}, "wire: encode vote: signature has 70 bytes, want at most 64"},
		{"proposal without block", Envelope{Msg: consensus.Message{Proposal: &chain.Proposal{}}}, "wire: encode proposal: block: missing"},
		{"block without qc", Envelope{Msg: consensus.Message{Proposal: &chain.Proposal{Block: &chain.Block{Height: 1}}}}, "wire: encode proposal: block: height 1: qc: missing"},
		{"timeout without high qc", Envelope{Msg: consensus.Message{Timeout: &chain.Timeout{}}}, "wire: encode timeout: high qc: missing"},
		{"negative count", Envelope{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{Count: -1}}}, "wire: encode block request: count -1"},
		{"nil block in response", Envelope{Msg: consensus.Message{BlockResponse: &consensus.BlockResponse{Blocks: []*chain.Block{sampleBlock(2), nil}}}}, "wire: encode block response: block 1: missing"},
		{"empty response", Envelope{Msg: consensus.Message{BlockResponse: &consensus.BlockResponse{}}}, "wire: encode block response: 0 blocks"},
	}
	for _, tt := range tests {
		_, err := Encode(tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestStorageRejects(t *testing.T) {
	if _, err := MarshalBlock(nil); err == nil {
		t.Error("MarshalBlock(nil) accepted")
	}
	if _, err := MarshalQC(nil); err == nil {
		t.Error("MarshalQC(nil) accepted")
	}
	if _, err := MarshalSafety(consensus.SafetyState{LastTimeout: &chain.Timeout{}}); err == nil || !strings.Contains(err.Error(), "last timeout: high qc: missing") {
		t.Errorf("safety with a bad timeout: %v", err)
	}
	bad := []chain.Evidence{
		{},
		{Kind: "equivocation"},
		{Kind: chain.DoubleVote, VoteA: &chain.Vote{}},
		{Kind: chain.DoubleVote, VoteA: &chain.Vote{}, VoteB: &chain.Vote{}, HeaderA: sampleProposal().SignedHeader("c")},
		{Kind: chain.DoubleProposal, HeaderA: sampleProposal().SignedHeader("c"), HeaderB: &chain.SignedHeader{Header: chain.Header{Height: 2}}},
		{Kind: chain.DoubleProposal, HeaderA: sampleProposal().SignedHeader("c"), HeaderB: sampleProposal().SignedHeader("c"), VoteA: &chain.Vote{}},
	}
	for i, e := range bad {
		if _, err := MarshalEvidence(e); err == nil {
			t.Errorf("evidence %d accepted", i)
		}
	}
	for _, in := range [][]byte{nil, {0xff}, hb(1)} {
		if _, err := UnmarshalBlock(in); err == nil {
			t.Errorf("UnmarshalBlock(%x) accepted", in)
		}
		if _, err := UnmarshalQC(in); err == nil {
			t.Errorf("UnmarshalQC(%x) accepted", in)
		}
		if _, err := UnmarshalEvidence(in); err == nil {
			t.Errorf("UnmarshalEvidence(%x) accepted", in)
		}
	}
	if _, err := UnmarshalSafety([]byte{0xff}); err == nil {
		t.Error("UnmarshalSafety accepted garbage")
	}
	// Evidence whose kind the decoder does not know.
	b, _ := proto.Marshal(&wirepb.Evidence{Kind: 7, VoteA: pbVote(), VoteB: pbVote()})
	if _, err := UnmarshalEvidence(b); err == nil || !strings.Contains(err.Error(), "unknown kind 7") {
		t.Errorf("unknown evidence kind: %v", err)
	}
}
