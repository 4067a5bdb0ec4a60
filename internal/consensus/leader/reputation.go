// Package leader chooses the leader of each consensus round from the
// committed chain, by reputation: a validator that failed as leader
// recently, or that has not been heard from, is chosen rarely or never,
// and one that behaves again regains its weight.
//
// The rule follows Aptos's ProposerAndVoterV2 on a Jolteon core. Every
// committed block records the leaders of the rounds that failed since its
// parent (chain.Block.FailedLeaders), and its QC names who voted for the
// parent. Over a window of recent committed blocks a validator is:
//
//   - failed, if it failed as leader within the window, or in a round
//     since the parent: weight FailedWeight (0: it does not lead until its
//     failures leave the window);
//   - active, if it proposed a committed block or voted in a recorded QC
//     within the (shorter) voter window: weight ActiveWeight;
//   - inactive otherwise: weight InactiveWeight (1: rarely, so that a
//     slow honest voter still gets a turn; a restarted validator becomes
//     active by voting).
//
// The leader of round r is drawn, with these weights times voting power,
// by a hash of the chain id and r. The window is read from the chain that
// a block of round r extends: its committed blocks and the certified
// blocks above them that it builds on. So the leader is a function of the
// chain the proposal names, and every honest validator that judges a
// proposal judges it alike, whatever it has committed so far: a rule that
// read only each validator's own committed blocks could split honest
// validators that committed different prefixes into groups that follow
// different leaders, with no group a quorum (the simulator found such a
// stall). Validators that build on different branches may still see
// different leaders for a round, which costs that round, never safety:
// the consensus core's safety rules do not depend on who leads.
//
// The rule keeps the most recent Retain committed blocks in memory, and is
// rebuilt after a restart by feeding it the latest committed blocks again
// (Commit): nothing in it depends on older history, because each block's
// failed leaders are recorded rather than recomputed.
package leader

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/strategos/strategos/internal/chain"
)

// Params tune the rule. Zero fields take the defaults documented here;
// docs/consensus.md explains the choices.
type Params struct {
	// ProposerWindow is how many committed blocks' proposers and failed
	// leaders count (default 10n, at least 40), and ProposerSpan how much
	// chain time, by block times (default 10 s): a failure counts while it
	// is within either, so a failed leader stays out for at least 10 s
	// even at light load, when blocks come by the hundred a second, and
	// for 10n blocks under load, when one block takes a fraction of a
	// second. MaxWindow caps the blocks read (default 4096).
	ProposerWindow int
	ProposerSpan   int64 // nanoseconds
	MaxWindow      int
	// VoterWindow is how many committed blocks' QC signers count as signs
	// of life (default 2n, at least 8): a quorum certificate names only
	// 2f+1 of the voters, so a slow honest validator needs a few blocks to
	// show up in one.
	VoterWindow int
	// Weights of the three standings (defaults 1000, 1, 0). Aptos gives
	// inactive validators 10 and failed ones 1; at the hundreds of rounds
	// a second that Strategos runs at light load, 10 still elects a dead
	// validator every few seconds. 1 still gives a turn now and then to
	// an honest validator that is slow to vote, and so missing from the
	// QCs (which name the first 2f+1 voters): by proposing it is heard.
	ActiveWeight, InactiveWeight, FailedWeight uint64
	// Retain is how many committed blocks of history are kept (default
	// MaxWindow + 256): enough to answer for rounds well behind the
	// current one, as late messages need.
	Retain int
}

// DefaultMaxWindow is the most committed blocks the rule reads by
// default: a node that keeps fewer (pruning) would draw other leaders
// than its peers after a restart.
const DefaultMaxWindow = 4096

func (p Params) withDefaults(n int) Params {
	if p.ProposerWindow <= 0 {
		p.ProposerWindow = max(10*n, 40)
	}
	if p.ProposerSpan <= 0 {
		p.ProposerSpan = 10e9
	}
	if p.MaxWindow < p.ProposerWindow {
		p.MaxWindow = max(DefaultMaxWindow, p.ProposerWindow)
	}
	if p.VoterWindow <= 0 {
		p.VoterWindow = max(2*n, 8)
	}
	if p.ActiveWeight == 0 {
		p.ActiveWeight = 1000
	}
	if p.InactiveWeight == 0 {
		p.InactiveWeight = 1
	}
	if p.Retain < p.MaxWindow {
		p.Retain = p.MaxWindow + 256
	}
	return p
}

// Standing is how the rule sees a validator at a round.
type Standing int

// The standings, from best to worst.
const (
	Active Standing = iota
	Inactive
	Failed
)

func (s Standing) String() string {
	return [...]string{"active", "inactive", "failed"}[s]
}

type entry struct {
	time     int64
	round    uint64
	proposer uint32
	voters   []uint32
	failed   []uint32
}

// Reputation is the rule for one validator set. It is not safe for
// concurrent use; the consensus core that owns it serialises calls.
type Reputation struct {
	chainID string
	vals    *chain.ValidatorSet
	p       Params
	scaled  []uint64 // voting power scaled to at most 1<<20
	hist    []entry  // committed blocks in height (and round) order
}

