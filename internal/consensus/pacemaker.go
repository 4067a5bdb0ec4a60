package consensus

import (
	"slices"

	"github.com/strategos/strategos/internal/consensus/leader"
)

// roundsKept is how many recent successful rounds the pacemaker reads,
// and roundsFactor how many times their median the base timeout is.
const (
	roundsKept   = 32
	roundsFactor = 4
)

// roundTimes holds the durations, in ticks, of the latest rounds that
// ended in a QC.
type roundTimes struct {
	d    [roundsKept]int
	next int
}

func (r *roundTimes) fill(ticks int) {
	for i := range r.d {
		r.d[i] = ticks
	}
}

func (r *roundTimes) add(ticks int) {
	r.d[r.next] = ticks
	r.next = (r.next + 1) % roundsKept
}

func (r *roundTimes) median() int {
	s := r.d
	slices.Sort(s[:])
	return s[roundsKept/2]
}

// timeout is the pacemaker: the current round's timeout in ticks. The base
// is roundsFactor times the median of the latest successful rounds, never
// below MinTimeout (MinBusyTimeout when the next leader extends
// transactions and so does not wait EmptyBlockDelay), nor above
// MaxTimeout. It grows by a fifth per consecutive failed round, and is
// halved (down to the floor) for a leader the leader rule already sees as
// inactive or failed, so that such a round costs little when it fails.
//
// A median, not a maximum: a Byzantine leader that proposes just before
// the timeout each time it leads still succeeds, and with a maximum it
// would push the timeout up by half each time until MaxTimeout; it leads
// at most about a third of the rounds, so it cannot move the median. A
// local timer cannot affect safety, only how soon a round is given up.
func (c *Core) timeout() int {
	floor := c.cfg.MinTimeout
	if c.payloadAbove(c.safety.HighQC.BlockHash) {
		floor = c.cfg.MinBusyTimeout
	}
	base := min(max(roundsFactor*c.rounds.median(), floor), c.cfg.MaxTimeout)
	if c.Standing(c.Leader(c.round)) != leader.Active {
		base = max(floor, base/2)
	}
	return timeoutTicks(base, c.cfg.MaxTimeout, c.failedRounds)
}

// noteRound records how many ticks a round that ended in a QC took.
func (c *Core) noteRound(ticks int) { c.rounds.add(ticks) }
