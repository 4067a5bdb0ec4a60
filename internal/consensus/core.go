package consensus

import (
	"slices"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus/leader"
)

// Windows that bound the memory an adversary can make the core spend.
const (
	futureRounds = 1000 // how far ahead of the current round timeouts are kept
	// futureVoteRounds is how far ahead of the current round votes are
	// kept: a leader needs votes for its round only once it is close to
	// it, and is moved forward by certificates when far behind. It bounds
	// the votes held to one per voter for each round this validator
	// leads within it (a vote with its key is ~330 bytes).
	futureVoteRounds = 100
	// voteMemoryRounds is how long past votes are remembered for evidence:
	// votes go to everyone at once, so a double vote shows within a
	// round or two.
	voteMemoryRounds = 100
	maxPending       = 256  // proposals waiting for their parent
	maxOrphans       = 4096 // fetched blocks not yet connected to the tree
	maxFetchTries    = 8
	servedPerTick    = 4 // block requests served per peer per tick
	maxPendingQCs    = 64
	fetchRetryTicks  = 2 // in units of BaseTimeout
)

// EvidenceRounds is how long, in rounds, past proposals are remembered for
// evidence and how old a proposal may be to still be checked: a proposal a
// Byzantine leader sends one side late must still prove its double
// proposal, and rounds can pass at hundreds a second. A signed header is a
// few hundred bytes, one per round. The node's evidence window is the same.
const EvidenceRounds = 1000

// Replica is the shape of a validator as its drivers see it: the simulator
// and the node both drive a Replica, and Byzantine behaviours are Replicas
// that wrap an honest Core.
type Replica interface {
	Step(m Message)
	Tick()
	Ready() Ready
}

var _ Replica = (*Core)(nil)

// Core is one validator's consensus state machine. It is not safe for
// concurrent use; its driver serialises calls.
type Core struct {
	cfg     Config
	genesis chain.Hash
	elect   Election           // a fixed Election from Config, or nil
	rep     *leader.Reputation // the default rule, when elect is nil

	safety      SafetyState
	safetyDirty bool

	round        uint64
	highTC       *chain.TC
	ticksLeft    int
	failedRounds int
	proposed     uint64 // highest round this validator proposed in
	now          uint64 // ticks since start

	tree    map[chain.Hash]*chain.Block // blocks above the committed tip, and the tip
	tip     *chain.Block
	tipHash chain.Hash

	votes    map[uint64]*voteAgg
	timeouts map[uint64]*timeoutAgg

	seenProposals map[seenKey]seenProposal
	seenVotes     map[seenKey]*chain.Vote

	pendingProps map[chain.Hash][]*chain.Proposal // by missing parent
	pendingQCs   map[chain.Hash][]*chain.QC       // by missing block
	orphans      map[chain.Hash]*chain.Block
	fetching     map[chain.Hash]*fetchState
	syncing      *syncState
	pruned       Pruned     // the last peer that said it pruned what this validator asked for
	roundTicks   int        // ticks spent in the current round
	rounds       roundTimes // durations of recent rounds that ended in a QC
	proposeDue   bool       // a proposal attempt is due at the end of this input
	served       map[uint32]int

	verified map[chain.Hash]struct{}
	leaders  map[chain.Hash]*leaderSeq

	out   Ready
	stats Stats
	inv   invariantState
}

type seenKey struct {
	round     uint64
	validator uint32
}

// seenProposal is the first proposal seen from a (round, proposer), kept
// as its signed header: enough to prove a double proposal, and a few
// hundred bytes rather than the block's payload. After a double proposal
// is proven, first is nil and nothing more from that round's proposer is
// taken.
type seenProposal struct {
	hash  chain.Hash
	first *chain.SignedHeader
}