// New returns the rule for vals on chainID, with no history.
func New(chainID string, vals *chain.ValidatorSet, p Params) *Reputation {
	n := vals.Len()
	r := &Reputation{chainID: chainID, vals: vals, p: p.withDefaults(n)}
	// Weights multiply voting power; scaling it keeps the products far
	// from overflow whatever the powers (up to chain.MaxTotalPower).
	total := vals.TotalPower()
	for i := range n {
		pw := vals.Power(uint32(i))
		s := uint64(1)
		if total > 0 {
			s = max(1, pw*(1<<20)/total)
			if total > 1<<40 {
				s = max(1, pw/(total>>20))
			}
		}
		r.scaled = append(r.scaled, s)
	}
	return r
}

// Params returns the parameters in effect, defaults filled in.
func (r *Reputation) Params() Params { return r.p }

// Commit records a committed block. Blocks must come in height order;
// a block at or below the latest recorded round is ignored, so feeding
// the same block twice (a restart, a replayed commit) changes nothing.
func (r *Reputation) Commit(b *chain.Block) {
	if b == nil || b.Height == 0 {
		return
	}
	if k := len(r.hist); k > 0 && b.Round <= r.hist[k-1].round {
		return
	}
	r.hist = append(r.hist, entryOf(b))
	if len(r.hist) > r.p.Retain+r.p.Retain/4 {
		r.hist = append(r.hist[:0:0], r.hist[len(r.hist)-r.p.Retain:]...)
	}
}

func entryOf(b *chain.Block) entry {
	e := entry{time: b.Time, round: b.Round, proposer: b.Proposer, failed: b.FailedLeaders}
	if b.QC != nil {
		for _, s := range b.QC.Votes {
			e.voters = append(e.voters, s.Signer)
		}
	}
	return e
}

// Leader returns the leader of round for a block that extends a parent of
// parentRound, with branch the blocks above the latest committed one that
// the block builds on, oldest first (the parent last; empty when the
// parent is the latest committed block). Branch blocks at or below the
// latest committed round are not read.
func (r *Reputation) Leader(round, parentRound uint64, branch []*chain.Block) uint32 {
	if round <= parentRound || round-parentRound > MaxGap {
		return choose(r.Window(branch).weights(r, nil), seed(r.chainID, round))
	}
	s := r.Leaders(r.Window(branch), nil, parentRound, round)
	return s[len(s)-1]
}

// MaxGap bounds how many rounds after its parent the rule follows a
// chain's failed rounds: a round more than MaxGap after its parent is
// drawn from the chain's weights alone, with no failures pending. It
// bounds the work of one draw after a long outage.
const MaxGap = 1 << 16

// Leaders returns the leaders of rounds parentRound+1 .. to, for blocks
// that extend a parent of parentRound whose chain w describes (Window).
// prev, if not empty, holds what an earlier call returned for the same
// parent; it is extended rather than recomputed.
//
// The rounds since the parent have failed on this chain so far, so their
// leaders, the most recent chain.MaxFailedLeaders of them, count as failed
// when the next round's leader is drawn, before any block records them: a
// crashed or silent leader costs one round, not one per draw until a block
// lands.
func (r *Reputation) Leaders(w *Window, prev []uint32, parentRound, to uint64) []uint32 {
	if to <= parentRound {
		return nil
	}
	from := parentRound + 1
	to = min(to, parentRound+MaxGap)
	out := prev
	k := chain.MaxFailedLeaders(r.vals.Len())
	for g := from + uint64(len(out)); g <= to; g++ {
		pending := out[max(0, len(out)-k):]
		out = append(out, choose(w.weights(r, pending), seed(r.chainID, g)))
	}
	return out
}

// Standing returns how the rule sees validator v for a block on the chain
// w describes, with pending the leaders of the rounds that failed since
// the parent (what the block would record as FailedLeaders).
func (r *Reputation) Standing(w *Window, v uint32, pending []uint32) Standing {
	return w.standings(r, pending)[v]
}

// recent calls f on the blocks the rule reads, newest first: branch, then
// the committed history; limit blocks, and further back while a block is
// within span of chain time of the newest (span 0: no further), up to
// MaxWindow blocks.
func (r *Reputation) recent(branch []*chain.Block, limit int, span int64, f func(e entry)) {
	last := uint64(0)
	if k := len(r.hist); k > 0 {
		last = r.hist[k-1].round
	}
	count, newest := 0, int64(0)
	visit := func(e entry) bool {
		if count == 0 {
			newest = e.time
		}
		if count >= r.p.MaxWindow || count >= limit && (span == 0 || e.time < newest-span) {
			return false
		}
		count++
		f(e)
		return true
	}
	for i := len(branch) - 1; i >= 0; i-- {
		if b := branch[i]; b.Round > last && !visit(entryOf(b)) {
			return
		}
	}
	for i := len(r.hist) - 1; i >= 0; i-- {
		if !visit(r.hist[i]) {
			return
		}
	}
}

