package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/quorum"
	"github.com/strategos/strategos/internal/mempool"
	"github.com/strategos/strategos/internal/statesync"
	"github.com/strategos/strategos/internal/store"
)

// Jumping ahead. A validator back from a long outage replays the blocks
// it lacks at the speed it can execute them, which is not much faster
// than the network commits them: thousands of heights behind, it would
// take minutes to be useful again, and once its peers have pruned what
// it lacks it could never catch up by blocks at all. Such a validator
// stops its node (Run returns a *FarBehind), restores a peer's snapshot
// in place of its store (Resync, the state sync of an empty home into a
// side file), keeps its exact record of what it signed, and runs again
// from the snapshot's height, without an operator. The history below
// that height is given up, as after state sync.
//
// The trigger reads the highest height the core has seen certified,
// which a Byzantine proposer can inflate (package consensus,
// CertifiedHeight); the jump itself is checked: it restores only a
// snapshot whose height is verified against a commit certificate and is
// well above the validator's own, and otherwise leaves the store as it
// was. A trigger that came to nothing is not tried again for
// ResyncRetry.

// DefaultStateSyncBehind is how many heights behind a pruning validator
// jumps to a snapshot unless the config says otherwise: replaying that
// many blocks takes longer than restoring a snapshot and replaying the
// few heights above it.
const DefaultStateSyncBehind = 2000

// ResyncRetry is how long a validator whose jump came to nothing (no
// peer had a snapshot high enough) catches up by blocks before it tries
// again.
const ResyncRetry = 2 * time.Minute

// resyncDiscover bounds a jump's wait for a quorum of its peers to offer
// their snapshots, which may never come: past it the validator goes back
// to catching up by blocks. Once a snapshot is being fetched, state sync's
// own stall timeout applies.
const resyncDiscover = time.Minute

// FarBehind is the error Run returns when the validator should restore
// a snapshot rather than catch up by blocks; the daemon calls Resync and
// starts the node again.
type FarBehind struct {
	Committed uint64 // the validator's committed height
	Certified uint64 // the highest height it has seen certified
	// MinHeight is the lowest snapshot height worth restoring.
	MinHeight uint64
	Reason    string
}

func (e *FarBehind) Error() string {
	return fmt.Sprintf("node: %s (committed %d, certified %d): restoring a snapshot at height %d or above", e.Reason, e.Committed, e.Certified, e.MinHeight)
}

// stateSyncBehind is the configured lag that triggers a jump; 0 when lag
// alone never does.
func (n *Node) stateSyncBehind() uint64 {
	switch k := n.home.Node.StateSyncBehind; {
	case k < 0:
		return 0
	case k > 0:
		return uint64(k)
	case n.home.Node.RetainBlocks > 0:
		return DefaultStateSyncBehind
	default:
		return 0
	}
}

// checkFarBehind decides whether the validator should jump, at most once
// per run, and not before the time its options allow. Only a validator
// whose application restores the snapshots of the key/value format can:
// an ABCI application keeps its own state, which cannot be replaced
// while it runs. A validator connected to fewer than a quorum waits: the
// jump needs a quorum's answers, and its pending transactions must reach
// peers first (leave).
func (n *Node) checkFarBehind() {
	if n.farBehind != nil || n.home.Node.StateSyncBehind < 0 || time.Now().Before(n.resyncNotBefore) {
		return
	}
	if _, ok := n.app.(app.Snapshotter); !ok {
		return
	}
	c, ok := n.replica.(*consensus.Core)
	if !ok {
		return
	}
	// The highest seen, since the core's own figure comes and goes with
	// the proposals it holds pending.
	n.certifiedMax = max(n.certifiedMax, c.CertifiedHeight())
	committed, certified := n.store.CommittedHeight(), n.certifiedMax
	if k := n.stateSyncBehind(); k > 0 && certified > committed+k && n.connectedQuorum() {
		n.leave(&FarBehind{Committed: committed, Certified: certified, MinHeight: committed + k/2,
			Reason: fmt.Sprintf("more than %d heights behind", k)})
		return
	}
	if n.prunedByWeakQuorum(committed) && n.connectedQuorum() {
		n.leave(&FarBehind{Committed: committed, Certified: certified, MinHeight: committed + 1,
			Reason: "peers have pruned the blocks this validator lacks"})
	}
}

