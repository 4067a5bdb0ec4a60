package wire

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// FuzzDecode feeds arbitrary bytes to every decoder. None may panic, and
// whatever one accepts must encode again and decode to the same value.
func FuzzDecode(f *testing.F) {
	for _, e := range []Envelope{
		{Msg: consensus.Message{Proposal: sampleProposal()}},
		{Msg: consensus.Message{Vote: &chain.Vote{Round: 4, BlockHash: h(4), Voter: 9, Sig: sig(1)}}},
		{Msg: consensus.Message{Timeout: sampleTimeout()}},
		{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{Hash: h(3), Count: 64}}},
		{Msg: consensus.Message{BlockResponse: &consensus.BlockResponse{Blocks: []*chain.Block{sampleBlock(3), {}}}}},
		{Msg: consensus.Message{Proposal: &chain.Proposal{Block: evidenceBlock(), Sig: sig(2)}}},
		{TxBatch: [][]byte{[]byte("a"), nil}},
		{SnapshotRequest: &SnapshotRequest{Kind: SnapshotChunk, Height: 9, Chunk: 2}},
		{SnapshotResponse: &SnapshotResponse{Kind: SnapshotList, Metas: [][]byte{[]byte(`{"height":9}`)}, HighQC: sampleQC(3)}},
		{SnapshotResponse: &SnapshotResponse{Kind: SnapshotCertificate, Height: 9, Data: []byte("{}"), Block: sampleBlock(9)}},
	} {
		b, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, v := range []func() ([]byte, error){
		func() ([]byte, error) { return MarshalBlock(sampleBlock(9)) },
		func() ([]byte, error) { return MarshalBlock(evidenceBlock()) },
		func() ([]byte, error) { b := sampleBlock(9); b.StateRoot = nil; return MarshalBlock(b) },
		func() ([]byte, error) {
			b := sampleBlock(9)
			b.StateRoot = root(7, chain.MaxStateRoot)
			return MarshalBlock(b)
		},
		func() ([]byte, error) { return MarshalQC(sampleQC(2)) },
		func() ([]byte, error) {
			return MarshalSafety(consensus.SafetyState{LastVotedRound: 12, HighQC: sampleQC(9), LastTimeout: sampleTimeout()})
		},
		func() ([]byte, error) {
			return MarshalEvidence(chain.Evidence{Kind: chain.DoubleProposal, HeaderA: sampleProposal().SignedHeader("c"), HeaderB: sampleProposal().SignedHeader("c")})
		},
	} {
		b, err := v()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := Decode(b); err == nil {
			reencode(t, "envelope", e, Encode, Decode)
		}
		if v, err := UnmarshalBlock(b); err == nil {
			if len(v.StateRoot) > chain.MaxStateRoot || len(v.Evidence) > chain.MaxBlockEvidence {
				t.Fatalf("decoded a block with a root of %d bytes and %d proofs", len(v.StateRoot), len(v.Evidence))
			}
			reencode(t, "block", v, MarshalBlock, UnmarshalBlock)
		}
		if v, err := UnmarshalQC(b); err == nil {
			reencode(t, "qc", v, MarshalQC, UnmarshalQC)
		}
		if v, err := UnmarshalSafety(b); err == nil {
			reencode(t, "safety", v, MarshalSafety, UnmarshalSafety)
		}
		if v, err := UnmarshalEvidence(b); err == nil {
			reencode(t, "evidence", v, MarshalEvidence, UnmarshalEvidence)
		}
	})
}

// evidenceBlock is a block with a short root and both kinds of proof.
func evidenceBlock() *chain.Block {
	b := sampleBlock(7)
	b.StateRoot = root(3, 8)
	b.Evidence = []chain.Evidence{doubleProposal(1), doubleVote(2)}
	return b
}

func reencode[T any](t *testing.T, kind string, v T, enc func(T) ([]byte, error), dec func([]byte) (T, error)) {
	t.Helper()
	b, err := enc(v)
	if err != nil {
		t.Fatalf("%s: decoded value does not encode: %v", kind, err)
	}
	got, err := dec(b)
	if err != nil {
		t.Fatalf("%s: re-encoded value does not decode: %v", kind, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("%s: re-encoding changed the value:\n got %+v\nwant %+v", kind, got, v)
	}
}

// benchProposal is a proposal with 1,000 transactions of 200 bytes and a
// QC signed by 67 of 100 validators.
func benchProposal() consensus.Message {
	b := sampleBlock(100)
	b.Payload = make([][]byte, 1000)
	for i := range b.Payload {
		b.Payload[i] = bytes.Repeat([]byte{byte(i)}, 200)
	}
	b.QC.Votes = nil
	for i := range 67 {
		b.QC.Votes = append(b.QC.Votes, chain.Signature{Signer: uint32(i), Sig: sig(byte(i))})
	}
	return consensus.Message{Proposal: &chain.Proposal{Block: b, Sig: sig(1)}}
}

func BenchmarkEncodeProposal(b *testing.B) {
	m := benchProposal()
	enc, _ := EncodeMessage(m)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeProposal(b *testing.B) {
	enc, err := EncodeMessage(benchProposal())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMessage(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleEncodeMessage() {
	m := consensus.Message{Vote: &chain.Vote{Round: 7, Voter: 2, Sig: make([]byte, 70)}}
	_, err := EncodeMessage(m)
	fmt.Println(err)
	// Output: wire: encode vote: signature has 70 bytes, want at most 64
}
