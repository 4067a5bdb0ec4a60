package sim

import (
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

// Duration mode (Config.Duration > 0) runs a network for a fixed virtual
// time instead of until a number of heights, and records in Result.Trace
// when each height of the honest chain was committed. The checkers of
// safety, validity and honest double votes run as in height mode, and the
// run stops at the first violation.
//
// The timeline holds, for each height h, the virtual time of the first
// commit of h by any honest validator: the moment the honest chain grew.
// (The slowest honest validator would be the wrong clock: in the fault
// scenarios it is the one that crashed, whose height stands still while
// the others go on.)

// MaxDuration bounds Config.Duration, in virtual milliseconds.
const MaxDuration = 600_000

// livenessGap is how long, after GST, the honest chain may go without a
// new height in duration mode before the run counts as stalled.
const livenessGap = 5000

// Flap takes one honest validator down and up alternately: down for the
// first half of every Period (virtual ms) from From on, up for the second,
// restarting from its store each time, until the run ends.
type Flap struct {
	Node   int
	From   int64
	Period int64
}

// Schedule returns the flap's down intervals (crash at From, restart at
// To) that start before end.
func (f Flap) Schedule(end int64) []Outage {
	var out []Outage
	for at := f.From; at < end; at += f.Period {
		out = append(out, Outage{Node: f.Node, From: at, To: at + f.Period/2})
	}
	return out
}

// Down reports whether the flapping validator is down at virtual time t.
func (f Flap) Down(t int64) bool {
	return t >= f.From && (t-f.From)%f.Period < f.Period/2
}

// CommitPoint is one height of the honest chain in a Trace.
type CommitPoint struct {
	Height     uint64
	At         int64  // virtual ms of its first honest commit
	Round      uint64 // round it was proposed in
	Proposer   uint32
	ProposedAt int64    // virtual ms, from the block's time
	Failed     []uint32 // leaders of the rounds it skipped (Block.FailedLeaders)
}

// Trace is the timeline of a duration-mode run.
type Trace struct {
	Commits  []CommitPoint // Commits[h-1] is height h
	Proposed []int         // per validator: heights of the honest chain it proposed
}

// Times returns the commit times of the honest chain, in height order
// (non-decreasing).
func (t *Trace) Times() []int64 {
	out := make([]int64, len(t.Commits))
	for i, c := range t.Commits {
		out[i] = c.At
	}
	return out
}

func (c *Config) checkDuration() error {
	switch {
	case c.Duration < 0 || c.Duration > MaxDuration:
		return fmt.Errorf("sim: duration %d out of range 0..%d virtual ms", c.Duration, MaxDuration)
	case c.Flap == nil:
		return nil
	case c.Flap.Node < 0 || c.Flap.Node >= c.Nodes-c.Byzantine:
		return fmt.Errorf("sim: flap %+v must name an honest validator", *c.Flap)
	case c.Flap.Period < 2*tickMillis || c.Flap.From < 0:
		return errors.New("sim: a flap needs a period of at least 2 ticks and a start at or after 0")
	}
	return nil
}

// durationSetup arms duration mode and the flap schedule; Run calls it
// once all other events are scheduled.
func (r *run) durationSetup() {
	if r.cfg.Duration > 0 {
		r.deadline = r.cfg.Duration
		r.res.Trace = &Trace{Proposed: make([]int, r.cfg.Nodes)}
	}
	if f := r.cfg.Flap; f != nil {
		for _, o := range f.Schedule(r.deadline) {
			r.schedule(&event{at: o.From, kind: evCrash, node: o.Node})
			r.schedule(&event{at: o.To, kind: evRestart, node: o.Node})
		}
	}
}

// traceCommit records a new height of the honest chain.
func (r *run) traceCommit(c consensus.Commit) {
	t := r.res.Trace
	if t == nil {
		return
	}
	t.Commits = append(t.Commits, CommitPoint{
		Height:     c.Block.Height,
		At:         r.now,
		Round:      c.Block.Round,
		Proposer:   c.Block.Proposer,
		ProposedAt: c.Block.Time / 1e6,
		Failed:     c.Block.FailedLeaders,
	})
	if p := int(c.Block.Proposer); p < len(t.Proposed) {
		t.Proposed[p]++
	}
}

// durationStalled is liveness in duration mode: when it is promised (at
// most f validators traitors or taken down by an outage or a flap), the
// honest chain must not go livenessGap without a new height after GST.
func (r *run) durationStalled() bool {
	faulty := r.cfg.Byzantine
	if r.cfg.Outage != nil {
		faulty++
	}
	if r.cfg.Flap != nil {
		faulty++
	}
	if faulty > quorum.MaxFaulty(r.cfg.Nodes) {
		return false
	}
	last := r.cfg.GST
	for _, c := range r.res.Trace.Commits {
		if c.At > last+livenessGap {
			return true
		}
		last = max(last, c.At)
	}
	return r.cfg.Duration > last+livenessGap
}
