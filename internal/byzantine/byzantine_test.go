package byzantine_test

import (
	"crypto/ed25519"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// Unit tests of each behaviour against real honest cores on the small
// network of network_test.go: 4 validators of equal power, so f = 1 and a
// quorum is 3. Validator 1 leads rounds 1, 5, 9, …; the behaviour under
// test usually runs there.

func TestNames(t *testing.T) {
	want := []string{"bad-signature", "delay", "equivocate", "flood", "forge-qc", "honest", "replay", "silent", "withhold"}
	if got := byzantine.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, name := range want {
		if !byzantine.Valid(name) || byzantine.Describe(name) == "" {
			t.Errorf("%s: valid %v, description %q", name, byzantine.Valid(name), byzantine.Describe(name))
		}
	}
}

func TestNewUnknownBehaviour(t *testing.T) {
	cfg := newKeys(4).config(0, nil)
	r, err := byzantine.New("traitor", byzantine.Options{Config: cfg})
	if err == nil || r != nil {
		t.Fatalf("New(traitor) = %v, %v; want an error", r, err)
	}
	for _, name := range append(byzantine.Names(), "traitor") {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %q", err, name)
		}
	}
}

// A silent validator follows the protocol, commits what it learns, and
// sends nothing; the others go on without it.
func TestSilent(t *testing.T) {
	n := newNetwork(t, map[uint32]string{1: "silent"}, nil)
	n.run(200)
	if len(n.sent[1]) != 0 {
		t.Fatalf("silent validator sent %d messages", len(n.sent[1]))
	}
	if len(n.commits[1]) == 0 {
		t.Error("silent validator committed nothing: it does not process what it receives")
	}
	n.checkHonestProgress(5)
}

// Every signature a bad-signature validator produces fails verification,
// and the honest validators drop what it sends.
func TestBadSignature(t *testing.T) {
	n := newNetwork(t, map[uint32]string{1: "bad-signature"}, nil)
	n.run(200)
	pub := n.keys.vals.Get(1).PubKey
	checked := map[string]int{}
	for _, m := range n.sent[1] {
		var msg, sig []byte
		switch {
		case m.Proposal != nil:
			b := m.Proposal.Block
			msg, sig = chain.ProposalSignBytes(chainID, b.Round, b.Hash(chainID)), m.Proposal.Sig
		case m.Vote != nil:
			msg, sig = chain.VoteSignBytes(chainID, m.Vote.Round, m.Vote.BlockHash), m.Vote.Sig
		case m.Timeout != nil:
			msg, sig = chain.TimeoutSignBytes(chainID, m.Timeout.Round, m.Timeout.HighQC.Round), m.Timeout.Sig
		default:
			continue
		}
		if ed25519.Verify(pub, msg, sig) {
			t.Fatalf("%s of round %d carries a valid signature", m.Kind(), roundOf(m))
		}
		checked[m.Kind()]++
	}
	if checked["proposal"] == 0 || checked["vote"] == 0 || checked["timeout"] == 0 {
		t.Fatalf("checked %v: some kind of message was never produced", checked)
	}
	dropped := map[string]int{}
	for _, i := range n.honest() {
		for k, v := range n.core(i).Stats().Dropped {
			dropped[k] += v
		}
	}
	for _, reason := range []string{"invalid proposal", "vote with invalid signature", "invalid timeout"} {
		if dropped[reason] == 0 {
			t.Errorf("no honest validator dropped anything as %q: %v", reason, dropped)
		}
	}
	n.checkHonestProgress(5)
}

// A withholding leader sends each proposal to fewer peers than would make
// a quorum with its own vote; no block of its is ever certified.
func TestWithhold(t *testing.T) {
	n := newNetwork(t, map[uint32]string{1: "withhold"}, nil)
	n.run(200)
	to := map[uint64][]uint32{} // round -> recipients
	for _, m := range n.sent[1] {
		if m.Proposal == nil {
			continue
		}
		if m.To == consensus.Broadcast {
			t.Fatalf("proposal of round %d broadcast", m.Proposal.Block.Round)
		}
		to[m.Proposal.Block.Round] = append(to[m.Proposal.Block.Round], m.To)
	}
	if len(to) < 3 {
		t.Fatalf("withholding leader proposed in %d rounds, want at least 3", len(to))
	}
	total := n.keys.vals.TotalPower()
	for r, peers := range to {
		power := n.keys.vals.Power(1)
		for _, p := range peers {
			power += n.keys.vals.Power(p)
		}
		if len(peers) == 0 || 3*power > 2*total {
			t.Errorf("round %d: proposal sent to %v, which with the leader holds %d of %d", r, peers, power, total)
		}
	}
	n.checkHonestProgress(20)
	for _, c := range n.commits[0] {
		if c.Block.Proposer == 1 {
			t.Fatalf("a block of the withholding leader was committed in round %d", c.Block.Round)
		}
	}
}

