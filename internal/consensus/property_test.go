package consensus

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"pgregory.net/rapid"
)

// Property tests over fault schedules. rapid generates a schedule (see
// schedule_gen_test.go): 4 or 7 validators, up to f of them with faulty
// links, and up to 400 actions on the test network's in-flight messages
// and nodes. runSchedule plays it and checks after every action:
//
//	(a) agreement: committed sequences are prefixes of one another;
//	(b) no validator signs two votes, two proposals or two different
//	    timeouts for one round, across restarts too;
//	(c) commits come at consecutive heights, each block's parent being
//	    the previous commit, each with the QC that certifies it;
//	(d) persist before send: every Ready carrying a signed vote, timeout
//	    or proposal carries or follows a safety state covering its round
//	    (the harness's checkPersistBeforeSend, run on every Ready).
//
// Nodes with faulty links run honest code, so all of these are checked
// for them too. Then the network heals (crashed nodes restart, nothing is
// lost; faulty links stay faulty) and every node that can send must commit
// three more blocks within a bounded number of steps.
//
// Run more cases with -rapid.checks=N; a failure prints the schedule, and
// -rapid.seed reproduces it.

// TestPropertySchedules is the property test itself.
func TestPropertySchedules(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := genSchedule.Draw(rt, "schedule")
		if err := runSchedule(t, s, variant{}); err != nil {
			rt.Fatal(err)
		}
	})
}

// The properties have teeth: with the voting rule's round check switched
// off, some schedule makes a validator vote in a round it already voted or
// timed out in. The schedules are drawn from the same generator with fixed
// seeds, so the test is deterministic.
func TestPropertyTeethSkipVoteRoundCheck(t *testing.T) {
	err, seed := findViolation(t, variant{tune: func(c *Config) { c.Unsafe.SkipVoteRoundCheck = true }})
	if err == nil {
		t.Fatal("no schedule broke the properties with SkipVoteRoundCheck set")
	}
	// Either a second vote in a round, seen by (b), or a vote in a round
	// already covered by the persisted safety state, seen by the harness.
	if !strings.Contains(err.Error(), "(b)") && !strings.Contains(err.Error(), "after persisting last voted round") {
		t.Fatalf("seed %d: unexpected violation: %v", seed, err)
	}
	t.Logf("seed %d: %v", seed, err)
}

// The double-signing check (b) does not depend on the harness's
// persistence check: a validator restarted with its safety state lost
// (its other storage kept) signs a second vote or proposal for a round,
// and (b) reports it.
func TestPropertyTeethAmnesia(t *testing.T) {
	err, seed := findViolation(t, variant{amnesia: true})
	if err == nil {
		t.Fatal("no schedule broke the properties with amnesiac restarts")
	}
	if !strings.Contains(err.Error(), "(b)") && !strings.Contains(err.Error(), "(a)") {
		t.Fatalf("seed %d: unexpected violation: %v", seed, err)
	}
	t.Logf("seed %d: %v", seed, err)
}

// teethSeeds bounds the search for a counterexample.
const teethSeeds = 200

// findViolation plays schedules of fixed seeds until one fails.
func findViolation(t *testing.T, v variant) (error, int) {
	t.Helper()
	for seed := range teethSeeds {
		if err := runSchedule(t, genSchedule.Example(seed), v); err != nil {
			return err, seed
		}
	}
	return nil, -1
}

// variant tampers with the validators to show that the checks can fail.
type variant struct {
	tune    func(*Config) // applied to every validator's configuration
	amnesia bool          // restarts lose the safety state
}

// violation carries a property failure out of a schedule.
type violation struct{ msg string }

// failTB lets the harness report through runSchedule: its Fatalf and
// friends panic with a violation, which runSchedule returns as an error,
// instead of ending the enclosing test.
type failTB struct {
	testing.TB
	where *string
}

func (failTB) Helper()                             {}
func (b failTB) Fatalf(format string, args ...any) { b.fail(fmt.Sprintf(format, args...)) }
func (b failTB) Errorf(format string, args ...any) { b.fail(fmt.Sprintf(format, args...)) }
func (b failTB) Fatal(args ...any)                 { b.fail(fmt.Sprint(args...)) }
func (b failTB) Error(args ...any)                 { b.fail(fmt.Sprint(args...)) }
func (b failTB) FailNow()                          { b.fail("FailNow") }
func (b failTB) Fail()                             { b.fail("Fail") }
func (b failTB) fail(msg string)                   { panic(violation{*b.where + ": " + msg}) }