// HistoryNeeded reports whether a restarted validator, feeding the rule
// committed blocks from its tip downwards, must go on past one at time t
// (the count-th read, tipTime the tip's): what the windows read.
func (r *Reputation) HistoryNeeded(count int, t, tipTime int64) bool {
	if count >= r.p.MaxWindow {
		return false
	}
	return count < r.p.ProposerWindow+r.p.VoterWindow || t >= tipTime-r.p.ProposerSpan
}

// Window is what the windows of one chain say about each validator: the
// part of a draw that reads history, computed once per parent block and
// kept by the caller (the consensus core memoises it with the leaders it
// draws on that parent).
type Window struct {
	empty  bool  // no history at all
	failed []int // failed turns in the proposer window
	heard  []bool
}

// Window reads the chain that ends in branch, the blocks above the latest
// committed one, oldest first (as for Leader).
func (r *Reputation) Window(branch []*chain.Block) *Window {
	n := r.vals.Len()
	t := &Window{empty: len(r.hist) == 0 && len(branch) == 0, failed: make([]int, n), heard: make([]bool, n)}
	r.recent(branch, r.p.ProposerWindow, r.p.ProposerSpan, func(e entry) {
		for _, f := range e.failed {
			if int(f) < n {
				t.failed[f]++
			}
		}
	})
	seen := 0
	r.recent(branch, r.p.VoterWindow, 0, func(e entry) {
		seen++
		if int(e.proposer) < n {
			t.heard[e.proposer] = true
		}
		for _, v := range e.voters {
			if int(v) < n {
				t.heard[v] = true
			}
		}
	})
	// A chain shorter than the voter window has not had the time to hear
	// from everyone (the genesis QC names no voter): all count as heard.
	t.empty = seen < r.p.VoterWindow
	return t
}

// standings judges every validator; pending are the leaders of the rounds
// that failed since the parent.
func (t *Window) standings(r *Reputation, pending []uint32) []Standing {
	out := make([]Standing, len(t.failed))
	for i := range out {
		switch {
		case slices.Contains(pending, uint32(i)) || t.failed[i] > 0:
			out[i] = Failed
		case t.heard[i] || t.empty:
			out[i] = Active
		default:
			out[i] = Inactive
		}
	}
	return out
}

func (t *Window) weights(r *Reputation, pending []uint32) []uint64 {
	st := t.standings(r, pending)
	w := make([]uint64, len(st))
	var total uint64
	for i, s := range st {
		switch s {
		case Active:
			w[i] = r.p.ActiveWeight
		case Inactive:
			w[i] = r.p.InactiveWeight
		case Failed:
			w[i] = r.p.FailedWeight
		}
		w[i] *= r.scaled[i]
		total += w[i]
	}
	if total == 0 {
		// Everyone failed recently (a network-wide outage): fall back to
		// power alone rather than stop choosing.
		copy(w, r.scaled)
	}
	return w
}

// seed is the deterministic draw for a round: every validator computes it
// alike, and no one can steer it.
func seed(chainID string, round uint64) uint64 {
	d := sha256.New()
	d.Write([]byte("strategos/leader/v1\x00"))
	d.Write([]byte(chainID))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], round)
	d.Write(b[:])
	return binary.BigEndian.Uint64(d.Sum(nil))
}

// choose picks an index with probability proportional to its weight.
func choose(w []uint64, s uint64) uint32 {
	var total uint64
	for _, x := range w {
		total += x
	}
	pick := s % total
	for i, x := range w {
		if pick < x {
			return uint32(i)
		}
		pick -= x
	}
	return uint32(len(w) - 1)
}

// HistoryFloor returns the lowest committed height the rule with params p,
// for n validators, reads when it starts at committed height tip
// (HistoryNeeded): what pruning must keep. timeAt gives a committed
// block's time, false if the block is not there (the floor is then above
// it). Block times rise with height, so the time span is found by
// bisection.
func HistoryFloor(p Params, n int, tip uint64, timeAt func(h uint64) (int64, bool)) uint64 {
	p = p.withDefaults(n)
	if tip == 0 {
		return 0
	}
	lowest := uint64(1)
	if tip > uint64(p.MaxWindow) {
		lowest = tip - uint64(p.MaxWindow) + 1
	}
	floor := lowest
	if w := uint64(p.ProposerWindow + p.VoterWindow); tip > w {
		floor = max(lowest, tip-w+1)
	}
	tipTime, ok := timeAt(tip)
	if !ok {
		return lowest
	}
	// The lowest height in [lowest, floor) whose time is within the span;
	// the rule reads one more, the first out of it.
	lo, hi := lowest, floor
	for lo < hi {
		mid := lo + (hi-lo)/2
		if t, ok := timeAt(mid); !ok || t < tipTime-p.ProposerSpan {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < floor {
		return max(lowest, lo-1)
	}
	return floor
}
