package node

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// maxTimeAhead is how far ahead of this validator's clock a proposal's
// time may be before it refuses to vote: block times are on the ledger
// forever (and feed the commit-latency metric), so a Byzantine leader
// must not pick them freely; honest clocks agree far better than this.
const maxTimeAhead = 10 * time.Second

// Reasons of Check's refusals, as strategos_messages_dropped_total labels.
const (
	refusedRoot       = "proposal: state root differs"
	refusedEvidence   = "proposal: invalid evidence"
	refusedTimeParent = "proposal: time before its parent's"
	refusedTimeAhead  = "proposal: time too far ahead"
	refusedPayload    = "proposal: payload refused by the application"
	refusedApp        = "proposal: the application is unusable"
)

var errRefused = errors.New("node: proposal refused")

// proposalClock remembers the latest block time this validator accepted,
// so that its own proposals are never timed before their parent (a leader
// whose clock is a little behind the previous one's proposes the parent's
// time instead).
type proposalClock struct{ latest atomic.Int64 }

func (c *proposalClock) saw(t int64) {
	for {
		old := c.latest.Load()
		if t <= old || c.latest.CompareAndSwap(old, t) {
			return
		}
	}
}

// now is the time for a new proposal: the clock, but never before a block
// time this validator accepted.
func (c *proposalClock) now() int64 { return max(time.Now().UnixNano(), c.latest.Load()) }

// Check is this validator's say on a proposed block before it votes:
//   - the state root it carries for a height this validator has executed
//     must match its own: otherwise either the proposer lies or this
//     validator's execution diverged, and it must not sign; it says so
//     loudly;
//   - its time must not be before its parent's (when the parent is stored
//     here) nor more than maxTimeAhead ahead of the local clock;
//   - every proof of misbehaviour it carries must verify (checkEvidence);
//     consensus has checked their count and bytes;
//   - the application must accept it (ProcessProposal), shown its
//     transactions and its evidence as misbehaviour. While the application
//     is unusable, nothing is voted for.
//
// A block that fails is not voted for; the refusal is counted by reason.
func (s source) Check(b *chain.Block) error {
	if why := s.n.appError(); why != "" {
		return s.refuse(refusedApp, fmt.Errorf("the application is unusable: %s", why))
	}
	if err := s.checkRoot(b); err != nil {
		return s.refuse(refusedRoot, err)
	}
	if err := s.checkTime(b); err != nil {
		return err
	}
	if err := s.n.checkEvidence(b); err != nil {
		return s.refuse(refusedEvidence, err)
	}
	ctx, cancel := appContext()
	defer cancel()
	ok, err := s.n.app.ProcessProposal(ctx, app.Proposal{
		Height: b.Height, Round: b.Round, Time: b.Time, Proposer: b.Proposer, Txs: s.n.txsOf(b),
		Misbehavior: proposedMisbehavior(b.Height, b.Time, b.Evidence),
	})
	if err != nil {
		s.n.appFailed(fmt.Errorf("process proposal: %w", err))
		return s.refuse(refusedApp, err)
	}
	if !ok {
		return s.refuse(refusedPayload, errors.New("the application refused the proposal"))
	}
	s.n.clock.saw(b.Time)
	return nil
}

func (s source) checkRoot(b *chain.Block) error {
	err := s.n.rootDiffers(b)
	if errors.Is(err, errRootDiffers) {
		s.n.metrics.divergence.Inc()
		s.n.log.Error("STATE DIVERGENCE: refusing to vote", "height", b.Height, "proposer", b.Proposer, "err", err)
	}
	return err
}

// errRootDiffers marks a block whose state root, for a height this
// validator executed, is not the one its execution recorded.
var errRootDiffers = errors.New("state root differs from ours")

// rootDiffers returns an error wrapping errRootDiffers if b carries a
// state root for a height this validator executed that differs from the
// one it recorded; nil also when it has not executed that height yet.
func (n *Node) rootDiffers(b *chain.Block) error {
	// Height 0 is the genesis app hash, recorded by the handshake.
	own, ok, err := n.store.AppGet(rootKey(b.ExecHeight))
	if err != nil {
		return err
	}
	if !ok {
		return nil // not executed here yet: execution lags
	}
	// Exactly the app hash: no padding, no truncation, whatever its length.
	if !bytes.Equal(own, b.StateRoot) {
		return fmt.Errorf("%w: height %d, block %x, ours %x", errRootDiffers, b.ExecHeight, b.StateRoot, own)
	}
	return nil
}

func (s source) checkTime(b *chain.Block) error {
	if ahead := time.Duration(b.Time - time.Now().UnixNano()); ahead > maxTimeAhead {
		return s.refuse(refusedTimeAhead, fmt.Errorf("block time %v ahead of this validator's clock (at most %v)", ahead, maxTimeAhead))
	}
	if parent, ok := s.n.store.Block(b.Parent); ok && b.Time < parent.Time {
		return s.refuse(refusedTimeParent, fmt.Errorf("block time %d before its parent's %d", b.Time, parent.Time))
	}
	return nil
}

func (s source) refuse(reason string, err error) error {
	s.n.metrics.dropped.WithLabelValues(reason).Inc()
	return fmt.Errorf("%w: %w", errRefused, err)
}

// proposedMisbehavior is the application's view of a proposed block's
// evidence (PrepareProposal, ProcessProposal): every proof, as the block
// of height and time would record it.
func proposedMisbehavior(height uint64, time int64, evs []chain.Evidence) []app.Misbehavior {
	if len(evs) == 0 {
		return nil
	}
	out := make([]app.Misbehavior, len(evs))
	for i, e := range evs {
		out[i] = misbehaviorOf(e, height, time)
	}
	return out
}

// misbehaviorOf is the application's view of a proof recorded by the block
// of height and time.
func misbehaviorOf(e chain.Evidence, height uint64, time int64) app.Misbehavior {
	return app.Misbehavior{Validator: e.Validator, Kind: string(e.Kind), Height: height, Round: e.Round, Time: time}
}