// connectedQuorum reports whether this validator and the peers it has a
// connection to now hold a quorum's power. Now, not as observe last saw:
// a validator back from an outage may catch up by blocks in less time
// than observe takes to see its connections up.
func (n *Node) connectedQuorum() bool {
	power := n.vals.Power(n.self)
	for _, v := range n.tr.Connected() {
		if n.vals.Has(v) {
			power += n.vals.Power(v)
		}
	}
	return quorum.Reached(power, n.vals.TotalPower())
}

// leaveFor is how long a validator that will jump goes on running
// before it stops: long enough to pass its pending transactions on.
const leaveFor = 300 * time.Millisecond

// leave starts the validator's last ticks before a jump: clients are
// answered busy from now on, and every transaction the mempool holds is
// gossiped to the peers, since the jump drops the mempool and the
// acceptance journal (see install) and they are what would carry these
// transactions to a block. Run stops leaveTicks later.
func (n *Node) leave(fb *FarBehind) {
	n.farBehind, n.leaveAt = fb, time.Now().Add(leaveFor)
	n.leaving.Store(true)
	pending := n.pool.All()
	n.gossipMu.Lock()
	for _, tx := range pending {
		n.gossipTxs = append(n.gossipTxs, tx.Bytes)
	}
	n.gossipMu.Unlock()
	n.log.Warn("too far behind to catch up by blocks: handing pending transactions to peers before restoring a snapshot",
		"committed", fb.Committed, "certified", fb.Certified, "reason", fb.Reason, "pending", len(pending))
}

// errLeaving answers clients while a validator is about to jump.
var errLeaving = fmt.Errorf("%w: the validator is about to restore a snapshot; send to another", mempool.ErrFull)

// notePrunedBy records a peer's answer that it pruned the heights from
// from on, which this validator lacks.
func (n *Node) notePrunedBy(p consensus.Pruned) {
	if n.prunedBy == nil {
		n.prunedBy = map[uint32]uint64{}
	}
	n.prunedBy[p.Peer] = p.From
}

// prunedByWeakQuorum reports whether peers of more than a third of the
// power said they pruned the heights above committed: at least one of
// them is honest, so the blocks are really gone from some honest peers,
// and a single Byzantine peer cannot make a validator give up its
// history.
func (n *Node) prunedByWeakQuorum(committed uint64) bool {
	var power uint64
	for peer, from := range n.prunedBy {
		if from > committed {
			power += n.vals.Power(peer)
		}
	}
	return quorum.Weak(power, n.vals.TotalPower())
}

// resyncSuffix names the side store a jump restores into, beside the
// store it replaces; a leftover one (a jump cut short) is removed when
// the node opens.
const resyncSuffix = ".resync"

// Resync restores, for a validator whose Run returned fb, a peer's
// snapshot of height fb.MinHeight or above into a side store, and puts it
// in place of the validator's store: state sync as on an empty home
// (package statesync), but the record of what the validator signed is
// kept, exact, since its disk was not lost. The old store stays as it was
// until the new one is complete and durable, and is replaced by one
// rename; if no peer offers a high enough snapshot that restores, the
// error says so and nothing changed. The node must be closed.
func Resync(ctx context.Context, h *config.Home, newApp func(app.State) (app.Application, error), log *slog.Logger, fb *FarBehind) (*statesync.Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	main, side := storePath(h), storePath(h)+resyncSuffix
	if err := removeSide(side); err != nil {
		return nil, err
	}
	old, committed, err := readSafety(h, main)
	if err != nil {
		return nil, err
	}
	minHeight := max(fb.MinHeight, committed+1)
	log.Info("restoring a snapshot in place of the store", "committed", committed, "min_height", minHeight)
	res, err := stateSync(ctx, h, newApp, nil, log, side, func(c *statesync.Config) {
		c.MinHeight, c.DiscoverTimeout = minHeight, resyncDiscover
		c.Signed = func(qc *chain.QC) (consensus.SafetyState, error) { return keepSafety(old, qc) }
	})
	if err == nil && (res == nil || res.Height < minHeight) {
		err = fmt.Errorf("node: resync: restored height %d, below %d", heightOf(res), minHeight)
	}
	if err != nil {
		return nil, errors.Join(err, removeSide(side))
	}
	if err := install(h, side, main); err != nil {
		return nil, err
	}
	log.Info("the store now starts at the snapshot's height", "height", res.Height, "skipped", res.Height-committed)
	return res, nil
}