// player plays a schedule on a test network.
type player struct {
	tb      failTB
	s       schedule
	net     *testNet
	f       int
	armed   []bool // crash after the next non-empty Ready is persisted
	amnesia bool
	where   string

	votes     map[seenKey]chain.Hash     // (round, voter) -> block voted for
	proposals map[seenKey]chain.Hash     // (round, proposer) -> block proposed
	timeouts  map[seenKey]*chain.Timeout // (round, voter) -> timeout signed
}

// maxQueue bounds the messages in flight, so duplication cannot grow it
// without limit.
const maxQueue = 4096

func runSchedule(t testing.TB, s schedule, v variant) (err error) {
	p := &player{s: s, f: (s.n - 1) / 3, armed: make([]bool, s.n), amnesia: v.amnesia, where: "start",
		votes: map[seenKey]chain.Hash{}, proposals: map[seenKey]chain.Hash{}, timeouts: map[seenKey]*chain.Timeout{}}
	p.tb = failTB{TB: t, where: &p.where}
	defer func() {
		switch r := recover().(type) {
		case nil:
		case violation:
			err = errors.New(r.msg)
		default:
			panic(r)
		}
	}()
	p.net = newTestNet(p.tb, s.n, v.tune)
	p.check()
	for k, a := range s.actions {
		p.where = fmt.Sprintf("action %d (%v)", k, a)
		p.do(a)
		p.check()
	}
	p.heal()
	return nil
}

func (p *player) fail(format string, args ...any) { p.tb.Fatalf(format, args...) }

func (p *player) do(a action) {
	q := p.net.queue
	node := uint32(a.x % p.s.n)
	switch a.op {
	case opDeliverFirst:
		if len(q) > 0 {
			p.deliver(0)
		}
	case opDeliver:
		if len(q) > 0 {
			p.deliver(a.x % len(q))
		}
	case opDrop:
		if len(q) > 0 {
			p.net.queue = slices.Delete(q, a.x%len(q), a.x%len(q)+1)
		}
	case opDuplicate:
		if len(q) > 0 && len(q) < maxQueue {
			p.net.queue = append(q, q[a.x%len(q)])
		}
	case opDefer:
		if len(q) > 0 {
			m := q[a.x%len(q)]
			p.net.queue = append(slices.Delete(q, a.x%len(q), a.x%len(q)+1), m)
		}
	case opTick:
		p.tick(node)
	case opTickAll:
		for i := range uint32(p.s.n) {
			p.tick(i)
		}
	case opCrash, opCrashMid:
		if p.net.down[node] || p.armed[node] || p.faulty() >= p.f {
			return
		}
		if a.op == opCrash {
			p.net.crash(node)
		} else {
			p.armed[node] = true
		}
	case opRestart:
		if p.net.down[node] {
			p.restart(node)
		}
	}
}

// faulty counts the nodes that are down or about to crash.
func (p *player) faulty() int {
	k := 0
	for i := range p.s.n {
		if p.net.down[i] || p.armed[i] {
			k++
		}
	}
	return k
}

func (p *player) tick(i uint32) {
	if !p.net.down[i] {
		p.net.cores[i].Tick()
		p.emit(i)
	}
}

func (p *player) restart(i uint32) {
	if p.amnesia {
		p.net.stores[i].safety = SafetyState{}
	}
	c, err := New(p.net.cfgs[i])
	if err != nil {
		p.fail("restart node %d: %v", i, err)
	}
	p.net.cores[i], p.net.down[i] = c, false
	p.emit(i)
}

// deliver removes message k from the queue and hands it to its recipient
// as the sender's link allows.
func (p *player) deliver(k int) {
	m := p.net.queue[k]
	p.net.queue = slices.Delete(p.net.queue, k, k+1)
	copies := 1
	switch p.s.links[m.From] {
	case linkSilent:
		return
	case linkSome:
		if p.s.mask[m.From]&(1<<m.To) == 0 {
			return
		}
	case linkTwice:
		copies = 2
	}
	for range copies {
		if p.net.down[m.To] {
			return
		}
		p.net.handled[m.Kind()]++
		p.net.cores[m.To].Step(m)
		p.emit(m.To)
	}
}

