package chain

import (
	"crypto/ed25519"
	"errors"
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

const evChain = "ev-chain"

// roundRobin4 is the leader rule of the fixture: validator round mod 4.
func roundRobin4(round uint64) uint32 { return uint32(round % 4) }

// rulesAt judges proofs at round now, with a window of 100 rounds.
func rulesAt(now uint64) EvidenceRules {
	return EvidenceRules{Leader: roundRobin4, Now: now, Window: 100}
}

type evKit struct {
	keys []ed25519.PrivateKey
}

func (k evKit) vote(signer int, voter uint32, round uint64, block Hash) *Vote {
	return &Vote{Round: round, BlockHash: block, Voter: voter, Sig: ed25519.Sign(k.keys[signer], VoteSignBytes(evChain, round, block))}
}

func (k evKit) header(signer int, proposer uint32, round uint64, payload string) *SignedHeader {
	b := &Block{Height: 3, Round: round, Proposer: proposer, QC: &QC{Round: round - 1}, Payload: [][]byte{[]byte(payload)}}
	p := &Proposal{Block: b, Sig: ed25519.Sign(k.keys[signer], ProposalSignBytes(evChain, round, b.Hash(evChain)))}
	return p.SignedHeader(evChain)
}

func (k evKit) double(v uint32, round uint64) Evidence {
	return Evidence{Kind: DoubleProposal, Validator: v, Round: round, Height: 3,
		HeaderA: k.header(int(v), v, round, "a"), HeaderB: k.header(int(v), v, round, "b")}
}

func TestVerifyEvidence(t *testing.T) {
	vals, keys := evidenceFixture(t)
	k := evKit{keys}
	good := []Evidence{
		{Kind: DoubleVote, Validator: 2, Round: 5, VoteA: k.vote(2, 2, 5, Hash{1}), VoteB: k.vote(2, 2, 5, Hash{2})},
		k.double(1, 9),
	}
	for _, e := range good {
		if err := VerifyEvidence(e, evChain, vals, Ed25519Verifier{}, rulesAt(10)); err != nil {
			t.Errorf("%s: %v", e.Kind, err)
		}
		if err := VerifyEvidence(e, "other-chain", vals, Ed25519Verifier{}, rulesAt(10)); err == nil {
			t.Errorf("%s: accepted on another chain", e.Kind)
		}
	}
	// Forged accusations against honest validator 0: signed by someone
	// else, the same block twice, or rounds that differ.
	forgedProp := k.double(0, 8)
	forgedProp.HeaderA, forgedProp.HeaderB = k.header(2, 0, 8, "a"), k.header(2, 0, 8, "b")
	wrongHeight := k.double(1, 9)
	wrongHeight.Height = 4
	forged := map[string]Evidence{
		"signed by another":    {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: k.vote(3, 0, 5, Hash{1}), VoteB: k.vote(3, 0, 5, Hash{2})},
		"one honest, one not":  {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: k.vote(0, 0, 5, Hash{1}), VoteB: k.vote(3, 0, 5, Hash{2})},
		"same block":           {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: k.vote(0, 0, 5, Hash{1}), VoteB: k.vote(0, 0, 5, Hash{1})},
		"different rounds":     {Kind: DoubleVote, Validator: 0, Round: 5, VoteA: k.vote(0, 0, 5, Hash{1}), VoteB: k.vote(0, 0, 6, Hash{2})},
		"proposal forged":      forgedProp,
		"mixed kinds":          {Kind: DoubleVote, Validator: 0, Round: 9, VoteA: k.vote(0, 0, 9, Hash{1}), HeaderB: k.header(0, 0, 9, "b")},
		"unknown validator":    {Kind: DoubleVote, Validator: 9, Round: 5, VoteA: k.vote(0, 9, 5, Hash{1}), VoteB: k.vote(0, 9, 5, Hash{2})},
		"unknown kind":         {Kind: "gossip", Validator: 0, Round: 5},
		"height not the first": wrongHeight,
	}
	for name, e := range forged {
		if err := VerifyEvidence(e, evChain, vals, Ed25519Verifier{}, rulesAt(10)); err == nil {
			t.Errorf("%s: forged evidence accepted", name)
		}
	}
	if good[0].Key() == good[1].Key() {
		t.Fatal("different misbehaviour shares a key")
	}
}

// A validator's two signed proposals for a round it did not lead prove
// nothing: no honest validator accepts such a proposal, and a Byzantine
// validator could otherwise accuse itself at will.
func TestVerifyEvidenceRefusesWrongLeader(t *testing.T) {
	vals, keys := evidenceFixture(t)
	e := evKit{keys}.double(2, 9) // round 9 is led by validator 1
	err := VerifyEvidence(e, evChain, vals, Ed25519Verifier{}, rulesAt(10))
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("self-accusation of a non-leader: %v, want ErrNotLeader", err)
	}
	if err := VerifyEvidence(e, evChain, vals, Ed25519Verifier{}, EvidenceRules{Now: 10}); err != nil {
		t.Fatalf("without a leader rule, a double proposal by any validator proves misbehaviour: %v", err)
	}
}

// A proof is judged at a round: older than the window it is stale, newer
// than the window premature.
func TestVerifyEvidenceRefusesStale(t *testing.T) {
	vals, keys := evidenceFixture(t)
	k := evKit{keys}
	e := k.double(1, 9)
	vote := Evidence{Kind: DoubleVote, Validator: 2, Round: 9, VoteA: k.vote(2, 2, 9, Hash{1}), VoteB: k.vote(2, 2, 9, Hash{2})}
	for _, ev := range []Evidence{e, vote} {
		for now, ok := range map[uint64]bool{0: true, 9: true, 109: true, 110: false, 5000: false} {
			err := VerifyEvidence(ev, evChain, vals, Ed25519Verifier{}, rulesAt(now))
			if ok != (err == nil) || (!ok && !errors.Is(err, ErrEvidenceStale)) {
				t.Errorf("%s of round 9 judged at %d: %v", ev.Kind, now, err)
			}
		}
		// Premature: from further ahead than the window.
		if err := VerifyEvidence(ev, evChain, vals, Ed25519Verifier{}, EvidenceRules{Leader: roundRobin4, Now: 0, Window: 5}); !errors.Is(err, ErrEvidenceStale) {
			t.Errorf("%s of round 9 judged at 0 with window 5: %v", ev.Kind, err)
		}
	}
}

// A proposal's certificate can hold at most one vote per validator: a
// proof carrying more is oversized, whatever its signatures.
func TestVerifyEvidenceRefusesOversize(t *testing.T) {
	vals, keys := evidenceFixture(t)
	k := evKit{keys}
	b := &Block{Height: 3, Round: 9, Proposer: 1, QC: &QC{Round: 8, Votes: make([]Signature, 5)}, Payload: [][]byte{[]byte("big")}}
	p := &Proposal{Block: b, Sig: ed25519.Sign(keys[1], ProposalSignBytes(evChain, 9, b.Hash(evChain)))}
	e := k.double(1, 9)
	e.HeaderB = p.SignedHeader(evChain)
	if err := VerifyEvidence(e, evChain, vals, Ed25519Verifier{}, rulesAt(10)); err == nil || !strings.Contains(err.Error(), "5 votes") {
		t.Fatalf("a certificate of 5 votes among 4 validators: %v", err)
	}
}
