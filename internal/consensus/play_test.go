package consensus

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// Playing a schedule of property_test.go on the test network, and the
// checks made after every action.

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

// memoVerifier checks each (key, message, signature) once for all the
// validators of a schedule: the answer cannot change, and the checks
// dominate the run time.
type memoVerifier map[string]bool

func (m memoVerifier) Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	k := fmt.Sprintf("%x/%x/%x", pub, sig, msg)
	ok, seen := m[k]
	if !seen {
		ok = chain.Ed25519Verifier{}.Verify(pub, msg, sig)
		m[k] = ok
	}
	return ok
}

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
	memo := memoVerifier{}
	p.net = newTestNet(p.tb, s.n, func(c *Config) {
		c.Verifier = memo
		if v.tune != nil {
			v.tune(c)
		}
	})
	seen := map[any]bool{} // what the nodes signed as they started, once per broadcast
	for _, m := range p.net.queue {
		if key := payload(m); !seen[key] {
			seen[key] = true
			p.checkSigned(m.From, Ready{Messages: []Message{m}})
		}
	}
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

// emit collects node i's Ready, checks (b), (c) and (d) on it, and hands
// it to the harness, which persists it and sends its messages, or, for an
// armed crash, persists it and stops the node before it sends.
func (p *player) emit(i uint32) {
	r := p.net.cores[i].Ready()
	p.checkSigned(i, r)
	p.checkCommits(i, r)
	if err := checkPersistBeforeSend(i, p.net.stores[i].safety, r); err != nil {
		p.fail("(d) node %d: %v", i, err)
	}
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
			if _, ok := p.timeouts[k]; ok {
				p.fail("(b) node %d signed a vote in round %d after timing out in it", i, k.round)
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
			// A validator re-signs its timeout for a round only when its
			// high QC has risen; it never reports a lower one.
			old, ok := p.timeouts[k]
			if ok && (m.Timeout.HighQC.Round < old.HighQC.Round ||
				old.HighQC.Round == m.Timeout.HighQC.Round && !bytes.Equal(old.Sig, m.Timeout.Sig)) {
				p.fail("(b) node %d signed a timeout in round %d with a lower or conflicting high QC", i, k.round)
			}
			p.timeouts[k] = m.Timeout
		}
	}
}

// payload identifies a message's content; the copies of a broadcast share it.
func payload(m Message) any {
	switch {
	case m.Proposal != nil:
		return m.Proposal
	case m.Vote != nil:
		return m.Vote
	case m.Timeout != nil:
		return m.Timeout
	}
	return nil
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
	longest := 0
	for i := range p.s.n {
		if len(p.net.committed(uint32(i))) > len(p.net.committed(uint32(longest))) {
			longest = i
		}
	}
	all := p.net.committed(uint32(longest))
	for i := range p.s.n {
		for h, x := range p.net.committed(uint32(i)) {
			if x != all[h] {
				p.fail("(a) nodes %d and %d committed different blocks at height %d", i, longest, h+1)
			}
		}
	}
	if d := p.net.doubleSigned(); len(d) > 0 {
		p.fail("(b) harness counted double signing: %v", d)
	}
}

// heal restarts crashed nodes, then ticks every node and delivers
// everything in order, and requires progress (see live).
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

// live returns a validator that must make progress but has not yet
// committed 3 blocks more than base, or -1. Validators whose messages reach
// only some peers, or none, are exempt: such a validator may be unable to
// fetch a block it missed.
func (p *player) live(base []int) int {
	for i := range p.s.n {
		if p.s.links[i] != linkSilent && p.s.links[i] != linkSome && len(p.net.committed(uint32(i))) < base[i]+3 {
			return i
		}
	}
	return -1
}
