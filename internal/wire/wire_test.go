package wire

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

const testChain = "test-chain"

func h(b byte) chain.Hash { return chain.Hash{b, 1, 2, 3, 31: b} }

func sig(b byte) []byte { return bytes.Repeat([]byte{b}, 64) }

// root is a state root of n bytes b.
func root(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func sampleQC(round uint64) *chain.QC {
	return &chain.QC{Round: round, BlockHash: h(byte(round)), Votes: []chain.Signature{
		{Signer: 0, Sig: sig(1)}, {Signer: 2, Sig: sig(2)}, {Signer: 1<<32 - 1, Sig: []byte("short")},
	}}
}

func sampleTC(round uint64) *chain.TC {
	return &chain.TC{Round: round, HighQC: sampleQC(round - 2), Timeouts: []chain.TimeoutSig{
		{Signer: 1, HighQCRound: round - 2, Sig: sig(3)}, {Signer: 3, HighQCRound: round - 3, Sig: sig(4)},
	}}
}

func sampleBlock(height uint64) *chain.Block {
	return &chain.Block{
		Height: height, Round: height + 2, Parent: h(7), QC: sampleQC(height + 1),
		Payload:  [][]byte{[]byte("tx-a"), nil, bytes.Repeat([]byte("b"), 300)},
		Proposer: 3, Time: -1_700_000_000_000_000_000, ExecHeight: height - 1, StateRoot: root(9, 8),
	}
}

func sampleTimeout() *chain.Timeout {
	return &chain.Timeout{Round: 12, HighQC: sampleQC(9), LastTC: sampleTC(11), Voter: 2, Sig: sig(5)}
}

func sampleProposal() *chain.Proposal {
	return &chain.Proposal{Block: sampleBlock(5), TC: sampleTC(6), Sig: sig(6)}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		env  Envelope
	}{
		{"proposal", Envelope{Msg: consensus.Message{Proposal: sampleProposal()}}},
		{"proposal without tc or payload", Envelope{Msg: consensus.Message{Proposal: &chain.Proposal{Block: &chain.Block{Height: 1, QC: &chain.QC{}}}}}},
		{"vote", Envelope{Msg: consensus.Message{Vote: &chain.Vote{Round: 4, BlockHash: h(4), Voter: 9, Sig: sig(1)}}}},
		{"unsigned vote for the zero hash", Envelope{Msg: consensus.Message{Vote: &chain.Vote{}}}},
		{"timeout", Envelope{Msg: consensus.Message{Timeout: sampleTimeout()}}},
		{"timeout without tc", Envelope{Msg: consensus.Message{Timeout: &chain.Timeout{Round: 1, HighQC: chain.GenesisQC(h(0))}}}},
		{"block request", Envelope{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{Hash: h(3), Count: 64}}}},
		{"block request of zero", Envelope{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{}}}},
		{"block request of the maximum", Envelope{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{Count: MaxBlocks}}}},
		{"block response", Envelope{Msg: consensus.Message{BlockResponse: &consensus.BlockResponse{Blocks: []*chain.Block{sampleBlock(3), sampleBlock(2)}}}}},
		{"evidence", Envelope{Evidence: &chain.Evidence{Kind: chain.DoubleVote, Validator: 2, Round: 5,
			VoteA: &chain.Vote{Round: 5, BlockHash: h(1), Voter: 2, Sig: sig(1)}, VoteB: &chain.Vote{Round: 5, BlockHash: h(2), Voter: 2, Sig: sig(2)}}}},
		{"sync request", Envelope{Msg: consensus.Message{SyncRequest: &consensus.SyncRequest{From: 7, Count: 64}}}},
		{"sync response", Envelope{Msg: consensus.Message{SyncResponse: &consensus.SyncResponse{Blocks: []*chain.Block{sampleBlock(2), sampleBlock(3)}, QC: sampleBlock(3).QC}}}},
		{"qc", Envelope{Msg: consensus.Message{QC: sampleBlock(3).QC}}},
		{"block response with genesis", Envelope{Msg: consensus.Message{BlockResponse: &consensus.BlockResponse{Blocks: []*chain.Block{{StateRoot: root(1, 32)}}}}}},
		{"tx batch", Envelope{TxBatch: [][]byte{[]byte("a"), nil, []byte("ccc")}}},
	}
	for _, tt := range tests {
		b, err := Encode(tt.env)
		if err != nil {
			t.Errorf("%s: encode: %v", tt.name, err)
			continue
		}
		got, err := Decode(b)
		if err != nil {
			t.Errorf("%s: decode: %v", tt.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.env) {
			t.Errorf("%s: round trip changed the value:\n got %+v\nwant %+v", tt.name, got, tt.env)
		}
		if p := tt.env.Msg.Proposal; p != nil && got.Msg.Proposal.Block.Hash(testChain) != p.Block.Hash(testChain) {
			t.Errorf("%s: block hash changed", tt.name)
		}
		if tt.env.TxBatch == nil && tt.env.Evidence == nil {
			m, err := DecodeMessage(b)
			if err != nil || !reflect.DeepEqual(m, tt.env.Msg) {
				t.Errorf("%s: DecodeMessage: %v", tt.name, err)
			}
		}
	}
}

func TestMessageRoundTripDropsAddresses(t *testing.T) {
	m := consensus.Message{From: 3, To: consensus.Broadcast, Vote: &chain.Vote{Round: 1, Sig: sig(1)}}
	b, err := EncodeMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	m.From, m.To = 0, 0
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got %+v, want %+v", got, m)
	}
}

