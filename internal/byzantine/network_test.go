package byzantine_test

import (
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// A small deterministic network for the behaviour tests: fixed keys,
// in-order delivery with one tick of latency, no storage. It records what
// every validator sent, received, committed and reported.

const chainID = "strategos-byzantine-test"

type keys struct {
	priv []ed25519.PrivateKey
	vals *chain.ValidatorSet
}

func newKeys(n int) keys {
	var k keys
	vs := make([]chain.Validator, n)
	for i := range n {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		k.priv = append(k.priv, ed25519.NewKeyFromSeed(seed))
		vs[i] = chain.Validator{PubKey: k.priv[i].Public().(ed25519.PublicKey), Power: 1}
	}
	vals, err := chain.NewValidatorSet(vs)
	if err != nil {
		panic(err)
	}
	k.vals = vals
	return k
}

// config is validator i's honest configuration, without storage.
func (k keys) config(i uint32, tune func(*consensus.Config)) consensus.Config {
	cfg := consensus.Config{
		ChainID: chainID, Validators: k.vals, Self: i,
		Signer: chain.Ed25519Signer{Key: k.priv[i]}, Source: &fakeSource{self: i},
		// These tests script which validator leads which round; the
		// simulator runs the behaviours under the real leader rule.
		Election: consensus.RoundRobin{N: k.vals.Len()},
	}
	if tune != nil {
		tune(&cfg)
	}
	return cfg
}

// fakeSource always has transactions to propose.
type fakeSource struct {
	self  uint32
	clock int64
}

func (s *fakeSource) Payload(height uint64, branch []*chain.Block) ([][]byte, []chain.Evidence) {
	return [][]byte{fmt.Appendf(nil, "tx height=%d by=%d branch=%d", height, s.self, len(branch))}, nil
}
func (s *fakeSource) Time() int64                            { s.clock++; return s.clock }
func (s *fakeSource) Executed(*chain.Block) (uint64, []byte) { return 0, nil }
func (s *fakeSource) HasTxs() bool                           { return true }

type network struct {
	t     *testing.T
	keys  keys
	kind  map[uint32]string // Byzantine validators and their behaviours
	reps  []consensus.Replica
	queue []consensus.Message

	sent     [][]consensus.Message // as each validator emitted them
	recv     [][]consensus.Message // as delivered to each validator
	commits  [][]consensus.Commit
	evidence [][]chain.Evidence

	seen           []map[any]bool // payloads each validator sent or received
	replayed       []int          // messages sent again after being sent or received
	replayedOthers []int          // of which signed by another validator
}

func newNetwork(t *testing.T, kind map[uint32]string, tune func(*consensus.Config)) *network {
	t.Helper()
	const n = 4
	net := &network{t: t, keys: newKeys(n), kind: kind,
		sent: make([][]consensus.Message, n), recv: make([][]consensus.Message, n),
		commits: make([][]consensus.Commit, n), evidence: make([][]chain.Evidence, n),
		seen: make([]map[any]bool, n), replayed: make([]int, n), replayedOthers: make([]int, n)}
	var colluders []uint32
	for i := range uint32(n) {
		if _, ok := kind[i]; ok {
			colluders = append(colluders, i)
		}
	}
	for i := range uint32(n) {
		name, ok := kind[i]
		if !ok {
			name = byzantine.Honest
		}
		r, err := byzantine.New(name, byzantine.Options{Config: net.keys.config(i, tune), Colluders: colluders,
			Rand: rand.New(rand.NewPCG(1, uint64(i)))})
		if err != nil {
			t.Fatalf("validator %d (%s): %v", i, name, err)
		}
		net.reps = append(net.reps, r)
		net.seen[i] = map[any]bool{}
	}
	for i := range uint32(n) {
		net.collect(i)
	}
	return net
}

func (n *network) honest() []uint32 {
	var out []uint32
	for i := range uint32(len(n.reps)) {
		if _, ok := n.kind[i]; !ok {
			out = append(out, i)
		}
	}
	return out
}

func (n *network) core(i uint32) *consensus.Core { return n.reps[i].(*consensus.Core) }

// collect takes validator i's Ready, records it and queues its messages;
// the transport stamps the sender.
func (n *network) collect(i uint32) {
	r := n.reps[i].Ready()
	n.commits[i] = append(n.commits[i], r.Committed...)
	n.evidence[i] = append(n.evidence[i], r.Evidence...)
	for _, m := range r.Messages {
		n.sent[i] = append(n.sent[i], m)
		if p := payload(m); p != nil && n.seen[i][p] {
			n.replayed[i]++
			if signer(m) != i {
				n.replayedOthers[i]++
			}
		}
		m.From = i
		for j := range uint32(len(n.reps)) {
			if j != i && (m.To == consensus.Broadcast || m.To == j) {
				mm := m
				mm.To = j
				n.queue = append(n.queue, mm)
			}
		}
	}
	for _, m := range r.Messages {
		n.seen[i][payload(m)] = true
	}
}

// step ticks every validator, then delivers what was queued before.
func (n *network) step() {
	for i := range uint32(len(n.reps)) {
		n.reps[i].Tick()
		n.collect(i)
	}
	q := n.queue
	n.queue = nil
	for _, m := range q {
		n.recv[m.To] = append(n.recv[m.To], m)
		n.seen[m.To][payload(m)] = true
		n.reps[m.To].Step(m)
		n.collect(m.To)
	}
}

func (n *network) run(steps int) {
	for range steps {
		n.step()
	}
}

// received counts the messages delivered to i that match.
func (n *network) received(i uint32, match func(consensus.Message) bool) int {
	k := 0
	for _, m := range n.recv[i] {
		if match(m) {
			k++
		}
	}
	return k
}

// checkHonestProgress requires every honest validator to have committed at
// least want blocks, all on one chain.
func (n *network) checkHonestProgress(want int) {
	n.t.Helper()
	hs := n.honest()
	for _, i := range hs {
		if len(n.commits[i]) < want {
			n.t.Errorf("validator %d committed %d blocks, want at least %d", i, len(n.commits[i]), want)
		}
		for _, j := range hs {
			a, b := n.commits[i], n.commits[j]
			for h := range min(len(a), len(b)) {
				if a[h].Hash != b[h].Hash {
					n.t.Fatalf("validators %d and %d committed different blocks at height %d", i, j, h+1)
				}
			}
		}
	}
}

func payload(m consensus.Message) any {
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

func signer(m consensus.Message) uint32 {
	switch {
	case m.Proposal != nil && m.Proposal.Block != nil:
		return m.Proposal.Block.Proposer
	case m.Vote != nil:
		return m.Vote.Voter
	case m.Timeout != nil:
		return m.Timeout.Voter
	}
	return m.From
}

func roundOf(m consensus.Message) uint64 {
	switch {
	case m.Proposal != nil && m.Proposal.Block != nil:
		return m.Proposal.Block.Round
	case m.Vote != nil:
		return m.Vote.Round
	case m.Timeout != nil:
		return m.Timeout.Round
	}
	return 0
}

func totalDropped(c *consensus.Core) int {
	k := 0
	for _, v := range c.Stats().Dropped {
		k += v
	}
	return k
}

func (s *fakeSource) Check(*chain.Block) error { return nil }