func heightOf(r *statesync.Result) uint64 {
	if r == nil {
		return 0
	}
	return r.Height
}

func removeSide(side string) error {
	if err := os.Remove(side); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("node: resync: %w", err)
	}
	return nil
}

// readSafety returns the safety state and committed height of the store
// at path.
func readSafety(h *config.Home, path string) (consensus.SafetyState, uint64, error) {
	st, err := openStore(h, path)
	if err != nil {
		return consensus.SafetyState{}, 0, err
	}
	defer st.Close()
	return st.SafetyState(), st.CommittedHeight(), nil
}

func openStore(h *config.Home, path string) (*store.Store, error) {
	vals, err := h.Genesis.ValidatorSet()
	if err != nil {
		return nil, err
	}
	chainID := h.Genesis.ChainID
	return store.Open(path, chainID, chain.Genesis(chainID, vals).Hash(chainID))
}

// keepSafety is the safety state the restored store starts with: the
// validator's own record of what it signed, old, as it is. Its disk was
// not lost, so the record is exact, and the restore's bound from its
// peers' certificates (for a wiped validator) would only make it skip
// rounds, and no longer re-send its last timeout, which a network one
// validator short of a quorum may be waiting for. The high QC is qc, the
// certificate of the snapshot's block (old's must not be higher).
func keepSafety(old consensus.SafetyState, qc *chain.QC) (consensus.SafetyState, error) {
	if old.HighQC != nil && old.HighQC.Round > qc.Round {
		return consensus.SafetyState{}, fmt.Errorf("node: resync: the validator holds a QC of round %d, above the snapshot's (round %d)", old.HighQC.Round, qc.Round)
	}
	s := old
	s.HighQC = qc
	return s, nil
}

// install puts the restored store side in place of main, durably, and
// drops what belonged to the old history: its snapshots, of heights now
// below the store, and the acceptance journal, whose transactions were
// passed on to peers when the node started and again before it stopped,
// and which, replayed over a store that lacks the skipped heights'
// transactions, could commit some a second time. Both are first renamed
// aside (dropSuffix), so that a crash at any step leaves either the old
// store with its journal and snapshots, or the new store without them
// (recoverJump, when the node next opens).
func install(h *config.Home, side, main string) error {
	data := h.DataPath()
	for _, dir := range droppedByJump {
		err := os.Rename(filepath.Join(data, dir), filepath.Join(data, dir+dropSuffix))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("node: resync: %w", err)
		}
	}
	if err := syncDir(data); err != nil {
		return fmt.Errorf("node: resync: %w", err)
	}
	if err := os.Rename(side, main); err != nil {
		return fmt.Errorf("node: resync: %w", err)
	}
	if err := syncDir(data); err != nil {
		return fmt.Errorf("node: resync: the store is replaced, but: %w", err)
	}
	return recoverJump(h)
}

// droppedByJump are the data directories a jump drops; dropSuffix marks
// them while it is under way.
var droppedByJump = []string{snapshotsDir, journalDir}

const dropSuffix = ".drop"

// recoverJump finishes what a jump cut short left, before the store
// opens: with the side store still there the jump did not happen (the
// dropped directories are put back and the side store removed); without
// it the new store is in place (they are deleted).
func recoverJump(h *config.Home) error {
	data, side := h.DataPath(), storePath(h)+resyncSuffix
	_, err := os.Stat(side)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("node: resync: %w", err)
	}
	undone := err == nil
	for _, dir := range droppedByJump {
		dropped := filepath.Join(data, dir+dropSuffix)
		if _, err := os.Stat(dropped); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if undone {
			err = os.Rename(dropped, filepath.Join(data, dir))
		} else {
			err = os.RemoveAll(dropped)
		}
		if err != nil {
			return fmt.Errorf("node: resync: %w", err)
		}
	}
	return removeSide(side)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
