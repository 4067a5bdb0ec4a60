package consensus

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// (a) Four honest validators commit, agree, sign nothing twice and drop
// nothing.
func TestHonestValidatorsCommitAndAgree(t *testing.T) {
	n := newTestNet(t, 4, nil)
	n.run(200)
	for i := range uint32(4) {
		if got := len(n.committed(i)); got < 90 {
			t.Errorf("node %d committed %d blocks in 200 steps, want at least 90", i, got)
		}
		if st := n.cores[i].Stats(); totalDropped(st) != 0 || st.ConflictCommit != 0 {
			t.Errorf("node %d: honest run dropped %v, conflicts %d", i, st.Dropped, st.ConflictCommit)
		}
	}
	n.checkAgreement()
	if d := n.doubleSigned(); len(d) > 0 {
		t.Fatalf("double signing: %v", d)
	}
	if n.sent["timeout"] != 0 {
		t.Errorf("%d timeouts in a fault-free run", n.sent["timeout"])
	}
}

// (b) Every Ready of a run with lost votes, a crash and a restart is
// checked by the harness for persist-before-send; the run must actually
// exercise votes, timeouts and proposals for that to mean anything.
func TestPersistBeforeSend(t *testing.T) {
	n := newTestNet(t, 4, nil)
	n.drop = func(m Message) bool { return m.Vote != nil && n.steps < 40 }
	n.run(60)
	n.crash(1)
	n.run(20)
	n.restart(1)
	n.run(120)
	for _, kind := range []string{"vote", "timeout", "proposal"} {
		if n.sent[kind] == 0 {
			t.Errorf("no %s was sent: the check was not exercised", kind)
		}
	}
	if d := n.doubleSigned(); len(d) > 0 {
		t.Fatalf("double signing: %v", d)
	}
	n.checkAgreement()
	if len(n.committed(1)) < 20 {
		t.Fatalf("restarted node committed only %d blocks", len(n.committed(1)))
	}
}

// checkPersistBeforeSend checks that every vote, timeout and proposal this
// validator signs in r is covered by the safety state on disk once r's
// Safety is persisted, and that no vote is for a round already covered
// before r (which would be a second vote in that round).
func checkPersistBeforeSend(self uint32, prev SafetyState, r Ready) error {
	after := prev
	if r.Safety != nil {
		if r.Safety.LastVotedRound < prev.LastVotedRound {
			return fmt.Errorf("last voted round went back from %d to %d", prev.LastVotedRound, r.Safety.LastVotedRound)
		}
		after = *r.Safety
	}
	for _, m := range r.Messages {
		var round uint64
		switch {
		case m.Vote != nil && m.Vote.Voter == self:
			round = m.Vote.Round
			if round <= prev.LastVotedRound {
				return fmt.Errorf("vote in round %d after persisting last voted round %d", round, prev.LastVotedRound)
			}
		case m.Timeout != nil && m.Timeout.Voter == self:
			round = m.Timeout.Round
		case m.Proposal != nil && m.Proposal.Block != nil && m.Proposal.Block.Proposer == self:
			round = m.Proposal.Block.Round
		default:
			continue
		}
		if after.LastVotedRound < round {
			return fmt.Errorf("%s for round %d sent, but persisted last voted round is %d", m.Kind(), round, after.LastVotedRound)
		}
	}
	return nil
}

