package statesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/quorum"
	"github.com/strategos/strategos/internal/snapshot"
	"github.com/strategos/strategos/internal/store"
	"github.com/strategos/strategos/internal/wire"
)

// Network is how the client reaches its peers: Send is best effort (a
// lost request is asked again), Recv returns the next envelope from a
// peer, or ctx's error.
type Network interface {
	Send(to uint32, e wire.Envelope)
	Recv(ctx context.Context) (from uint32, e wire.Envelope, err error)
}

// Config is what a client needs.
type Config struct {
	ChainID    string
	Validators *chain.ValidatorSet
	Genesis    chain.Hash // the genesis block's hash
	AppGenesis app.Genesis
	Self       uint32
	// App restores snapshots of the key/value format (bank, kv); Keeper
	// those an ABCI application took. One of them is set.
	App    app.Snapshotter
	Keeper Keeper
	Store  *store.Store
	Net    Network
	Log    *slog.Logger
	// RootKey names the state key under which the node records the app
	// hash of a height (the node's own bookkeeping in the app area).
	RootKey func(height uint64) string
	// MinHeight, if set, is the lowest snapshot height worth restoring
	// (a running validator that fell behind jumps only forward, past its
	// own committed height): offers below it are ignored, and Sync
	// returns ErrNoSnapshot rather than waiting for a better offer or
	// starting from genesis.
	MinHeight uint64
	// Signed, if set, gives the safety state the store starts with, for
	// the certificate qc of the snapshot restored: a validator whose disk
	// was not lost keeps its own record of what it signed instead of the
	// bound from its peers' certificates (see the package doc).
	Signed func(qc *chain.QC) (consensus.SafetyState, error)
	// DiscoverTimeout, if set, bounds the wait for a quorum's snapshot
	// lists: past it Sync returns ErrNoSnapshot (a running validator that
	// fell behind goes back to its blocks rather than wait for ever).
	DiscoverTimeout time.Duration

	// Timing; zero takes the defaults.
	RequestTimeout time.Duration // one request's answer (default 5 s)
	StallTimeout   time.Duration // no progress on a snapshot (default 60 s)
	ProgressEvery  time.Duration // progress lines (default 5 s)
	MaxStateBytes  uint64        // chunk bytes held (default 4 GiB)
}