// New returns a Core that resumes from cfg.Storage, or starts at genesis.
func New(cfg Config) (*Core, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	genesis := chain.Genesis(cfg.ChainID, cfg.Validators)
	c := &Core{
		cfg:           cfg,
		genesis:       genesis.Hash(cfg.ChainID),
		tree:          make(map[chain.Hash]*chain.Block),
		votes:         make(map[uint64]*voteAgg),
		timeouts:      make(map[uint64]*timeoutAgg),
		seenProposals: make(map[seenKey]seenProposal),
		seenVotes:     make(map[seenKey]*chain.Vote),
		pendingProps:  make(map[chain.Hash][]*chain.Proposal),
		pendingQCs:    make(map[chain.Hash][]*chain.QC),
		orphans:       make(map[chain.Hash]*chain.Block),
		fetching:      make(map[chain.Hash]*fetchState),
		served:        make(map[uint32]int),
		verified:      make(map[chain.Hash]struct{}),
		leaders:       make(map[chain.Hash]*leaderSeq),
		stats:         Stats{Dropped: make(map[string]int)},
	}
	c.tip, c.tipHash = genesis, c.genesis
	if s := cfg.Storage; s != nil {
		c.safety = s.SafetyState()
		if t := s.CommittedTip(); t != nil {
			c.tip, c.tipHash = t, t.Hash(cfg.ChainID)
		}
	}
	c.elect = cfg.Election
	if c.elect == nil {
		c.rep = leader.New(cfg.ChainID, cfg.Validators, cfg.Reputation)
		c.loadLeaderHistory()
	}
	c.rounds.fill(max(1, cfg.BaseTimeout/roundsFactor)) // the timeout starts at BaseTimeout
	c.tree[c.tipHash] = c.tip
	if c.safety.HighQC == nil {
		c.safety.HighQC = chain.GenesisQC(c.genesis)
	}
	c.highTC = c.safety.HighTC
	c.reloadBranch()
	c.round = max(c.safety.HighQC.Round+1, c.safety.LastVotedRound, 1)
	if c.highTC != nil {
		c.round = max(c.round, c.highTC.Round+1)
	}
	c.ticksLeft = c.timeout()
	c.tryPropose()
	return c, nil
}

// loadLeaderHistory feeds the leader rule the latest committed blocks
// from storage, as far back as its windows read (HistoryNeeded): each
// block records its failed leaders, so nothing older is needed to draw the
// same leaders as validators that never restarted.
func (c *Core) loadLeaderHistory() {
	s := c.cfg.Storage
	if s == nil || c.tip.Height == 0 {
		return
	}
	var back []*chain.Block
	for h := c.tip.Height; h >= 1; h-- {
		b, _, _, ok := s.CommittedBlock(h)
		if !ok {
			break
		}
		back = append(back, b)
		if !c.rep.HistoryNeeded(len(back), b.Time, c.tip.Time) {
			break
		}
	}
	for i := len(back) - 1; i >= 0; i-- {
		c.rep.Commit(back[i])
	}
}

// reloadBranch rebuilds, from storage, the uncommitted branch that ends in
// the block certified by the persisted high QC.
func (c *Core) reloadBranch() {
	if c.cfg.Storage == nil || c.safety.HighQC.Round <= c.tip.Round {
		return
	}
	var branch []*chain.Block
	h := c.safety.HighQC.BlockHash
	for h != c.tipHash {
		b, ok := c.cfg.Storage.Block(h)
		if !ok || b.Height <= c.tip.Height {
			return // not connected to the tip: fetch it from peers instead
		}
		branch = append(branch, b)
		h = b.Parent
	}
	for i := len(branch) - 1; i >= 0; i-- {
		b := branch[i]
		c.tree[b.Hash(c.cfg.ChainID)] = b
	}
}

