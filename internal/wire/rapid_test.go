package wire

import (
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// Generators of random values in decoded (canonical) form: empty byte
// strings and lists are nil, and required pointers are set.

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func genBytes(max int) *rapid.Generator[[]byte] {
	return rapid.Custom(func(t *rapid.T) []byte {
		return nilIfEmpty(rapid.SliceOfN(rapid.Byte(), 0, max).Draw(t, "bytes"))
	})
}

var (
	genSig  = genBytes(MaxSigBytes)
	genTx   = genBytes(40)
	genHash = rapid.Custom(func(t *rapid.T) chain.Hash {
		var h chain.Hash
		if rapid.Bool().Draw(t, "nonzero") {
			copy(h[:], rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "hash"))
		}
		return h
	})
)

func genPayload(t *rapid.T) [][]byte {
	return nilIfEmpty(rapid.SliceOfN(genTx, 0, 5).Draw(t, "payload"))
}

func genQC(t *rapid.T) *chain.QC {
	q := &chain.QC{Round: rapid.Uint64().Draw(t, "round"), BlockHash: genHash.Draw(t, "hash")}
	for range rapid.IntRange(0, 4).Draw(t, "votes") {
		q.Votes = append(q.Votes, chain.Signature{Signer: rapid.Uint32().Draw(t, "signer"), Sig: genSig.Draw(t, "sig")})
	}
	return q
}

func genTC(t *rapid.T) *chain.TC {
	tc := &chain.TC{Round: rapid.Uint64().Draw(t, "round"), HighQC: genQC(t)}
	for range rapid.IntRange(0, 4).Draw(t, "timeouts") {
		tc.Timeouts = append(tc.Timeouts, chain.TimeoutSig{
			Signer: rapid.Uint32().Draw(t, "signer"), HighQCRound: rapid.Uint64().Draw(t, "high"), Sig: genSig.Draw(t, "sig"),
		})
	}
	return tc
}

func maybe[T any](t *rapid.T, gen func(*rapid.T) *T) *T {
	if rapid.Bool().Draw(t, "present") {
		return gen(t)
	}
	return nil
}

func genBlock(t *rapid.T) *chain.Block { return genBlockOf(t, true) }

// genBlockOf draws a block; with evidence, it may carry proofs (whose
// headers are of blocks without).
func genBlockOf(t *rapid.T, evidence bool) *chain.Block {
	b := &chain.Block{
		Height:     rapid.Uint64Range(0, 1<<40).Draw(t, "height"),
		Round:      rapid.Uint64().Draw(t, "round"),
		Parent:     genHash.Draw(t, "parent"),
		Payload:    genPayload(t),
		Proposer:   rapid.Uint32().Draw(t, "proposer"),
		Time:       rapid.Int64().Draw(t, "time"),
		ExecHeight: rapid.Uint64().Draw(t, "exec"),
		StateRoot:  genBytes(chain.MaxStateRoot).Draw(t, "root"),
	}
	if b.Height > 0 || rapid.Bool().Draw(t, "genesis with qc") {
		b.QC = genQC(t)
	}
	if n := rapid.IntRange(0, 4).Draw(t, "failed leaders"); n > 0 {
		b.FailedLeaders = rapid.SliceOfN(rapid.Uint32(), n, n).Draw(t, "failed")
	}
	if evidence {
		for range rapid.IntRange(0, chain.MaxBlockEvidence).Draw(t, "evidence") {
			b.Evidence = append(b.Evidence, genEvidence(t))
		}
	}
	return b
}

func genSignedHeader(t *rapid.T) *chain.SignedHeader {
	p := &chain.Proposal{Block: genBlockOf(t, false), Sig: genSig.Draw(t, "sig")}
	return p.SignedHeader("c")
}

func genEvidence(t *rapid.T) chain.Evidence {
	var e chain.Evidence
	if rapid.Bool().Draw(t, "double vote") {
		e = chain.Evidence{Kind: chain.DoubleVote, VoteA: genVote(t), VoteB: genVote(t)}
	} else {
		e = chain.Evidence{Kind: chain.DoubleProposal, Height: rapid.Uint64().Draw(t, "height"), HeaderA: genSignedHeader(t), HeaderB: genSignedHeader(t)}
	}
	e.Validator, e.Round = rapid.Uint32().Draw(t, "validator"), rapid.Uint64().Draw(t, "round")
	return e
}

func genVote(t *rapid.T) *chain.Vote {
	return &chain.Vote{Round: rapid.Uint64().Draw(t, "round"), BlockHash: genHash.Draw(t, "hash"), Voter: rapid.Uint32().Draw(t, "voter"), Sig: genSig.Draw(t, "sig")}
}

func genTimeout(t *rapid.T) *chain.Timeout {
	return &chain.Timeout{Round: rapid.Uint64().Draw(t, "round"), HighQC: genQC(t), LastTC: maybe(t, genTC), Voter: rapid.Uint32().Draw(t, "voter"), Sig: genSig.Draw(t, "sig")}
}

func genProposal(t *rapid.T) *chain.Proposal {
	return &chain.Proposal{Block: genBlock(t), TC: maybe(t, genTC), Sig: genSig.Draw(t, "sig")}
}

func genEnvelope(t *rapid.T) Envelope {
	var e Envelope
	switch rapid.IntRange(0, 5).Draw(t, "kind") {
	case 0:
		e.Msg.Proposal = genProposal(t)
	case 1:
		e.Msg.Vote = genVote(t)
	case 2:
		e.Msg.Timeout = genTimeout(t)
	case 3:
		e.Msg.BlockRequest = &consensus.BlockRequest{Hash: genHash.Draw(t, "hash"), Count: rapid.IntRange(0, MaxBlocks).Draw(t, "count")}
	case 4:
		e.Msg.BlockResponse = &consensus.BlockResponse{}
		for range rapid.IntRange(1, 4).Draw(t, "blocks") {
			e.Msg.BlockResponse.Blocks = append(e.Msg.BlockResponse.Blocks, genBlock(t))
		}
	case 5:
		e.TxBatch = rapid.SliceOfN(genTx, 1, 5).Draw(t, "batch")
	}
	return e
}

func blocksOf(e Envelope) []*chain.Block {
	switch {
	case e.Msg.Proposal != nil:
		return []*chain.Block{e.Msg.Proposal.Block}
	case e.Msg.BlockResponse != nil:
		return e.Msg.BlockResponse.Blocks
	}
	return nil
}

func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := genEnvelope(t)
		b, err := Encode(e)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", got, e)
		}
		want, have := blocksOf(e), blocksOf(got)
		for i := range want {
			if have[i].Hash(testChain) != want[i].Hash(testChain) {
				t.Fatalf("block %d: hash changed", i)
			}
		}
	})
}

func TestStorageRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := consensus.SafetyState{LastVotedRound: rapid.Uint64().Draw(t, "last voted"), HighQC: maybe(t, genQC), LastTimeout: maybe(t, genTimeout)}
		enc, err := MarshalSafety(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := UnmarshalSafety(enc); err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("safety: got %+v, %v, want %+v", got, err, s)
		}

		e := genEvidence(t)
		enc, err = MarshalEvidence(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := UnmarshalEvidence(enc); err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("evidence: got %+v, %v, want %+v", got, err, e)
		}

		blk := genBlock(t)
		enc, err = MarshalBlock(blk)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := UnmarshalBlock(enc); err != nil || !reflect.DeepEqual(got, blk) || got.Hash(testChain) != blk.Hash(testChain) {
			t.Fatalf("block: got %+v, %v, want %+v", got, err, blk)
		}
	})
}