// forge-qc's proposals are signed with its real key but carry certificates
// whose signatures do not verify; honest validators drop each one.
func TestForgeQC(t *testing.T) {
	n := newNetwork(t, map[uint32]string{1: "forge-qc"}, nil)
	n.run(120)
	pub := n.keys.vals.Get(1).PubKey
	forged := 0
	for _, m := range n.sent[1] {
		if m.Proposal == nil {
			continue
		}
		b := m.Proposal.Block
		if !ed25519.Verify(pub, chain.ProposalSignBytes(chainID, b.Round, b.Hash(chainID)), m.Proposal.Sig) {
			t.Fatalf("round %d: the proposal itself is not validly signed", b.Round)
		}
		if len(b.QC.Votes) < 3 {
			t.Fatalf("round %d: forged QC claims only %d votes", b.Round, len(b.QC.Votes))
		}
		for _, v := range b.QC.Votes {
			if ed25519.Verify(n.keys.vals.Get(v.Signer).PubKey, chain.VoteSignBytes(chainID, b.QC.Round, b.QC.BlockHash), v.Sig) {
				t.Fatalf("round %d: the QC's vote of %d verifies", b.Round, v.Signer)
			}
		}
		if b.Round > 1 {
			forged++ // round 1's QC is rejected as a false genesis certificate first
		}
	}
	if forged == 0 {
		t.Fatal("no forged proposal beyond round 1")
	}
	for _, i := range n.honest() {
		got, want := n.core(i).Stats().Dropped["invalid proposal"], n.received(i, func(m consensus.Message) bool { return m.From == 1 && m.Proposal != nil })
		if want == 0 || got != want {
			t.Errorf("validator %d dropped %d invalid proposals, received %d from the forger", i, got, want)
		}
	}
	n.checkHonestProgress(10)
}

// delay holds every message for 3 base timeouts of ticks and then
// releases it, in order: its output is an honest core's output, shifted.
func TestDelay(t *testing.T) {
	const base, hold, ticks = 4, 3 * 4, 60
	k := newKeys(4)
	tune := func(c *consensus.Config) { c.BaseTimeout = base }
	ref, err := consensus.New(k.config(1, tune))
	if err != nil {
		t.Fatal(err)
	}
	d, err := byzantine.New("delay", byzantine.Options{Config: k.config(1, tune)})
	if err != nil {
		t.Fatal(err)
	}
	var want, got [][]consensus.Message // by tick
	for tick := range ticks + 1 {
		if tick > 0 {
			ref.Tick()
			d.Tick()
		}
		want = append(want, ref.Ready().Messages)
		got = append(got, d.Ready().Messages)
	}
	released := 0
	for tick, ms := range got {
		switch {
		case tick < hold && len(ms) > 0:
			t.Fatalf("tick %d: %d messages released before %d ticks", tick, len(ms), hold)
		case tick >= hold && !reflect.DeepEqual(ms, want[tick-hold]):
			t.Fatalf("tick %d: released %d messages, want the %d produced at tick %d", tick, len(ms), len(want[tick-hold]), tick-hold)
		}
		released += len(ms)
	}
	if released < 3 {
		t.Fatalf("only %d messages released: nothing to delay", released)
	}
}

// replay resends earlier messages, its own and others', and the honest
// validators shrug them off.
func TestReplay(t *testing.T) {
	n := newNetwork(t, map[uint32]string{3: "replay"}, nil)
	n.run(100)
	if n.replayed[3] < 100 {
		t.Fatalf("replay resent %d old messages in 100 ticks, want about 2 a tick", n.replayed[3])
	}
	if n.replayedOthers[3] == 0 {
		t.Fatal("replay never resent another validator's message")
	}
	n.checkHonestProgress(20)
	for _, i := range n.honest() {
		if len(n.evidence[i]) > 0 {
			t.Fatalf("validator %d took replayed messages for equivocation: %+v", i, n.evidence[i])
		}
	}
}