// Step feeds one message from a peer into the core.
func (c *Core) Step(m Message) {
	if !c.cfg.Validators.Has(m.From) || m.From == c.cfg.Self {
		c.drop("unknown sender")
		return
	}
	n := 0
	for _, set := range []bool{m.Proposal != nil, m.Vote != nil, m.Timeout != nil, m.BlockRequest != nil,
		m.BlockResponse != nil, m.SyncRequest != nil, m.SyncResponse != nil, m.QC != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		c.drop("malformed message")
		return
	}
	switch {
	case m.Proposal != nil:
		c.onProposal(m.Proposal, m.From)
	case m.Vote != nil:
		c.onVote(m.Vote, m.From)
	case m.Timeout != nil:
		c.onTimeout(m.Timeout, m.From)
	case m.BlockRequest != nil:
		c.onBlockRequest(m.BlockRequest, m.From)
	case m.BlockResponse != nil:
		c.onBlockResponse(m.BlockResponse, m.From)
	case m.SyncRequest != nil:
		c.onSyncRequest(m.SyncRequest, m.From)
	case m.SyncResponse != nil:
		c.onSyncResponse(m.SyncResponse, m.From)
	case m.QC != nil:
		c.onQC(m.QC, m.From)
	}
	c.proposeIfDue()
}

// Tick advances the core's logical clock by one tick.
func (c *Core) Tick() {
	c.now++
	clear(c.served)
	c.ticksLeft--
	if c.ticksLeft <= 0 {
		c.localTimeout()
	}
	c.retryFetches()
	c.retrySync()
	c.roundTicks++
	c.proposeDue = true // an idle leader's empty-block delay may have passed
	c.proposeIfDue()
}

// proposeIfDue runs a proposal attempt that handling an input made due.
// Proposing at the end of Step and Tick, rather than from deep inside
// certificate handling, bounds the work one input can cause: with a single
// validator, proposing, voting and certifying would otherwise recurse
// without end.
func (c *Core) proposeIfDue() {
	if c.proposeDue {
		c.proposeDue = false
		c.tryPropose()
	}
}

// Ready returns the effects accumulated since the last call and clears
// them. See Ready for the order in which the runtime must apply them.
func (c *Core) Ready() Ready {
	r := c.out
	if c.safetyDirty {
		s := c.safety
		r.Safety = &s
		c.safetyDirty = false
	}
	c.out = Ready{}
	return r
}

// Round returns the current round.
func (c *Core) Round() uint64 { return c.round }

// HighQC returns the highest QC this validator holds.
func (c *Core) HighQC() *chain.QC { return c.safety.HighQC }

// CertifiedHeight returns the height of the highest block this validator
// knows to be certified: its highest QC's block, or, while it fetches the
// ancestors of proposals it holds (catching up), the parent of the
// highest of them. A validator far behind sees the network's height here
// long before its tree holds those blocks.
//
// A pending proposal's height is its proposer's word, and its parent is
// not checked yet: only its QC, verified, is a quorum's. So a proposal
// counts only when its QC is above the committed tip, and for no more
// than the QC's round allows (each height above the tip takes a round of
// its own): one Byzantine proposer cannot make a validator that keeps up
// report itself behind.
func (c *Core) CertifiedHeight() uint64 {
	var h uint64
	if b, ok := c.tree[c.safety.HighQC.BlockHash]; ok {
		h = b.Height
	}
	for _, ps := range c.pendingProps {
		for _, p := range ps {
			qc := p.Block.QC
			if qc == nil || qc.Round <= c.tip.Round || p.Block.Height == 0 {
				continue
			}
			h = max(h, min(p.Block.Height-1, c.tip.Height+(qc.Round-c.tip.Round)))
		}
	}
	return h
}

// Committed returns the highest committed block and its hash.
func (c *Core) Committed() (*chain.Block, chain.Hash) { return c.tip, c.tipHash }

// HasBlock reports whether the block is in the core's block tree.
func (c *Core) HasBlock(h chain.Hash) bool { _, ok := c.tree[h]; return ok }

// Leader returns the leader of a round.
// The leader rule reads the chain a block extends, so this is the leader
// for a block on this validator's highest certified block: the one it
// would follow.
func (c *Core) Leader(round uint64) uint32 { return c.leaderFor(round, c.safety.HighQC.BlockHash) }

// Standing returns how the leader rule sees validator v on this
// validator's highest certified chain: active, inactive (not heard from
// lately) or failed (failed as leader lately). With a fixed Election
// every validator is active.
func (c *Core) Standing(v uint32) leader.Standing {
	if c.rep == nil {
		return leader.Active
	}
	qc := c.safety.HighQC
	pending := c.failedLeaders(qc.BlockHash, qc.Round, c.round)
	if s := c.leaderSeqOf(qc.BlockHash); s != nil {
		return c.rep.Standing(s.window, v, pending)
	}
	return c.rep.Standing(c.rep.Window(c.ancestry(qc.BlockHash)), v, pending)
}