func (c *Config) defaults() {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 60 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 5 * time.Second
	}
	if c.MaxStateBytes == 0 {
		c.MaxStateBytes = 4 << 30
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Keeper is an ABCI application that restores its own snapshots, and
// says afterwards (Info) at which height and app hash it stands.
type Keeper interface {
	app.SnapshotKeeper
	Info(ctx context.Context) (app.Info, error)
}

// Result says what a sync restored.
type Result struct {
	Height    uint64 // 0: no peer had a snapshot; the node replays from genesis
	Pairs     int
	VoteAbove uint64 // the last voted round the store starts with
}

// ErrNoSnapshot: no peer offers a snapshot that could be restored.
var ErrNoSnapshot = errors.New("statesync: no usable snapshot offered")

// Sync restores cfg.Store, which must be empty, from a peer's snapshot,
// trying the offered snapshots highest first until one restores. It
// returns once the store is written, or with ctx's error.
func Sync(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	c := &client{cfg: cfg, failed: map[[32]byte]bool{}, suspect: map[uint32]bool{}}
	for {
		offers, round, err := c.discover(ctx)
		if err != nil {
			return Result{}, err
		}
		if len(offers) == 0 && len(c.failed) == 0 && c.cfg.MinHeight == 0 {
			return c.fromGenesis(round)
		}
		o, ok := c.pick(offers)
		if !ok && c.cfg.MinHeight > 0 {
			return Result{}, fmt.Errorf("%w at height %d or above", ErrNoSnapshot, c.cfg.MinHeight)
		}
		if !ok {
			c.cfg.Log.Warn("state sync: no usable snapshot offered yet; asking again", "offers", len(offers))
			if err := sleep(ctx, c.cfg.RequestTimeout); err != nil {
				return Result{}, err
			}
			continue
		}
		res, err := c.restore(ctx, o, round)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		c.failed[o.meta.Hash()] = true
		if c.cfg.MinHeight > 0 && len(c.failed) >= maxFailedJump {
			return Result{}, fmt.Errorf("%w: %d snapshots given up, the last: %v", ErrNoSnapshot, len(c.failed), err)
		}
		c.cfg.Log.Warn("state sync: snapshot given up; trying another", "height", o.meta.Height, "err", err)
	}
}

type client struct {
	cfg    Config
	failed map[[32]byte]bool // snapshots given up
	// suspect peers sent something that failed a check, or did not
	// answer: their offers come after every other.
	suspect map[uint32]bool
}

// offer is one snapshot and the peers that offered it.
type offer struct {
	meta  *snapshot.Meta
	peers []uint32
}

// discover asks every peer for its snapshots until validators of a
// quorum's power other than this one have answered, and returns the
// offers and the highest round of a verified certificate in the answers
// (see the package doc).
func (c *client) discover(ctx context.Context) (map[[32]byte]*offer, uint64, error) {
	offers := map[[32]byte]*offer{}
	answered := map[uint32]bool{}
	var power, round uint64
	vals := c.cfg.Validators
	ask := func() {
		for i := range uint32(vals.Len()) {
			if i != c.cfg.Self && !answered[i] {
				c.cfg.Net.Send(i, wire.Envelope{SnapshotRequest: &wire.SnapshotRequest{Kind: wire.SnapshotList}})
			}
		}
	}
	ask()
	var giveUp time.Time
	if c.cfg.DiscoverTimeout > 0 {
		giveUp = time.Now().Add(c.cfg.DiscoverTimeout)
	}
	// Asked again soon at first, then less often: the first requests go
	// out while the connections to the peers are still being made.
	wait := min(firstAskAgain, c.cfg.RequestTimeout)
	next := time.Now().Add(wait)
	for !quorum.Reached(power, vals.TotalPower()) {
		from, e, err := c.recv(ctx, next)
		if errors.Is(err, errTimeout) {
			if !giveUp.IsZero() && time.Now().After(giveUp) {
				return nil, 0, fmt.Errorf("%w: validators of a quorum's power did not answer within %v", ErrNoSnapshot, c.cfg.DiscoverTimeout)
			}
			if wait >= c.cfg.RequestTimeout {
				c.cfg.Log.Info("state sync: waiting for peers' snapshot lists", "answered_power", power, "total_power", vals.TotalPower())
			}
			ask()
			wait = min(2*wait, c.cfg.RequestTimeout)
			next = time.Now().Add(wait)
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		r := e.SnapshotResponse
		if r == nil || r.Kind != wire.SnapshotList || answered[from] || !vals.Has(from) || from == c.cfg.Self {
			continue
		}
		if err := consensus.VerifyCerts(c.cfg.ChainID, vals, c.cfg.Genesis, r.HighQC, r.HighTC); err != nil {
			c.cfg.Log.Warn("state sync: a peer's certificates do not verify; its answer is ignored", "peer", from, "err", err)
			continue
		}
		answered[from] = true
		power += vals.Power(from)
		if r.HighQC != nil {
			round = max(round, r.HighQC.Round)
		}
		if r.HighTC != nil {
			round = max(round, r.HighTC.Round)
		}
		for _, b := range r.Metas {
			m, err := snapshot.DecodeMeta(b)
			if err != nil {
				c.cfg.Log.Warn("state sync: a peer's snapshot meta does not decode", "peer", from, "err", err)
				continue
			}
			h := m.Hash()
			if offers[h] == nil {
				offers[h] = &offer{meta: m}
			}
			offers[h].peers = append(offers[h].peers, from)
		}
	}
	return offers, round, nil
}

// pick returns the highest offered snapshot not given up, preferring
// those offered by a peer not suspect.
func (c *client) pick(offers map[[32]byte]*offer) (*offer, bool) {
	if o, ok := c.best(offers, true); ok {
		return o, true
	}
	return c.best(offers, false)
}

func (c *client) best(offers map[[32]byte]*offer, trusted bool) (*offer, bool) {
	var best *offer
	for h, o := range offers {
		if c.failed[h] || o.meta.Height < c.cfg.MinHeight || !c.restores(o.meta.Format) || trusted && !slices.ContainsFunc(o.peers, func(p uint32) bool { return !c.suspect[p] }) {
			continue
		}
		if best == nil || o.meta.Height > best.meta.Height ||
			o.meta.Height == best.meta.Height && len(o.peers) > len(best.peers) {
			best = o
		}
	}
	return best, best != nil
}

// restores reports whether the application can restore a snapshot of
// format.
func (c *client) restores(format uint32) bool {
	switch format {
	case snapshot.Format:
		return c.cfg.App != nil
	case snapshot.FormatABCI:
		return c.cfg.Keeper != nil
	}
	return false
}

// maxFailedJump is how many snapshots a running validator's jump
// (MinHeight set) gives up before it goes back to its blocks.
const maxFailedJump = 3

// firstAskAgain is how soon unanswered snapshot list requests are first
// sent again.
const firstAskAgain = 100 * time.Millisecond

var errTimeout = errors.New("statesync: no answer in time")

// recv returns the next envelope, or errTimeout at deadline.
func (c *client) recv(ctx context.Context, deadline time.Time) (uint32, wire.Envelope, error) {
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	from, e, err := c.cfg.Net.Recv(rctx)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return 0, wire.Envelope{}, errTimeout
	}
	return from, e, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fromGenesis is the answer when a quorum of peers has no snapshot yet
// (a young chain): the node replays the chain from genesis by catch-up,
// and the store starts with the same bound on what it signs as after a
// restore, since its record of what it signed is lost all the same.
func (c *client) fromGenesis(round uint64) (Result, error) {
	voted := round + 3
	c.cfg.Log.Warn("state sync: no peer has a snapshot yet; the validator replays the chain from genesis", "signs_above_round", voted)
	if err := c.cfg.Store.Persist(nil, &consensus.SafetyState{LastVotedRound: voted}); err != nil {
		return Result{}, err
	}
	return Result{VoteAbove: voted}, nil
}

// restore restores the snapshot of o, with round the highest certified
// round seen.
func (c *client) restore(ctx context.Context, o *offer, round uint64) (Result, error) {
	m := o.meta
	c.cfg.Log.Info("state sync: restoring a snapshot", "height", m.Height, "chunks", len(m.Chunks), "bytes", m.Bytes, "peers", o.peers)
	cm, err := c.certificate(ctx, o)
	if err != nil {
		return Result{}, err
	}
	if !bytes.Equal(cm.root, m.AppHash) {
		return Result{}, fmt.Errorf("the snapshot's app hash %x is not the certified root %x of height %d", m.AppHash, cm.root, m.Height)
	}
	// The chunks first: peers keep a snapshot only a while after it was
	// last asked for, while the blocks below it stay as long as it does.
	r, err := c.chunks(ctx, o)
	if err != nil {
		return Result{}, err
	}
	history, err := c.history(ctx, o, cm.block)
	if err != nil {
		return Result{}, err
	}
	puts, pairs, err := c.apply(ctx, m, r, cm.root)
	if err != nil {
		return Result{}, err
	}
	if c.cfg.RootKey != nil {
		puts[c.cfg.RootKey(m.Height)] = cm.root
	}
	voted := round + 3
	safety := consensus.SafetyState{LastVotedRound: voted, HighQC: cm.qc}
	if c.cfg.Signed != nil {
		if safety, err = c.cfg.Signed(cm.qc); err != nil {
			return Result{}, err
		}
		voted = safety.LastVotedRound
	}
	blocks := append(history, cm.block)
	if err := c.cfg.Store.Restore(blocks, cm.qc, store.AppWrite{Root: cm.root, Puts: puts}, safety); err != nil {
		return Result{}, err
	}
	return Result{Height: m.Height, Pairs: pairs, VoteAbove: voted}, nil
}

// apply has the application rebuild its state from a complete snapshot,
// and checks that the result's app hash is root. For the key/value format
// it returns the store writes; an ABCI application keeps its own state,
// and must say (Info) that it is at the snapshot's height with root.
func (c *client) apply(ctx context.Context, m *snapshot.Meta, r *snapshot.Restorer, root []byte) (map[string][]byte, int, error) {
	if m.Format == snapshot.FormatABCI {
		return map[string][]byte{}, 0, c.applyABCI(ctx, m, r, root)
	}
	keys, values, err := r.Pairs()
	if err != nil {
		return nil, 0, err
	}
	puts, got, err := c.cfg.App.RestoreState(c.cfg.AppGenesis, m.Height, keys, values)
	if err != nil {
		return nil, 0, fmt.Errorf("the application refused the snapshot: %w", err)
	}
	if !bytes.Equal(got, root) {
		return nil, 0, fmt.Errorf("the restored state's app hash %x is not the certified root %x", got, root)
	}
	return puts, len(keys), nil
}

func (c *client) applyABCI(ctx context.Context, m *snapshot.Meta, r *snapshot.Restorer, root []byte) error {
	chunks, err := r.Chunks()
	if err != nil {
		return err
	}
	s := app.Snapshot{Height: m.Height, Format: m.ABCI.Format, Chunks: uint32(len(chunks)), Hash: m.ABCI.Hash, Metadata: m.ABCI.Metadata}
	if err := c.cfg.Keeper.OfferSnapshot(ctx, s, root); err != nil {
		return fmt.Errorf("the application refused the snapshot: %w", err)
	}
	for i, chunk := range chunks {
		if err := c.cfg.Keeper.ApplySnapshotChunk(ctx, uint32(i), chunk); err != nil {
			return fmt.Errorf("the application refused chunk %d: %w", i, err)
		}
	}
	info, err := c.cfg.Keeper.Info(ctx)
	if err != nil {
		return fmt.Errorf("the application's info after the snapshot: %w", err)
	}
	if info.Height != m.Height || !bytes.Equal(info.AppHash, root) {
		return fmt.Errorf("after the snapshot the application is at height %d with app hash %x, not height %d with the certified root %x",
			info.Height, info.AppHash, m.Height, root)
	}
	return nil
}
