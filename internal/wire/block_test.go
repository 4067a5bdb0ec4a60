package wire

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

// doubleVote and doubleProposal are proofs against v in the shape the
// node builds (unsigned: the wire checks no signature).
func doubleVote(v uint32) chain.Evidence {
	return chain.Evidence{Kind: chain.DoubleVote, Validator: v, Round: 4,
		VoteA: &chain.Vote{Round: 4, BlockHash: h(1), Voter: v, Sig: sig(1)},
		VoteB: &chain.Vote{Round: 4, BlockHash: h(2), Voter: v, Sig: sig(2)}}
}

func doubleProposal(v uint32) chain.Evidence {
	a, b := sampleProposal(), sampleProposal()
	b.Block.Payload = nil
	a.Block.Proposer, b.Block.Proposer = v, v
	return chain.Evidence{Kind: chain.DoubleProposal, Validator: v, Round: a.Block.Round, Height: a.Block.Height,
		HeaderA: a.SignedHeader(testChain), HeaderB: b.SignedHeader(testChain)}
}

// roundTripBlock encodes b for storage and in a proposal, and checks that
// both decode to b with b's hash.
func roundTripBlock(t *testing.T, name string, b *chain.Block) {
	t.Helper()
	enc, err := MarshalBlock(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got, err := UnmarshalBlock(enc)
	if err != nil || !reflect.DeepEqual(got, b) || got.Hash(testChain) != b.Hash(testChain) {
		t.Fatalf("%s: stored block: got %+v, %v, want %+v", name, got, err, b)
	}
	frame, err := EncodeMessage(consensus.Message{Proposal: &chain.Proposal{Block: b, Sig: sig(3)}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m, err := DecodeMessage(frame)
	if err != nil || !reflect.DeepEqual(m.Proposal.Block, b) || m.Proposal.Block.Hash(testChain) != b.Hash(testChain) {
		t.Fatalf("%s: proposed block: got %+v, %v, want %+v", name, m.Proposal, err, b)
	}
}

// A state root is carried as given, whatever its length up to
// chain.MaxStateRoot: no padding, no truncation. One byte more is refused
// both ways, with an error that says so.
func TestStateRootRoundTrip(t *testing.T) {
	for _, n := range []int{0, 8, 32, chain.MaxStateRoot} {
		b := sampleBlock(4)
		b.StateRoot = nil
		if n > 0 {
			b.StateRoot = root(byte(n), n)
		}
		roundTripBlock(t, fmt.Sprintf("root of %d bytes", n), b)
		if got := b.Header(testChain).StateRoot; len(got) != n {
			t.Fatalf("root of %d bytes: the header has %d", n, len(got))
		}
		// And inside a proof's headers.
		e := doubleProposal(3)
		e.HeaderA.Header.StateRoot = b.StateRoot
		enc, err := MarshalEvidence(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := UnmarshalEvidence(enc); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("root of %d bytes in a proof: got %+v, %v", n, got, err)
		}
	}

	const want = "state root has 65 bytes, want at most 64"
	b := sampleBlock(4)
	b.StateRoot = root(1, chain.MaxStateRoot+1)
	if _, err := MarshalBlock(b); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("encoding a root of 65 bytes: %v", err)
	}
	pb := blockPB(sampleBlock(4))
	pb.StateRoot = root(1, chain.MaxStateRoot+1)
	enc, err := proto.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalBlock(enc); err == nil || !strings.Contains(err.Error(), "wire: decode block: "+want) {
		t.Fatalf("decoding a root of 65 bytes: %v", err)
	}
	e := doubleProposal(3)
	e.HeaderB.Header.StateRoot = root(1, chain.MaxStateRoot+1)
	if _, err := MarshalEvidence(e); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("encoding a proof whose header has a root of 65 bytes: %v", err)
	}
}

// A block's evidence travels with it, in order, and keeps its hash; more
// proofs than a block may hold are refused both ways.
func TestBlockEvidenceRoundTrip(t *testing.T) {
	b := sampleBlock(6)
	b.Evidence = []chain.Evidence{doubleProposal(0), doubleVote(1), doubleProposal(2), doubleVote(3)}
	roundTripBlock(t, "four proofs", b)
	if b.Header(testChain).EvidenceHash.IsZero() {
		t.Fatal("the header does not name the evidence")
	}
	roundTripBlock(t, "a response block", &chain.Block{Evidence: []chain.Evidence{doubleVote(2)}})

	b.Evidence = append(b.Evidence, doubleVote(4))
	if _, err := MarshalBlock(b); err == nil || !strings.Contains(err.Error(), "5 proofs of misbehaviour, want at most 4") {
		t.Fatalf("encoding five proofs: %v", err)
	}
	pb := blockPB(b)
	enc, err := proto.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalBlock(enc); err == nil || !strings.Contains(err.Error(), "5 proofs of misbehaviour, want at most 4") {
		t.Fatalf("decoding five proofs: %v", err)
	}
	frame, err := proto.Marshal(&wirepb.Envelope{Payload: &wirepb.Envelope_Proposal{Proposal: &wirepb.Proposal{Block: pb}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(frame); !IsLimit(err) {
		t.Fatalf("a proposal with five proofs: %v, want a limit error before decoding", err)
	}

	// A proof that does not hold together is refused with its block.
	b.Evidence = []chain.Evidence{doubleVote(1)}
	b.Evidence[0].HeaderA = doubleProposal(1).HeaderA
	if _, err := MarshalBlock(b); err == nil || !strings.Contains(err.Error(), "evidence 0: double vote carries proposals") {
		t.Fatalf("encoding a malformed proof: %v", err)
	}
}

// EncodingOverhead bounds what the protobuf encoding adds to a proof's
// canonical size, also for a proof built to make it largest: the most
// signatures and failed leaders, of the largest indices, and the largest
// integers.
func TestEvidenceEncodingOverhead(t *testing.T) {
	const n = 100
	worst := func() *chain.SignedHeader {
		qc := &chain.QC{Round: math.MaxUint64, BlockHash: h(1)}
		for i := range n {
			qc.Votes = append(qc.Votes, chain.Signature{Signer: math.MaxUint32 - uint32(i), Sig: sig(byte(i))})
		}
		hd := chain.Header{Height: math.MaxUint64, Round: math.MaxUint64, QC: qc, Proposer: math.MaxUint32, Time: math.MinInt64,
			ExecHeight: math.MaxUint64, StateRoot: root(1, chain.MaxStateRoot), EvidenceHash: h(3)}
		for range chain.MaxFailedLeaders(n) {
			hd.FailedLeaders = append(hd.FailedLeaders, math.MaxUint32)
		}
		return &chain.SignedHeader{Header: hd, Sig: sig(9)}
	}
	for _, e := range []chain.Evidence{
		{Kind: chain.DoubleProposal, Validator: math.MaxUint32, Round: math.MaxUint64, Height: math.MaxUint64, HeaderA: worst(), HeaderB: worst()},
		{Kind: chain.DoubleVote, Validator: math.MaxUint32, Round: math.MaxUint64,
			VoteA: &chain.Vote{Round: math.MaxUint64, Voter: math.MaxUint32, Sig: sig(1)}, VoteB: &chain.Vote{Round: math.MaxUint64, Voter: math.MaxUint32, Sig: sig(2)}},
		doubleProposal(1), doubleVote(1),
	} {
		enc, err := proto.Marshal(evidencePB(&e))
		if err != nil {
			t.Fatal(err)
		}
		// Within a block, each proof adds its field's tag and length too.
		t.Logf("%s: %d bytes encoded, size %d, overhead bound %d", e.Kind, len(enc), e.Size(), e.EncodingOverhead())
		if got, max := len(enc)+4, e.Size()+e.EncodingOverhead(); got > max {
			t.Errorf("%s: encodes to %d bytes, over its size %d and overhead %d", e.Kind, got, e.Size(), e.EncodingOverhead())
		}
		if e.EncodingOverhead() > chain.MaxEvidenceOverhead(n) {
			t.Errorf("%s: overhead %d over the bound %d for %d validators", e.Kind, e.EncodingOverhead(), chain.MaxEvidenceOverhead(n), n)
		}
	}
}

// The budget of a block's bytes counts its evidence: what consensus
// refuses, whatever the wire accepts.
func TestEvidenceCountsInTheBlockBudget(t *testing.T) {
	b := sampleBlock(6)
	b.Evidence = []chain.Evidence{doubleProposal(0)}
	budget := b.PayloadBytes() + b.EvidenceBytes()
	if err := b.CheckBudget(chain.MaxBlockTxs, budget); err != nil {
		t.Fatal(err)
	}
	if err := b.CheckBudget(chain.MaxBlockTxs, budget-1); !errors.Is(err, chain.ErrOverBudget) {
		t.Fatalf("one byte over: %v", err)
	}
}