// flood sends junk every tick; an honest core drops each piece, changes
// no state and moves to no other round.
func TestFlood(t *testing.T) {
	const ticks, perTick = 10, 4
	k := newKeys(4)
	slow := func(c *consensus.Config) { c.BaseTimeout = 1000 } // the flooder's honest core stays quiet
	f, err := byzantine.New("flood", byzantine.Options{Config: k.config(3, slow)})
	if err != nil {
		t.Fatal(err)
	}
	f.Ready()
	for _, i := range []uint32{0, 2} { // a plain validator and the next leader (votes go to it)
		c, err := consensus.New(k.config(i, nil))
		if err != nil {
			t.Fatal(err)
		}
		c.Ready()
		round, junk := c.Round(), 0
		for range ticks {
			f.Tick()
			ms := f.Ready().Messages
			if len(ms) != perTick {
				t.Fatalf("flood sent %d messages in a tick, want %d", len(ms), perTick)
			}
			for _, m := range ms {
				before := totalDropped(c)
				m.From, m.To = 3, i
				c.Step(m)
				if r := c.Ready(); !r.IsEmpty() {
					t.Fatalf("validator %d reacted to junk %s: %+v", i, m.Kind(), r)
				}
				if m.BlockRequest == nil && totalDropped(c) != before+1 {
					t.Fatalf("validator %d did not drop junk %s", i, m.Kind())
				}
				junk++
			}
		}
		if c.Round() != round {
			t.Fatalf("validator %d moved from round %d to %d on junk", i, round, c.Round())
		}
	}
	n := newNetwork(t, map[uint32]string{3: "flood"}, nil)
	n.run(100)
	n.checkHonestProgress(20)
}

// equivocate as leader shows one block to each half of the honest
// validators, then the other block to everyone late; honest validators
// that see both report the double proposal.
func TestEquivocate(t *testing.T) {
	n := newNetwork(t, map[uint32]string{1: "equivocate"}, nil)
	n.run(30)
	first := map[uint32]chain.Hash{} // honest validator -> first round-1 block it received
	blocks := map[chain.Hash]bool{}
	for _, i := range n.honest() {
		for _, m := range n.recv[i] {
			if m.Proposal != nil && m.Proposal.Block.Round == 1 && m.Proposal.Block.Proposer == 1 {
				h := m.Proposal.Block.Hash(chainID)
				blocks[h] = true
				if _, ok := first[i]; !ok {
					first[i] = h
				}
			}
		}
	}
	// The honest validators are 0, 2 and 3; the halves are {0} and {2, 3}.
	if len(blocks) != 2 || len(first) != 3 || first[0] == first[2] || first[2] != first[3] {
		t.Fatalf("%d distinct round-1 blocks; first seen by 0, 2, 3: %v %v %v", len(blocks), first[0].Short(), first[2].Short(), first[3].Short())
	}
	for _, i := range n.honest() {
		found := false
		for _, e := range n.evidence[i] {
			found = found || e.Kind == chain.DoubleProposal && e.Validator == 1 && e.Round == 1
		}
		if !found {
			t.Errorf("validator %d saw both blocks and reported no double proposal: %+v", i, n.evidence[i])
		}
	}
}

// Every behaviour reports its core's round and the round's leader, so a
// Byzantine node's status and events say where it is like any other's.
func TestBehavioursReportTheirRound(t *testing.T) {
	type rounder interface {
		Round() uint64
		Leader(uint64) uint32
	}
	k := newKeys(4)
	for _, name := range byzantine.Names() {
		r, err := byzantine.New(name, byzantine.Options{Config: k.config(1, nil), Colluders: []uint32{1}})
		if err != nil {
			t.Fatal(err)
		}
		ro, ok := r.(rounder)
		if !ok {
			t.Errorf("%s does not report its round", name)
			continue
		}
		if ro.Round() == 0 || ro.Leader(5) != 1 {
			t.Errorf("%s: round %d, leader of round 5 %d", name, ro.Round(), ro.Leader(5))
		}
	}
}