// leaderSeq is the memo of the leaders drawn for blocks on one parent:
// what the rule reads of that chain, and leaders[i], the leader of the
// i-th round after the parent's.
type leaderSeq struct {
	window  *leader.Window
	leaders []uint32
}

// leaderMemo bounds how many parents' leader sequences are kept.
const leaderMemo = 64

// leaderFor returns the leader of round for a block that extends parent.
func (c *Core) leaderFor(round uint64, parent chain.Hash) uint32 {
	if c.rep == nil {
		return c.elect.Leader(round)
	}
	p, known := c.tree[parent]
	if !known || round <= p.Round || round-p.Round > leader.MaxGap {
		// An unknown parent: no rounds are known to have failed on it.
		return c.rep.Leader(round, round-1, c.ancestry(parent))
	}
	s := c.leaderSeqOf(parent)
	if i := round - p.Round - 1; i >= uint64(len(s.leaders)) {
		s.leaders = c.rep.Leaders(s.window, s.leaders, p.Round, round)
	}
	return s.leaders[round-p.Round-1]
}

// leaderSeqOf returns the memo for blocks on parent, created on first use,
// or nil if parent is not in the tree.
func (c *Core) leaderSeqOf(parent chain.Hash) *leaderSeq {
	if _, known := c.tree[parent]; !known {
		return nil
	}
	s := c.leaders[parent]
	if s == nil {
		if len(c.leaders) >= leaderMemo {
			clear(c.leaders)
		}
		s = &leaderSeq{window: c.rep.Window(c.ancestry(parent))}
		c.leaders[parent] = s
	}
	return s
}

// ancestry returns the uncommitted blocks that end in h, oldest first:
// what a block on h builds on above the committed tip.
func (c *Core) ancestry(h chain.Hash) []*chain.Block {
	var out []*chain.Block
	for h != c.tipHash {
		b, ok := c.tree[h]
		if !ok {
			return nil
		}
		out = append(out, b)
		h = b.Parent
	}
	slices.Reverse(out)
	return out
}

// Stats returns a copy of the core's counters.
func (c *Core) Stats() Stats {
	s := Stats{Dropped: make(map[string]int, len(c.stats.Dropped)), ConflictCommit: c.stats.ConflictCommit}
	for k, v := range c.stats.Dropped {
		s.Dropped[k] = v
	}
	return s
}

func (c *Core) drop(reason string) { c.stats.Dropped[reason]++ }

func (c *Core) send(to uint32, m Message) {
	m.From, m.To = c.cfg.Self, to
	c.out.Messages = append(c.out.Messages, m)
}

func (c *Core) sign(msg []byte) []byte { return c.cfg.Signer.Sign(msg) }

// insert adds a block whose parent is in the tree, and resolves whatever
// waited for it.
func (c *Core) insert(b *chain.Block, h chain.Hash) {
	if _, ok := c.tree[h]; ok {
		return
	}
	c.tree[h] = b
	delete(c.orphans, h)
	delete(c.fetching, h)
	c.out.Blocks = append(c.out.Blocks, b)
	c.processQC(b.QC, b.Proposer)
	if qcs, ok := c.pendingQCs[h]; ok {
		delete(c.pendingQCs, h)
		for _, qc := range qcs {
			c.processQC(qc, b.Proposer)
		}
	}
	if ps, ok := c.pendingProps[h]; ok {
		delete(c.pendingProps, h)
		for _, p := range ps {
			c.acceptProposal(p, p.Block.Hash(c.cfg.ChainID), p.Block.Proposer)
		}
	}
}

// parentOK checks a block against its parent, which must be in the tree.
func (c *Core) parentOK(b *chain.Block) bool {
	parent := c.tree[b.Parent]
	return parent != nil && b.Height == parent.Height+1 && parent.Round == b.QC.Round
}
