package sim

import (
	"container/heap"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

// ChainID is the chain id of every simulated network.
const ChainID = "strategos-sim"

// Config describes one simulated run.
type Config struct {
	Nodes     int    // validators, equal power
	Byzantine int    // how many (the highest indices) run Behavior
	Behavior  string // a byzantine behaviour name
	Heights   uint64 // every honest validator must commit this many blocks
	Seed      uint64

	// Calm turns off everything hostile: no loss, no partition, no crash,
	// no long delays. Useful for benchmarks and for isolating a fault.
	Calm bool
	// GST is when the network stabilises, in virtual milliseconds
	// (default 1500): partitions heal, loss stops, delays are bounded.
	GST int64
	// Outage, if set, takes one validator down for a set interval, on top
	// of any random crash: long outages exercise catch-up by height.
	Outage *Outage
	// Unsafe disables safety rules in honest validators, so tests can
	// show that the checkers catch what follows.
	Unsafe consensus.UnsafeRules

	// Duration, if positive, runs for this many virtual milliseconds
	// instead of until Heights (then ignored) and records a Trace of
	// commits (duration.go).
	Duration int64
	// Flap, if set, takes one honest validator down and up alternately.
	Flap *Flap
}

// Outage is a crash of one validator From virtual milliseconds into the
// run, and its restart from what it persisted at To.
type Outage struct {
	Node     int
	From, To int64
}

// Result is the outcome of one run.
type Result struct {
	Seed      uint64
	Violation string // the first safety violation found, or ""
	Stalled   bool   // some honest validator missed Heights by the deadline
	MinHeight uint64 // lowest committed height among honest validators
	Time      int64  // virtual milliseconds simulated
	Messages  int    // messages sent
	Evidence  int    // evidence values reported by honest validators
	Syncs     int    // catch-up requests (by height) sent
	Trace     *Trace // with Config.Duration: the timeline of commits
}

// Failed reports whether the run violated safety or liveness.
func (r Result) Failed() bool { return r.Violation != "" || r.Stalled }

func (c *Config) check() error {
	switch {
	case c.Nodes < 1:
		return fmt.Errorf("sim: need at least 1 validator, got %d", c.Nodes)
	case c.Nodes > 100:
		return fmt.Errorf("sim: at most 100 validators, got %d", c.Nodes)
	case c.Byzantine < 0 || c.Byzantine > c.Nodes:
		return fmt.Errorf("sim: byzantine count %d out of range 0..%d", c.Byzantine, c.Nodes)
	case c.Byzantine == c.Nodes:
		return errors.New("sim: at least one validator must be honest")
	case c.Heights < 1 && c.Duration <= 0:
		return errors.New("sim: heights must be at least 1")
	case c.Heights > 100_000:
		return errors.New("sim: at most 100000 heights")
	case c.Byzantine > 0 && !byzantine.Valid(c.Behavior):
		return fmt.Errorf("sim: unknown behaviour %q", c.Behavior)
	}
	if c.GST <= 0 {
		c.GST = 1500
	}
	return c.checkDuration()
}

type node struct {
	replica consensus.Replica
	store   *memStore
	byz     bool
	crashed bool
	votes   map[uint64]chain.Hash // rounds this honest validator voted in
}

type run struct {
	cfg      Config
	vals     *chain.ValidatorSet
	keys     []ed25519.PrivateKey
	verifier *memoVerifier
	nodes    []*node
	net      *network
	events   queue
	seq      uint64
	now      int64
	deadline int64

	canonical []chain.Hash              // the honest chain: canonical[h-1]
	proposed  map[chain.Hash]bool       // every block any validator proposed
	seenBlock map[*chain.Block]struct{} // proposals already hashed
	res       Result
}

// Key returns the deterministic ed25519 key of simulated validator i.
func Key(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("strategos-sim-key"), uint64(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

// Run simulates one seeded schedule and checks it.
func Run(cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	r := &run{
		cfg:       cfg,
		verifier:  &memoVerifier{seen: make(map[string]bool)},
		proposed:  make(map[chain.Hash]bool),
		seenBlock: make(map[*chain.Block]struct{}),
		res:       Result{Seed: cfg.Seed},
	}
	vals := make([]chain.Validator, cfg.Nodes)
	byz := make([]bool, cfg.Nodes)
	for i := range vals {
		r.keys = append(r.keys, Key(i))
		vals[i] = chain.Validator{PubKey: r.keys[i].Public().(ed25519.PublicKey), Power: 1}
		byz[i] = i >= cfg.Nodes-cfg.Byzantine
	}
	var err error
	if r.vals, err = chain.NewValidatorSet(vals); err != nil {
		return Result{}, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	r.net = newNetwork(rng, cfg.Nodes, byz, cfg.GST, !cfg.Calm)
	r.deadline = cfg.GST + 5000 + int64(cfg.Heights)*100*int64(max(cfg.Nodes, 4))
	for i := range cfg.Nodes {
		r.nodes = append(r.nodes, &node{store: newMemStore(ChainID), byz: byz[i], votes: make(map[uint64]chain.Hash)})
		if err := r.start(i); err != nil {
			return Result{}, err
		}
		r.schedule(&event{at: rng.Int64N(tickMillis), kind: evTick, node: i})
	}
	if !cfg.Calm && rng.IntN(3) == 0 {
		victim := rng.IntN(cfg.Nodes - cfg.Byzantine)
		down := rng.Int64N(cfg.GST)
		r.schedule(&event{at: down, kind: evCrash, node: victim})
		r.schedule(&event{at: down + 50 + rng.Int64N(1000), kind: evRestart, node: victim})
	}
	if o := cfg.Outage; o != nil {
		if o.Node < 0 || o.Node >= cfg.Nodes-cfg.Byzantine || o.To <= o.From {
			return Result{}, fmt.Errorf("sim: outage %+v must name an honest validator and end after it starts", *o)
		}
		r.schedule(&event{at: o.From, kind: evCrash, node: o.Node})
		r.schedule(&event{at: o.To, kind: evRestart, node: o.Node})
	}
	r.durationSetup()
	for i := range r.nodes {
		r.drain(i)
	}
	r.loop()
	return r.res, nil
}

// start creates validator i's replica from its store: at genesis the first
// time, from its persisted state after a crash.
func (r *run) start(i int) error {
	n := r.nodes[i]
	cfg := consensus.Config{
		ChainID:    ChainID,
		Validators: r.vals,
		Self:       uint32(i),
		Signer:     chain.Ed25519Signer{Key: r.keys[i]},
		Verifier:   r.verifier,
		Source:     &source{r: r, node: i},
		Storage:    n.store,
	}
	if !n.byz {
		cfg.Unsafe = r.cfg.Unsafe
		c, err := consensus.New(cfg)
		n.replica = c
		return err
	}
	var colluders []uint32
	for j := r.cfg.Nodes - r.cfg.Byzantine; j < r.cfg.Nodes; j++ {
		colluders = append(colluders, uint32(j))
	}
	rep, err := byzantine.New(r.cfg.Behavior, byzantine.Options{
		Config:    cfg,
		Colluders: colluders,
		Rand:      rand.New(rand.NewPCG(r.cfg.Seed, uint64(1000+i))),
	})
	n.replica = rep
	return err
}

func (r *run) loop() {
	for r.events.Len() > 0 && r.res.Violation == "" {
		e := heap.Pop(&r.events).(*event)
		if e.at > r.deadline {
			break
		}
		r.now = e.at
		n := r.nodes[e.node]
		switch e.kind {
		case evDeliver:
			if n.crashed {
				continue
			}
			n.replica.Step(e.msg)
		case evTick:
			if n.crashed {
				continue
			}
			n.replica.Tick()
			r.schedule(&event{at: r.now + tickMillis, kind: evTick, node: e.node})
		case evCrash:
			if n.crashed {
				continue
			}
			n.crashed = true
			n.replica = nil
			continue
		case evRestart:
			if !n.crashed {
				continue
			}
			n.crashed = false
			if err := r.start(e.node); err != nil {
				r.res.Violation = "restart failed: " + err.Error()
				return
			}
			r.schedule(&event{at: r.now + tickMillis, kind: evTick, node: e.node})
		}
		r.drain(e.node)
		if r.checkInvariants(e.node); r.res.Violation != "" {
			break
		}
		if r.done() {
			break
		}
	}
	r.finish()
}

// checkInvariants fails the run, loudly, if an honest core's state breaks
// what must always hold (see consensus.Core.CheckInvariants).
func (r *run) checkInvariants(i int) {
	n := r.nodes[i]
	if n.byz || n.replica == nil {
		return
	}
	if c, ok := n.replica.(*consensus.Core); ok {
		if err := c.CheckInvariants(); err != nil {
			r.res.Violation = fmt.Sprintf("validator %d at %d ms: %v", i, r.now, err)
		}
	}
}

// drain applies a replica's Ready in the order the core requires: persist,
// then send, then commit.
func (r *run) drain(i int) {
	n := r.nodes[i]
	if n.replica == nil {
		return
	}
	rd := n.replica.Ready()
	n.store.persist(&rd)
	for _, m := range rd.Messages {
		r.observe(i, m)
		if m.To == consensus.Broadcast {
			for j := range r.nodes {
				if j != i {
					r.send(i, j, m)
				}
			}
		} else if int(m.To) < len(r.nodes) && int(m.To) != i {
			r.send(i, int(m.To), m)
		}
	}
	for _, c := range rd.Committed {
		r.commit(i, c)
	}
	if !n.byz {
		r.res.Evidence += len(rd.Evidence)
	}
}

func (r *run) send(from, to int, m consensus.Message) {
	r.res.Messages++
	if m.SyncRequest != nil {
		r.res.Syncs++
	}
	d, ok := r.net.fate(r.now, from, to)
	if !ok {
		return
	}
	m.From, m.To = uint32(from), uint32(to)
	r.schedule(&event{at: r.now + d, kind: evDeliver, node: to, msg: m})
}

// observe records what validators sign and propose, for the checkers.
func (r *run) observe(i int, m consensus.Message) {
	if p := m.Proposal; p != nil && p.Block != nil {
		if _, ok := r.seenBlock[p.Block]; !ok {
			r.seenBlock[p.Block] = struct{}{}
			r.proposed[p.Block.Hash(ChainID)] = true
		}
	}
	n := r.nodes[i]
	if v := m.Vote; v != nil && !n.byz && v.Voter == uint32(i) {
		if prev, ok := n.votes[v.Round]; ok && prev != v.BlockHash {
			r.res.Violation = fmt.Sprintf("honest validator %d voted for two blocks in round %d", i, v.Round)
		}
		n.votes[v.Round] = v.BlockHash
	}
}

// commit checks a commit against the honest chain and the node's own.
func (r *run) commit(i int, c consensus.Commit) {
	n := r.nodes[i]
	h := c.Block.Height
	if h != uint64(len(n.store.committed))+1 {
		r.res.Violation = fmt.Sprintf("validator %d committed height %d after height %d", i, h, len(n.store.committed))
		return
	}
	n.store.committed = append(n.store.committed, c.Hash)
	n.store.certs = append(n.store.certs, c.QC)
	n.store.blocks[c.Hash] = c.Block
	n.store.tip = c.Block
	if n.byz {
		return
	}
	if !r.proposed[c.Hash] {
		r.res.Violation = fmt.Sprintf("validator %d committed block %s at height %d that no validator proposed", i, c.Hash.Short(), h)
		return
	}
	if h <= uint64(len(r.canonical)) {
		if r.canonical[h-1] != c.Hash {
			r.res.Violation = fmt.Sprintf("validators disagree at height %d: %s and %s (validator %d)",
				h, r.canonical[h-1].Short(), c.Hash.Short(), i)
		}
		return
	}
	r.canonical = append(r.canonical, c.Hash)
	r.traceCommit(c)
}

func (r *run) done() bool {
	if r.cfg.Duration > 0 {
		return false // runs to the deadline
	}
	for _, n := range r.nodes {
		if !n.byz && uint64(len(n.store.committed)) < r.cfg.Heights {
			return false
		}
	}
	return true
}

func (r *run) finish() {
	r.res.Time = r.now
	r.res.MinHeight = ^uint64(0)
	for _, n := range r.nodes {
		if !n.byz {
			r.res.MinHeight = min(r.res.MinHeight, uint64(len(n.store.committed)))
		}
	}
	// Liveness is promised only with at most f traitors.
	if r.cfg.Duration > 0 {
		r.res.Stalled = r.res.Violation == "" && r.durationStalled()
		return
	}
	if r.res.Violation == "" && !r.done() && r.cfg.Byzantine <= quorum.MaxFaulty(r.cfg.Nodes) {
		r.res.Stalled = true
	}
}