// emit collects node i's Ready, checks (b) and (c) on it, and hands it to
// the harness, which checks (d), persists it and sends its messages, or,
// for an armed crash, persists it and stops the node before it sends.
func (p *player) emit(i uint32) {
	r := p.net.cores[i].Ready()
	p.checkSigned(i, r)
	p.checkCommits(i, r)
	if p.armed[i] && !r.IsEmpty() {
		p.armed[i] = false
		p.net.crash(i)
	}
	p.net.handle(i, r)
}

// checkSigned is property (b).
func (p *player) checkSigned(i uint32, r Ready) {
	for _, m := range r.Messages {
		switch {
		case m.Vote != nil && m.Vote.Voter == i:
			k := seenKey{m.Vote.Round, i}
			if h, ok := p.votes[k]; ok {
				what := "a different block"
				if h == m.Vote.BlockHash {
					what = "the same block again"
				}
				p.fail("(b) node %d signed a second vote in round %d, for %s", i, k.round, what)
			}
			p.votes[k] = m.Vote.BlockHash
		case m.Proposal != nil && m.Proposal.Block.Proposer == i:
			k := seenKey{m.Proposal.Block.Round, i}
			if _, ok := p.proposals[k]; ok {
				p.fail("(b) node %d signed a second proposal in round %d", i, k.round)
			}
			p.proposals[k] = m.Proposal.Block.Hash(testChainID)
		case m.Timeout != nil && m.Timeout.Voter == i:
			k := seenKey{m.Timeout.Round, i}
			old, ok := p.timeouts[k]
			if ok && (old.HighQC.Round != m.Timeout.HighQC.Round || !bytes.Equal(old.Sig, m.Timeout.Sig)) {
				p.fail("(b) node %d signed two different timeouts in round %d", i, k.round)
			}
			p.timeouts[k] = m.Timeout
		}
	}
}

// checkCommits is property (c), checked on a Ready before the store
// applies it.
func (p *player) checkCommits(i uint32, r Ready) {
	done := p.net.stores[i].committed
	parent := p.net.genesis
	if len(done) > 0 {
		parent = done[len(done)-1]
	}
	for k, c := range r.Committed {
		want := uint64(len(done) + k + 1)
		switch {
		case c.Block.Height != want:
			p.fail("(c) node %d committed height %d after height %d", i, c.Block.Height, want-1)
		case c.Block.Parent != parent:
			p.fail("(c) node %d committed a block at height %d whose parent is not its previous commit", i, want)
		case c.Hash != c.Block.Hash(testChainID) || c.QC == nil || c.QC.BlockHash != c.Hash:
			p.fail("(c) node %d committed height %d with a wrong hash or certificate", i, want)
		}
		parent = c.Hash
	}
}

// check runs the network-wide checks after an action: (a), and the
// harness's own count of signatures for (b).
func (p *player) check() {
	p.net.checkAgreement()
	if d := p.net.doubleSigned(); len(d) > 0 {
		p.fail("(b) harness counted double signing: %v", d)
	}
}

// heal restarts crashed nodes, delivers everything in order, ticks every
// node, and requires every node that can send to commit 3 more blocks.
func (p *player) heal() {
	p.where = "healing"
	for i := range uint32(p.s.n) {
		p.armed[i] = false
		if p.net.down[i] {
			p.restart(i)
		}
	}
	base := make([]int, p.s.n)
	for i := range base {
		base[i] = len(p.net.committed(uint32(i)))
	}
	// Enough for several rounds at the longest timeout; a healthy network
	// needs far fewer steps, and the loop stops as soon as it is done.
	budget := 6 * p.net.cores[0].cfg.MaxTimeout
	for step := range budget {
		p.where = fmt.Sprintf("healing, step %d", step)
		for i := range uint32(p.s.n) {
			p.tick(i)
		}
		for k := len(p.net.queue); k > 0 && len(p.net.queue) > 0; k-- {
			p.deliver(0)
		}
		p.check()
		if p.live(base) == -1 {
			return
		}
	}
	i := p.live(base)
	p.fail("(liveness) node %d committed %d blocks in %d steps after healing, want 3", i, len(p.net.committed(uint32(i)))-base[i], budget)
}

// live returns a node that can send and has not yet committed 3 blocks
// more than base, or -1.
func (p *player) live(base []int) int {
	for i := range p.s.n {
		if p.s.links[i] == linkSilent || p.s.links[i] == linkSome && p.s.mask[i]&^(1<<i) == 0 {
			continue
		}
		if len(p.net.committed(uint32(i))) < base[i]+3 {
			return i
		}
	}
	return -1
}
