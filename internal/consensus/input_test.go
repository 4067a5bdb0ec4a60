package consensus

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// Invalid input is dropped, counted, and changes nothing. Each invalid case
// is a small mutation of a valid control case in the same table, and the
// controls must be accepted, so a case cannot pass by being broken in some
// other way than the one it names.
func TestInvalidInputIsDropped(t *testing.T) {
	type build func(f *fixture) Message
	tests := []struct {
		name   string
		to     uint32
		msg    build
		reason string                       // expected Stats().Dropped key; "" for a valid control
		accept func(c *Core, r Ready) error // for controls: evidence of acceptance
	}{
		{
			name: "control: round-1 proposal", to: 0,
			msg:    func(f *fixture) Message { return Message{From: 1, Proposal: f.p1} },
			accept: votedIn(1),
		},
		{
			name: "control: round-2 proposal on a QC", to: 0,
			msg:    func(f *fixture) Message { return Message{From: 2, Proposal: f.round2(f.qc1)} },
			accept: inRound(2),
		},
		{
			name: "control: round-4 proposal with a TC", to: 1,
			msg: func(f *fixture) Message {
				return Message{From: 0, Proposal: f.round4(f.qc1, f.net.tc(3, f.qc1, 1, 0, 1, 2))}
			},
			accept: votedIn(4),
		},
		{
			name: "control: timeout with a TC", to: 0,
			msg: func(f *fixture) Message {
				return Message{From: 2, Timeout: f.net.timeout(2, 4, f.qc1, f.net.tc(3, f.qc1, 1, 0, 1, 2))}
			},
			accept: inRound(4),
		},
		{
			name: "control: vote to the next leader", to: 2,
			msg:    func(f *fixture) Message { return Message{From: 0, Vote: f.net.vote(0, 1, f.h1)} },
			accept: func(*Core, Ready) error { return nil },
		},
		{
			name: "unknown sender index", to: 0, reason: "unknown sender",
			msg: func(f *fixture) Message { return Message{From: 9, Proposal: f.p1} },
		},
		{
			name: "sender is the receiver", to: 0, reason: "unknown sender",
			msg: func(f *fixture) Message { return Message{From: 0, Proposal: f.p1} },
		},
		{
			name: "two payloads", to: 0, reason: "malformed message",
			msg: func(f *fixture) Message { return Message{From: 1, Proposal: f.p1, Vote: f.net.vote(1, 1, f.h1)} },
		},
		{
			name: "no payload", to: 0, reason: "malformed message",
			msg: func(f *fixture) Message { return Message{From: 1} },
		},
		{
			name: "proposal without block", to: 0, reason: "proposal without block",
			msg: func(f *fixture) Message { return Message{From: 1, Proposal: &chain.Proposal{Sig: f.p1.Sig}} },
		},
		{
			name: "proposal with a bad signature", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				p := *f.p1
				p.Sig = corrupt(p.Sig)
				return Message{From: 1, Proposal: &p}
			},
		},
		{
			name: "proposal from a non-leader", to: 0, reason: "proposal from a non-leader",
			msg: func(f *fixture) Message {
				return Message{From: 2, Proposal: f.net.propose(f.net.block(1, 1, f.net.genesis, f.gqc, 2, "x"), nil)}
			},
		},
		{
			name: "QC with too few signers", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message { return Message{From: 2, Proposal: f.round2(f.net.qc(1, f.h1, 0, 1))} },
		},
		{
			name: "QC with a duplicate signer", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message { return Message{From: 2, Proposal: f.round2(f.net.qc(1, f.h1, 0, 1, 1))} },
		},
		{
			name: "QC with an invalid vote signature", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				qc := f.net.qc(1, f.h1, 0, 1, 2)
				qc.Votes[2].Sig = corrupt(qc.Votes[2].Sig)
				return Message{From: 2, Proposal: f.round2(qc)}
			},
		},
		{
			// A QC formed elsewhere moves the next leader on even when
			// the votes never reached it.
			name: "control: a QC sent by the validator that formed it", to: 2,
			msg:    func(f *fixture) Message { return Message{From: 0, QC: f.net.qc(1, f.h1, 0, 1, 3)} },
			accept: inRound(2),
		},
		{
			name: "QC message with an invalid vote signature", to: 2, reason: "invalid qc",
			msg: func(f *fixture) Message {
				qc := f.net.qc(1, f.h1, 0, 1, 3)
				qc.Votes[2].Sig = corrupt(qc.Votes[2].Sig)
				return Message{From: 0, QC: qc}
			},
		},
		{
			name: "QC with an unknown signer", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message { return Message{From: 2, Proposal: f.round2(f.net.qc(1, f.h1, 0, 1, 7))} },
		},
		{
			// Valid signatures and a valid TC for round 1, but the block's
			// round is not above its QC's round.
			name: "block round not above its QC round", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				parent := chain.Hash{42}
				b := f.net.block(2, 2, parent, f.net.qc(2, parent, 0, 1, 2), 2, "b")
				return Message{From: 2, Proposal: f.net.propose(b, f.net.tc(1, f.gqc, 0, 0, 1, 2))}
			},
		},
		{
			name: "vote with a bad signature", to: 2, reason: "vote with invalid signature",
			msg: func(f *fixture) Message {
				v := f.net.vote(0, 1, f.h1)
				v.Sig = corrupt(v.Sig)
				return Message{From: 0, Vote: v}
			},
		},
		{
			// Votes go to every validator, so that each forms the QC.
			name: "control: vote to a validator that does not lead next", to: 0,
			msg:    func(f *fixture) Message { return Message{From: 3, Vote: f.net.vote(3, 1, f.h1)} },
			accept: func(*Core, Ready) error { return nil },
		},
		{
			name: "vote from an unknown validator", to: 2, reason: "vote from unknown validator",
			msg: func(f *fixture) Message {
				v := f.net.vote(0, 1, f.h1)
				v.Voter = 9
				return Message{From: 0, Vote: v}
			},
		},
		{
			name: "timeout whose high QC is from its own round", to: 0, reason: "invalid timeout",
			msg: func(f *fixture) Message { return Message{From: 2, Timeout: f.net.timeout(2, 1, f.qc1, nil)} },
		},
		{
			// Signers reported a QC of round 1 but the TC carries genesis:
			// it would justify a fork that drops b1's certificate.
			name: "proposal with a forged TC", to: 1, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				b := f.net.block(4, 1, f.net.genesis, f.gqc, 0, "fork")
				return Message{From: 0, Proposal: f.net.propose(b, f.net.tc(3, f.gqc, 1, 0, 1, 2))}
			},
		},
		{
			name: "timeout with a forged TC", to: 0, reason: "invalid timeout",
			msg: func(f *fixture) Message {
				return Message{From: 2, Timeout: f.net.timeout(2, 4, f.qc1, f.net.tc(3, f.gqc, 1, 0, 1, 2))}
			},
		},
		{
			name: "payload with too many transactions", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				b := f.net.block(1, 1, f.net.genesis, f.gqc, 1, "1", "2", "3", "4", "5", "6", "7", "8", "9")
				return Message{From: 1, Proposal: f.net.propose(b, nil)}
			},
		},
		{
			name: "payload with too many bytes", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				b := f.net.block(1, 1, f.net.genesis, f.gqc, 1, strings.Repeat("x", 65))
				return Message{From: 1, Proposal: f.net.propose(b, nil)}
			},
		},
		{
			// The budget is 64 bytes; a proof's bytes count in it.
			name: "evidence over the block's bytes", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				b := f.net.block(1, 1, f.net.genesis, f.gqc, 1, "a")
				b.Evidence = []chain.Evidence{{Kind: chain.DoubleVote, Validator: 3, Round: 0,
					VoteA: &chain.Vote{BlockHash: chain.Hash{1}, Voter: 3}, VoteB: &chain.Vote{BlockHash: chain.Hash{2}, Voter: 3}}}
				return Message{From: 1, Proposal: f.net.propose(b, nil)}
			},
		},
		{
			name: "state root over chain.MaxStateRoot", to: 0, reason: "invalid proposal",
			msg: func(f *fixture) Message {
				b := f.net.block(1, 1, f.net.genesis, f.gqc, 1, "a")
				b.StateRoot = make([]byte, chain.MaxStateRoot+1)
				return Message{From: 1, Proposal: f.net.propose(b, nil)}
			},
		},
		{
			name: "unsolicited block response", to: 0, reason: "unsolicited block response",
			msg: func(f *fixture) Message {
				return Message{From: 1, BlockResponse: &BlockResponse{Blocks: []*chain.Block{f.b1}}}
			},
		},
		{
			name: "empty block response", to: 0, reason: "malformed block response",
			msg: func(f *fixture) Message { return Message{From: 1, BlockResponse: &BlockResponse{}} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			c := f.net.cores[tt.to]
			round, dropped := c.Round(), totalDropped(c.Stats())
			r := f.stepOne(tt.to, tt.msg(f))
			st := c.Stats()
			if tt.reason == "" {
				if d := totalDropped(st); d != dropped {
					t.Fatalf("control dropped: %v", st.Dropped)
				}
				if err := tt.accept(c, r); err != nil {
					t.Fatalf("control not accepted: %v", err)
				}
				return
			}
			if got := totalDropped(st); got != dropped+1 || st.Dropped[tt.reason] != 1 {
				t.Errorf("dropped = %v, want one %q", st.Dropped, tt.reason)
			}
			if !r.IsEmpty() {
				t.Errorf("dropped input produced output: %+v", r)
			}
			if c.Round() != round {
				t.Errorf("round moved from %d to %d", round, c.Round())
			}
		})
	}
}