// Empty byte strings and lists decode as nil, which chain hashes alike.
func TestEmptyDecodesAsNil(t *testing.T) {
	b := &chain.Block{Height: 1, QC: &chain.QC{Votes: []chain.Signature{}}, Payload: [][]byte{{}, {}}}
	p := &chain.Proposal{Block: b, Sig: []byte{}}
	enc, err := EncodeMessage(consensus.Message{Proposal: p})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(enc)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Proposal
	if got.Sig != nil || got.Block.QC.Votes != nil || got.Block.Payload[0] != nil || len(got.Block.Payload) != 2 {
		t.Fatalf("got %+v", got)
	}
	if got.Block.Hash(testChain) != b.Hash(testChain) {
		t.Fatal("block hash changed")
	}
}

func TestStorageRoundTrip(t *testing.T) {
	blocks := []*chain.Block{sampleBlock(4), {StateRoot: root(1, 32)}, {Height: 0, QC: &chain.QC{}}}
	for i, b := range blocks {
		enc, err := MarshalBlock(b)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		got, err := UnmarshalBlock(enc)
		if err != nil || !reflect.DeepEqual(got, b) || got.Hash(testChain) != b.Hash(testChain) {
			t.Fatalf("block %d: got %+v, %v", i, got, err)
		}
	}

	q := sampleQC(3)
	enc, err := MarshalQC(q)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := UnmarshalQC(enc); err != nil || !reflect.DeepEqual(got, q) {
		t.Fatalf("qc: got %+v, %v", got, err)
	}

	for i, s := range []consensus.SafetyState{
		{},
		{LastVotedRound: 7, HighQC: sampleQC(6)},
		{LastVotedRound: 12, HighQC: sampleQC(9), LastTimeout: sampleTimeout()},
	} {
		enc, err := MarshalSafety(s)
		if err != nil {
			t.Fatalf("safety %d: %v", i, err)
		}
		if got, err := UnmarshalSafety(enc); err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("safety %d: got %+v, %v", i, got, err)
		}
	}

	p2 := sampleProposal()
	p2.Block.Round++
	for i, e := range []chain.Evidence{
		{Kind: chain.DoubleProposal, Validator: 3, Round: 7, Height: 5, HeaderA: sampleProposal().SignedHeader("c"), HeaderB: p2.SignedHeader("c")},
		{Kind: chain.DoubleVote, Validator: 2, Round: 4, VoteA: &chain.Vote{Round: 4, BlockHash: h(1), Voter: 2, Sig: sig(1)}, VoteB: &chain.Vote{Round: 4, BlockHash: h(2), Voter: 2, Sig: sig(2)}},
	} {
		enc, err := MarshalEvidence(e)
		if err != nil {
			t.Fatalf("evidence %d: %v", i, err)
		}
		if got, err := UnmarshalEvidence(enc); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("evidence %d: got %+v, %v", i, got, err)
		}
	}
}

// Stores decode straight from memory-mapped pages that are reused after the
// read, so decoded values must own their bytes.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	b := sampleBlock(4)
	enc, err := MarshalBlock(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	clear(enc)
	if !reflect.DeepEqual(got, b) {
		t.Fatal("decoded block changed with its input")
	}
	enc, err = EncodeMessage(consensus.Message{Proposal: sampleProposal()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(enc)
	if err != nil {
		t.Fatal(err)
	}
	clear(enc)
	if !reflect.DeepEqual(m.Proposal, sampleProposal()) {
		t.Fatal("decoded proposal changed with its input")
	}
}

// A sync response without blocks says "pruned": it carries the earliest
// height the responder keeps, and one that says nothing is refused.
func TestPrunedSyncResponse(t *testing.T) {
	b, err := EncodeMessage(consensus.Message{SyncResponse: &consensus.SyncResponse{Tip: 90, Earliest: 40}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeMessage(b)
	if err != nil || m.SyncResponse == nil || m.SyncResponse.Earliest != 40 || m.SyncResponse.Tip != 90 || len(m.SyncResponse.Blocks) != 0 {
		t.Fatalf("decoded %+v, %v", m.SyncResponse, err)
	}
	b, err = EncodeMessage(consensus.Message{SyncResponse: &consensus.SyncResponse{Tip: 90}})
	if err == nil {
		if _, err = DecodeMessage(b); err == nil {
			t.Fatal("an empty sync response without an earliest height was accepted")
		}
	}
}

// State sync messages round-trip, and bad ones are refused both ways.
func TestSnapshotMessages(t *testing.T) {
	qc := &chain.QC{Round: 3, BlockHash: chain.Hash{1}, Votes: []chain.Signature{{Signer: 0, Sig: make([]byte, 64)}}}
	for _, e := range []Envelope{
		{SnapshotRequest: &SnapshotRequest{Kind: SnapshotList}},
		{SnapshotRequest: &SnapshotRequest{Kind: SnapshotChunk, Height: 9, Chunk: 2}},
		{SnapshotResponse: &SnapshotResponse{Kind: SnapshotList, Metas: [][]byte{[]byte(`{"height":9}`)}, HighQC: qc}},
		{SnapshotResponse: &SnapshotResponse{Kind: SnapshotChunk, Height: 9, Chunk: 2, Data: []byte("chunk")}},
	} {
		b, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip: %+v, want %+v", got, e)
		}
	}
	for _, e := range []Envelope{
		{SnapshotRequest: &SnapshotRequest{Kind: 7}},
		{SnapshotRequest: &SnapshotRequest{Kind: SnapshotChunk}},
		{SnapshotResponse: &SnapshotResponse{Kind: SnapshotList, Metas: make([][]byte, MaxSnapshotOffers+1)}},
		{SnapshotResponse: &SnapshotResponse{Kind: SnapshotChunk, Height: 1, Data: make([]byte, MaxSnapshotData+1)}},
	} {
		if _, err := Encode(e); err == nil {
			t.Errorf("encoded %+v", e)
		}
	}
}
