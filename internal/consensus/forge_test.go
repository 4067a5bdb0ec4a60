package consensus

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// Helpers that sign arbitrary (valid or invalid) messages with the test
// network's keys, for feeding a single core by hand.

func (n *testNet) block(round, height uint64, parent chain.Hash, qc *chain.QC, proposer uint32, txs ...string) *chain.Block {
	b := &chain.Block{Height: height, Round: round, Parent: parent, QC: qc, Proposer: proposer}
	if qc != nil {
		// The rounds it skips failed; the harness's leaders rotate.
		rr := RoundRobin{N: n.vals.Len()}
		for g := round - 1; g > qc.Round && len(b.FailedLeaders) < chain.MaxFailedLeaders(n.vals.Len()); g-- {
			b.FailedLeaders = append(b.FailedLeaders, rr.Leader(g))
		}
	}
	for _, tx := range txs {
		b.Payload = append(b.Payload, []byte(tx))
	}
	return b
}

// propose signs b with its proposer's key.
func (n *testNet) propose(b *chain.Block, tc *chain.TC) *chain.Proposal {
	msg := chain.ProposalSignBytes(testChainID, b.Round, b.Hash(testChainID))
	return &chain.Proposal{Block: b, TC: tc, Sig: ed25519.Sign(n.keys[b.Proposer], msg)}
}

func (n *testNet) vote(voter uint32, round uint64, h chain.Hash) *chain.Vote {
	msg := chain.VoteSignBytes(testChainID, round, h)
	return &chain.Vote{Round: round, BlockHash: h, Voter: voter, Sig: ed25519.Sign(n.keys[voter], msg)}
}

// qc certifies block h of round with the votes of signers, in the order
// given; a signer without a key gets a junk signature.
func (n *testNet) qc(round uint64, h chain.Hash, signers ...uint32) *chain.QC {
	q := &chain.QC{Round: round, BlockHash: h}
	for _, s := range signers {
		sig := bytes.Repeat([]byte{7}, ed25519.SignatureSize)
		if int(s) < len(n.keys) {
			sig = n.vote(s, round, h).Sig
		}
		q.Votes = append(q.Votes, chain.Signature{Signer: s, Sig: sig})
	}
	return q
}

func (n *testNet) timeout(voter uint32, round uint64, high *chain.QC, last *chain.TC) *chain.Timeout {
	msg := chain.TimeoutSignBytes(testChainID, round, high.Round)
	return &chain.Timeout{Round: round, HighQC: high, LastTC: last, Voter: voter, Sig: ed25519.Sign(n.keys[voter], msg)}
}

// tc certifies that signers timed out in round, each signing that its
// highest QC was of round reported; the TC carries high.
func (n *testNet) tc(round uint64, high *chain.QC, reported uint64, signers ...uint32) *chain.TC {
	t := &chain.TC{Round: round, HighQC: high}
	for _, s := range signers {
		msg := chain.TimeoutSignBytes(testChainID, round, reported)
		t.Timeouts = append(t.Timeouts, chain.TimeoutSig{Signer: s, HighQCRound: reported, Sig: ed25519.Sign(n.keys[s], msg)})
	}
	return t
}

// corrupt returns a copy of sig with one bit flipped.
func corrupt(sig []byte) []byte {
	out := bytes.Clone(sig)
	out[0] ^= 1
	return out
}

// fixture is a fresh 4-validator network in round 1 that nobody has
// stepped: validator 1 (leader of round 1) proposed p1, which is still
// queued; qc1 is a valid certificate for it signed by 0, 1 and 2.
type fixture struct {
	net *testNet
	gqc *chain.QC
	p1  *chain.Proposal
	b1  *chain.Block
	h1  chain.Hash
	qc1 *chain.QC
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	net := newTestNet(t, 4, func(c *Config) { c.MaxPayloadTxs, c.MaxPayloadBytes = 8, 64 })
	if len(net.queue) == 0 || net.queue[0].Proposal == nil || net.queue[0].From != 1 {
		t.Fatalf("validator 1 did not propose at start: %+v", net.queue)
	}
	f := &fixture{net: net, gqc: chain.GenesisQC(net.genesis), p1: net.queue[0].Proposal}
	net.queue = nil
	f.b1 = f.p1.Block
	f.h1 = f.b1.Hash(testChainID)
	f.qc1 = net.qc(1, f.h1, 0, 1, 2)
	return f
}

// stepOne feeds m to validator to and returns its Ready, leaving the
// network queue untouched.
func (f *fixture) stepOne(to uint32, m Message) Ready {
	m.To = to
	f.net.cores[to].Step(m)
	return f.net.cores[to].Ready()
}

func totalDropped(s Stats) int {
	n := 0
	for _, v := range s.Dropped {
		n += v
	}
	return n
}