// round2 is a valid round-2 proposal by validator 2 extending b1 with qc.
func (f *fixture) round2(qc *chain.QC) *chain.Proposal {
	return f.net.propose(f.net.block(2, 2, f.h1, qc, 2, "b2"), nil)
}

// round4 is validator 0's round-4 proposal extending b1 after round 3
// timed out.
func (f *fixture) round4(qc *chain.QC, tc *chain.TC) *chain.Proposal {
	return f.net.propose(f.net.block(4, 2, f.h1, qc, 0, "b4"), tc)
}

// votedIn checks that the core voted in round: the vote may go to itself
// as the next leader, but it always raises the persisted safety state.
func votedIn(round uint64) func(*Core, Ready) error {
	return func(_ *Core, r Ready) error {
		if r.Safety == nil || r.Safety.LastVotedRound != round {
			return fmt.Errorf("no vote for round %d (safety %+v)", round, r.Safety)
		}
		return nil
	}
}

func inRound(round uint64) func(*Core, Ready) error {
	return func(c *Core, _ Ready) error {
		if c.Round() != round {
			return fmt.Errorf("round %d, want %d", c.Round(), round)
		}
		return nil
	}
}

// The certificate checks reject each defect for the reason it names.
func TestCertificateErrors(t *testing.T) {
	f := newFixture(t)
	n := f.net
	badSig := n.qc(1, f.h1, 0, 1, 2)
	badSig.Votes[1].Sig = corrupt(badSig.Votes[1].Sig)
	badTC := n.tc(3, f.qc1, 1, 0, 1, 2)
	badTC.Timeouts[0].Sig = corrupt(badTC.Timeouts[0].Sig)
	tests := []struct {
		name string
		err  func(c *Core) error
		want error // nil: valid; errAny: some error
	}{
		{"valid QC", func(c *Core) error { return c.verifyQC(f.qc1) }, nil},
		{"genesis QC", func(c *Core) error { return c.verifyQC(f.gqc) }, nil},
		{"genesis QC of another block", func(c *Core) error { return c.verifyQC(chain.GenesisQC(f.h1)) }, errAny},
		{"QC below quorum", func(c *Core) error { return c.verifyQC(n.qc(1, f.h1, 0, 1)) }, errNoQuorum},
		{"QC duplicate signer", func(c *Core) error { return c.verifyQC(n.qc(1, f.h1, 0, 1, 1)) }, errSignerOrder},
		{"QC unsorted signers", func(c *Core) error { return c.verifyQC(n.qc(1, f.h1, 2, 1, 0)) }, errSignerOrder},
		{"QC unknown signer", func(c *Core) error { return c.verifyQC(n.qc(1, f.h1, 0, 1, 7)) }, errUnknownVoter},
		{"QC bad signature", func(c *Core) error { return c.verifyQC(badSig) }, errBadSig},
		{"QC for another round", func(c *Core) error { q := n.qc(1, f.h1, 0, 1, 2); q.Round = 2; return c.verifyQC(q) }, errBadSig},
		{"nil QC", func(c *Core) error { return c.verifyQC(nil) }, errNilCert},
		{"valid TC", func(c *Core) error { return c.verifyTC(n.tc(3, f.qc1, 1, 0, 1, 2)) }, nil},
		{"TC below quorum", func(c *Core) error { return c.verifyTC(n.tc(3, f.qc1, 1, 0, 1)) }, errNoQuorum},
		{"TC duplicate signer", func(c *Core) error { return c.verifyTC(n.tc(3, f.qc1, 1, 0, 0, 1, 2)) }, errSignerOrder},
		{"TC bad signature", func(c *Core) error { return c.verifyTC(badTC) }, errBadSig},
		{"TC high QC lower than reported", func(c *Core) error { return c.verifyTC(n.tc(3, f.gqc, 1, 0, 1, 2)) }, errAny},
		{"TC high QC higher than reported", func(c *Core) error { return c.verifyTC(n.tc(3, f.qc1, 0, 0, 1, 2)) }, errAny},
		{"TC reporting its own round", func(c *Core) error { return c.verifyTC(n.tc(1, f.qc1, 1, 0, 1, 2)) }, errAny},
		{"TC with an invalid high QC", func(c *Core) error { return c.verifyTC(n.tc(3, badSig, 1, 0, 1, 2)) }, errBadSig},
		{"TC without high QC", func(c *Core) error { return c.verifyTC(&chain.TC{Round: 3}) }, errNilCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFixture(t).net.cores[3] // fresh: no certificate cached
			err := tt.err(c)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want == errAny && err == nil, tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")
