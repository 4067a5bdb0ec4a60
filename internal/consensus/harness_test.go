package consensus

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// A small deterministic network of Cores for tests: fixed keys, FIFO
// delivery, one tick of latency, optional drop filters, and an in-memory
// Storage per validator that applies every Ready in the documented order.
// Every Ready is checked for persist-before-send on the way out
// (checkPersistBeforeSend, in core_test.go).

const testChainID = "strategos-test"

type testNet struct {
	tb      testing.TB
	keys    []ed25519.PrivateKey
	vals    *chain.ValidatorSet
	genesis chain.Hash
	cfgs    []Config
	cores   []*Core
	stores  []*memStore
	down    []bool // crashed: not ticked, receives nothing, sends nothing
	queue   []Message
	steps   int

	drop    func(m Message) bool       // if set, matching messages are lost
	observe func(i uint32, r Ready)    // sees each Ready after it is persisted
	sent    map[string]int             // kind -> messages handed to the network
	handled map[string]int             // kind -> messages stepped into a core
	signed  map[string]map[seenKey]int // "vote"/"proposal" -> (round, signer) -> times signed
}

func newTestNet(tb testing.TB, n int, tune func(*Config)) *testNet {
	tb.Helper()
	net := &testNet{tb: tb, sent: map[string]int{}, handled: map[string]int{},
		signed: map[string]map[seenKey]int{"vote": {}, "proposal": {}}}
	vs := make([]chain.Validator, n)
	for i := range n {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		net.keys = append(net.keys, ed25519.NewKeyFromSeed(seed))
		vs[i] = chain.Validator{PubKey: net.keys[i].Public().(ed25519.PublicKey), Power: 1}
	}
	vals, err := chain.NewValidatorSet(vs)
	if err != nil {
		tb.Fatal(err)
	}
	net.vals = vals
	net.genesis = chain.Genesis(testChainID, vals).Hash(testChainID)
	for i := range n {
		st := &memStore{genesis: net.genesis, blocks: map[chain.Hash]*chain.Block{}}
		cfg := Config{
			ChainID: testChainID, Validators: vals, Self: uint32(i),
			Signer: chain.Ed25519Signer{Key: net.keys[i]}, Source: &fakeSource{self: uint32(i)},
			Storage: st,
			// The protocol's unit tests script who leads each round; the
			// leader rule has its own tests (reputation_test.go, and the
			// simulator runs with it).
			Election: RoundRobin{N: n},
		}
		if tune != nil {
			tune(&cfg)
		}
		net.cfgs = append(net.cfgs, cfg)
		net.stores = append(net.stores, st)
		net.cores = append(net.cores, nil)
		net.down = append(net.down, false)
	}
	for i := range n {
		net.restart(uint32(i))
	}
	return net
}

// restart (re)creates validator i from what its storage holds.
func (n *testNet) restart(i uint32) {
	n.tb.Helper()
	c, err := New(n.cfgs[i])
	if err != nil {
		n.tb.Fatalf("node %d: %v", i, err)
	}
	n.cores[i], n.down[i] = c, false
	n.collect(i)
}

// crash stops validator i; called from observe, it loses the messages of
// the Ready being handled, which was already persisted.
func (n *testNet) crash(i uint32) { n.down[i] = true }

// collect takes validator i's Ready and handles it.
func (n *testNet) collect(i uint32) { n.tb.Helper(); n.handle(i, n.cores[i].Ready()) }

// handle checks validator i's Ready r, persists it, then sends.
func (n *testNet) handle(i uint32, r Ready) {
	n.tb.Helper()
	st := n.stores[i]
	if err := checkPersistBeforeSend(i, st.safety, r); err != nil {
		n.tb.Fatalf("node %d: %v", i, err)
	}
	if err := st.apply(r); err != nil {
		n.tb.Fatalf("node %d: %v", i, err)
	}
	for _, m := range r.Messages {
		switch {
		case m.Vote != nil && m.Vote.Voter == i:
			n.signed["vote"][seenKey{m.Vote.Round, i}]++
		case m.Proposal != nil && m.Proposal.Block.Proposer == i:
			n.signed["proposal"][seenKey{m.Proposal.Block.Round, i}]++
		}
	}
	if n.observe != nil {
		n.observe(i, r)
	}
	if n.down[i] {
		return
	}
	for _, m := range r.Messages {
		if m.From != i {
			n.tb.Fatalf("node %d sent a message from %d", i, m.From)
		}
		n.sent[m.Kind()]++
		if m.To != Broadcast {
			n.queue = append(n.queue, m)
			continue
		}
		for j := range n.cores {
			if uint32(j) != i {
				m.To = uint32(j)
				n.queue = append(n.queue, m)
			}
		}
	}
}

// deliverOne delivers the oldest queued message, unless it is dropped.
func (n *testNet) deliverOne() {
	m := n.queue[0]
	n.queue[0] = Message{}
	n.queue = n.queue[1:]
	if n.down[m.To] || (n.drop != nil && n.drop(m)) {
		return
	}
	n.handled[m.Kind()]++
	n.cores[m.To].Step(m)
	n.invariants(m.To)
	n.collect(m.To)
}