// The persist-before-send checker flags each way of getting it wrong.
func TestPersistCheckerHasTeeth(t *testing.T) {
	vote := Message{From: 0, To: 1, Vote: &chain.Vote{Round: 5, Voter: 0}}
	relayed := Message{From: 0, To: 1, Vote: &chain.Vote{Round: 5, Voter: 2}}
	timeout := Message{From: 0, To: Broadcast, Timeout: &chain.Timeout{Round: 5, Voter: 0}}
	proposal := Message{From: 0, To: Broadcast, Proposal: &chain.Proposal{Block: &chain.Block{Round: 5, Proposer: 0}}}
	tests := []struct {
		name    string
		prev    uint64
		safety  *SafetyState
		msg     Message
		wantErr string
	}{
		{"vote persisted", 4, &SafetyState{LastVotedRound: 5}, vote, ""},
		{"vote not persisted", 4, nil, vote, "persisted last voted round is 4"},
		{"vote persisted too low", 3, &SafetyState{LastVotedRound: 4}, vote, "persisted last voted round is 4"},
		{"second vote in a round", 5, &SafetyState{LastVotedRound: 6}, vote, "vote in round 5 after"},
		{"vote relayed for another voter", 0, nil, relayed, ""},
		{"timeout persisted", 4, &SafetyState{LastVotedRound: 5}, timeout, ""},
		{"timeout re-sent", 5, nil, timeout, ""},
		{"timeout not persisted", 4, nil, timeout, "persisted last voted round is 4"},
		{"proposal not persisted", 4, nil, proposal, "persisted last voted round is 4"},
		{"safety going back", 6, &SafetyState{LastVotedRound: 5}, timeout, "went back"},
	}
	for _, tt := range tests {
		err := checkPersistBeforeSend(0, SafetyState{LastVotedRound: tt.prev}, Ready{Safety: tt.safety, Messages: []Message{tt.msg}})
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// crashAfter runs n until validator k signs a vote (or proposal) for round
// and crashes it right after that Ready is persisted, before its messages
// are sent. It returns the proposal of that round.
func crashAfter(t *testing.T, n *testNet, k uint32, kind string, round uint64) *chain.Proposal {
	t.Helper()
	var prop *chain.Proposal
	for _, m := range n.queue { // proposals made at start
		if m.Proposal != nil && m.Proposal.Block.Round == round {
			prop = m.Proposal
		}
	}
	crashed := false
	n.observe = func(i uint32, r Ready) {
		for _, m := range r.Messages {
			if m.Proposal != nil && m.Proposal.Block.Round == round && prop == nil {
				prop = m.Proposal
			}
			signed := m.Vote != nil && m.Vote.Voter == k && m.Vote.Round == round ||
				m.Proposal != nil && m.Proposal.Block.Proposer == k && m.Proposal.Block.Round == round
			if i == k && m.Kind() == kind && signed && !crashed {
				crashed = true
				n.crash(k)
			}
		}
	}
	n.runUntil(200, fmt.Sprintf("%s of node %d in round %d", kind, k, round), func() bool { return crashed })
	n.observe = nil
	if prop == nil {
		t.Fatalf("no proposal seen for round %d", round)
	}
	return prop
}

// (c) A validator that crashes right after voting and restarts from its
// storage does not vote again when the proposal is redelivered, and keeps
// voting in later rounds.
func TestNoDoubleVoteAfterRestart(t *testing.T) {
	for _, round := range []uint64{1, 6} {
		t.Run(fmt.Sprint("round ", round), func(t *testing.T) {
			n := newTestNet(t, 4, nil)
			k := uint32((round + 2) % 4) // neither this round's leader nor the next
			prop := crashAfter(t, n, k, "vote", round)
			n.restart(k)
			c := n.cores[k]
			if c.Round() != round {
				t.Fatalf("restarted in round %d, want %d", c.Round(), round)
			}
			c.Step(Message{From: prop.Block.Proposer, To: k, Proposal: prop})
			r := c.Ready()
			for _, m := range r.Messages {
				if m.Vote != nil {
					t.Fatalf("voted again in round %d after restart", m.Vote.Round)
				}
			}
			// The branch up to the high QC was reloaded from storage, so the
			// proposal connects at once: no fetch, nothing sent at all.
			if len(r.Messages) != 0 || !c.HasBlock(prop.Block.Hash(testChainID)) {
				t.Fatalf("proposal not connected after restart: sent %+v", r.Messages)
			}
			n.handle(k, r)
			n.run(100)
			if d := n.doubleSigned(); len(d) > 0 {
				t.Fatalf("double signing: %v", d)
			}
			later := 0
			for key := range n.signed["vote"] {
				if key.validator == k && key.round > round {
					later++
				}
			}
			if later == 0 {
				t.Fatal("restarted validator never voted again")
			}
			n.checkAgreement()
		})
	}
}

// The control for the test above: restarted with its safety state lost,
// the validator does vote twice, and the harness's check flags it. So the
// test above can fail.
func TestRestartWithoutSafetyStateVotesTwice(t *testing.T) {
	n := newTestNet(t, 4, nil)
	const k = 3
	prop := crashAfter(t, n, k, "vote", 1)
	persisted := n.stores[k].safety
	n.cfgs[k].Storage = &memStore{genesis: n.genesis, blocks: map[chain.Hash]*chain.Block{}}
	c, err := New(n.cfgs[k])
	if err != nil {
		t.Fatal(err)
	}
	c.Ready()
	c.Step(Message{From: prop.Block.Proposer, To: k, Proposal: prop})
	r := c.Ready()
	if len(r.Messages) != 1 || r.Messages[0].Vote == nil || r.Messages[0].Vote.Round != 1 {
		t.Fatalf("amnesiac validator did not vote again: %+v", r.Messages)
	}
	if err := checkPersistBeforeSend(k, persisted, r); err == nil {
		t.Fatal("the harness did not flag the second vote")
	}
}

// A leader that crashes right after proposing does not propose again in
// that round after restarting.
func TestNoDoubleProposalAfterRestart(t *testing.T) {
	const round = 6
	n := newTestNet(t, 4, nil)
	leader := n.cores[0].Leader(round)
	crashAfter(t, n, leader, "proposal", round)
	n.restart(leader)
	if got := n.cores[leader].Round(); got != round {
		t.Fatalf("restarted in round %d, want %d", got, round)
	}
	n.run(150)
	if d := n.doubleSigned(); len(d) > 0 {
		t.Fatalf("double signing: %v", d)
	}
	if n.signed["proposal"][seenKey{round, leader}] != 1 {
		t.Fatalf("leader signed %d proposals in round %d", n.signed["proposal"][seenKey{round, leader}], round)
	}
	n.checkAgreement()
	if len(n.committed(leader)) < 20 {
		t.Fatalf("restarted leader committed only %d blocks", len(n.committed(leader)))
	}
}
