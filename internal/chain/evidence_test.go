package chain

import (
	"crypto/ed25519"
	"strings"
	"testing"
)

func evidenceFixture(t *testing.T) (*ValidatorSet, []ed25519.PrivateKey) {
	t.Helper()
	var keys []ed25519.PrivateKey
	var vals []Validator
	for i := range 4 {
		k := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+i)), 32)))
		keys = append(keys, k)
		vals = append(vals, Validator{PubKey: k.Public().(ed25519.PublicKey), Power: 1})
	}
	vs, err := NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return vs, keys
}

func TestVerifyEvidence(t *testing.T) {
	const id = "ev-chain"
	vals, keys := evidenceFixture(t)
	vote := func(signer int, voter uint32, round uint64, block Hash) *Vote {
		return &Vote{Round: round, BlockHash: block, Voter: voter, Sig: ed25519.Sign(keys[signer], VoteSignBytes(id, round, block))}
	}
	prop := func(signer int, proposer uint32, round uint64, payload string) *Proposal {
		b := &Block{Height: 3, Round: round, Proposer: proposer, QC: &QC{Round: round - 1}, Payload: [][]byte{[]byte(payload)}}
		return &Proposal{Block: b, Sig: ed25519.Sign(keys[signer], ProposalSignBytes(id, round, b.Hash(id)))}
	}
	good := []Evidence{
		{Kind: DoubleVote, Validator: 2, Round: 5, VoteA: vote(2, 2, 5, Hash{1}), VoteB: vote(2, 2, 5, Hash{2})},
		{Kind: DoubleProposal, Validator: 1, Round: 9, ProposalA: prop(1, 1, 9, "a"), ProposalB: prop(1, 1, 9, "b")},
	}
	for _, e := range good {
		if err := VerifyEvidence(e, id, vals, Ed25519Verifier{}); err != nil {
			t.Errorf("%s: %v", e.Kind, err)
		}
		if err := VerifyEvidence(e, "other-chain", vals, Ed25519Verifier{}); err == nil {
			t.Errorf("%s: accepted on another chain", e.Kind)
		}
	}
	// Forged accusations against honest validator 0: signed by someone
	// else, the same block twice, or rounds that differ.
	forged := map[string]Evidence{
		"signed by another":   {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: vote(3, 0, 5, Hash{1}), VoteB: vote(3, 0, 5, Hash{2})},
		"one honest, one not": {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: vote(0, 0, 5, Hash{1}), VoteB: vote(3, 0, 5, Hash{2})},
		"same block":          {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: vote(0, 0, 5, Hash{1}), VoteB: vote(0, 0, 5, Hash{1})},
		"different rounds":    {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: vote(0, 0, 5, Hash{1}), VoteB: vote(0, 0, 6, Hash{2})},
		"proposal forged":     {Kind: DoubleProposal, Validator: 0, Round: 9, ProposalA: prop(2, 0, 9, "a"), ProposalB: prop(2, 0, 9, "b")},
		"mixed kinds":         {Kind: DoubleVote, Validator: 0, Round: 9, VoteA: vote(0, 0, 9, Hash{1}), ProposalB: prop(0, 0, 9, "b")},
		"unknown validator":   {Kind: DoubleVote, Validator: 9, Round: 5, VoteA: vote(0, 9, 5, Hash{1}), VoteB: vote(0, 9, 5, Hash{2})},
		"unknown kind":        {Kind: "gossip", Validator: 0, Round: 5},
	}
	for name, e := range forged {
		if err := VerifyEvidence(e, id, vals, Ed25519Verifier{}); err == nil {
			t.Errorf("%s: forged evidence accepted", name)
		}
	}
	if good[0].Key() == good[1].Key() {
		t.Fatal("different misbehaviour shares a key")
	}
}