// invariants fails the test at once if core i broke an invariant, unless
// the test switched a safety rule off on purpose.
func (n *testNet) invariants(i uint32) {
	n.tb.Helper()
	if u := n.cfgs[i].Unsafe; u.SkipVoteRoundCheck || u.SkipCommitRoundCheck {
		return
	}
	if err := n.cores[i].CheckInvariants(); err != nil {
		n.tb.Fatalf("validator %d: %v", i, err)
	}
}

// step is one tick of time: every running core ticks, then everything
// queued so far is delivered; replies wait for the next step.
func (n *testNet) step() {
	n.steps++
	for i := range n.cores {
		if !n.down[i] {
			n.cores[i].Tick()
			n.invariants(uint32(i))
			n.collect(uint32(i))
		}
	}
	for k := len(n.queue); k > 0; k-- {
		n.deliverOne()
	}
}

func (n *testNet) run(steps int) {
	for range steps {
		n.step()
	}
}

// runUntil steps until cond holds, failing after max steps.
func (n *testNet) runUntil(max int, what string, cond func() bool) {
	n.tb.Helper()
	for range max {
		if cond() {
			return
		}
		n.step()
	}
	if !cond() {
		n.tb.Fatalf("after %d steps: still not %s", max, what)
	}
}

func (n *testNet) committed(i uint32) []chain.Hash { return n.stores[i].committed }

// checkAgreement fails unless every committed sequence is a prefix of every
// longer one.
func (n *testNet) checkAgreement() {
	n.tb.Helper()
	for i := range n.stores {
		for j := i + 1; j < len(n.stores); j++ {
			a, b := n.stores[i].committed, n.stores[j].committed
			for k := range min(len(a), len(b)) {
				if a[k] != b[k] {
					n.tb.Fatalf("nodes %d and %d committed different blocks at height %d", i, j, k+1)
				}
			}
		}
	}
}

// doubleSigned lists (kind, round, signer) that were signed more than once.
func (n *testNet) doubleSigned() []string {
	var out []string
	for kind, m := range n.signed {
		for k, c := range m {
			if c > 1 {
				out = append(out, fmt.Sprintf("%s round %d by %d, %d times", kind, k.round, k.validator, c))
			}
		}
	}
	return out
}

// memStore is an in-memory Storage that applies Readies.
type memStore struct {
	genesis   chain.Hash
	safety    SafetyState
	tip       *chain.Block
	blocks    map[chain.Hash]*chain.Block
	committed []chain.Hash
	certs     []*chain.QC
}

var _ Storage = (*memStore)(nil)

func (s *memStore) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	if h == 0 || h > uint64(len(s.committed)) {
		return nil, chain.Hash{}, nil, false
	}
	return s.blocks[s.committed[h-1]], s.committed[h-1], s.certs[h-1], true
}

func (s *memStore) SafetyState() SafetyState   { return s.safety }
func (s *memStore) CommittedTip() *chain.Block { return s.tip }
func (s *memStore) Block(h chain.Hash) (*chain.Block, bool) {
	b, ok := s.blocks[h]
	return b, ok
}

// apply persists r and checks that commits extend the committed chain.
func (s *memStore) apply(r Ready) error {
	if r.Safety != nil {
		s.safety = *r.Safety
	}
	for _, b := range r.Blocks {
		s.blocks[b.Hash(testChainID)] = b
	}
	for _, c := range r.Committed {
		want := uint64(len(s.committed) + 1)
		if c.Block.Height != want || c.Hash != c.Block.Hash(testChainID) {
			return fmt.Errorf("commit of height %d, want %d", c.Block.Height, want)
		}
		parent := s.genesis
		if len(s.committed) > 0 {
			parent = s.committed[len(s.committed)-1]
		}
		if c.Block.Parent != parent {
			return fmt.Errorf("committed block at height %d does not extend the last commit", want)
		}
		if c.QC == nil || c.QC.BlockHash != c.Hash {
			return fmt.Errorf("commit of height %d without its certificate", want)
		}
		s.tip = c.Block
		s.blocks[c.Hash] = c.Block
		s.committed = append(s.committed, c.Hash)
		s.certs = append(s.certs, c.QC)
	}
	return nil
}

// fakeSource makes small deterministic payloads.
type fakeSource struct {
	self  uint32
	clock int64
}

func (s *fakeSource) Payload(height uint64, branch []*chain.Block) ([][]byte, []chain.Evidence) {
	parent := "tip"
	if len(branch) > 0 {
		parent = fmt.Sprint(branch[0].Height)
	}
	return [][]byte{fmt.Appendf(nil, "tx height=%d by=%d parent=%s", height, s.self, parent)}, nil
}

func (s *fakeSource) Time() int64 { s.clock++; return s.clock }

func (s *fakeSource) Executed(*chain.Block) (uint64, []byte) { return 0, nil }

func (s *fakeSource) HasTxs() bool { return true }

func (s *fakeSource) Check(*chain.Block) error { return nil }
