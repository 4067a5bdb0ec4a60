// Package node runs one validator as a real process: it drives the
// consensus core (or a Byzantine behaviour wrapping it) with wall-clock
// ticks and messages from the authenticated transport, and honours the
// core's contract for every Ready: persist durably (fsync) first, then
// send, then commit and execute.
//
// Everything that touches the clock, the network and the disk lives here
// and in the packages it wires together (transport, store, app, mempool);
// the protocol itself stays in package consensus. One goroutine owns the
// core; the HTTP API reads a published status snapshot and the store,
// which are safe for concurrent use.
package node

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/events"
	"github.com/strategos/strategos/internal/mempool"
	"github.com/strategos/strategos/internal/store"
	"github.com/strategos/strategos/internal/store/journal"
	"github.com/strategos/strategos/internal/transport"
)

// Options configure a Node.
type Options struct {
	Home     *config.Home
	Behavior string       // a byzantine behaviour name; "" or "honest" for none
	Logger   *slog.Logger // default: discard
	// Listener, if set, is used for peer connections instead of listening
	// on the configured address (tests bind 127.0.0.1:0 first).
	Listener net.Listener
	// SignLog, if set, receives one line for every vote, timeout and
	// proposal this validator signs, written after the safety state is
	// persisted and before the message is sent. Crash tests audit it for
	// contradictions across restarts.
	SignLog io.Writer
	Events  events.Config // the live event stream's limits; zero: the defaults
	// App builds the validator's application over the node's store (an
	// in-process application keeps its state there; one over ABCI keeps
	// its own and ignores it). Required.
	App func(st app.State) (app.Application, error)
	// ResyncNotBefore: the node does not stop to jump to a snapshot
	// (FarBehind) before this time; the daemon sets it after a jump that
	// came to nothing.
	ResyncNotBefore time.Time
}

// Node is one running validator.
type Node struct {
	home     *config.Home
	chainID  string
	vals     *chain.ValidatorSet
	self     uint32
	behavior string
	log      *slog.Logger
	tick     time.Duration

	store   *store.Store
	tr      *transport.Transport
	replica consensus.Replica
	app     app.Application
	clock   proposalClock // see check.go
	pool    *mempool.Pool
	metrics *metrics

	status     atomic.Pointer[Status]
	highQC     uint64
	highTC     uint64
	round      uint64
	dropped    map[string]int
	window     []commitMark     // recent commits, for tx/s
	catchUp    catchUpLog       // progress lines while catching up
	prunedSeen consensus.Pruned // the last "pruned" answer logged: prune.go
	// prunedBy: peer -> the lowest height it said it pruned (resync.go).
	prunedBy        map[uint32]uint64
	farBehind       *FarBehind // Run stops with it, at tick leaveAt: resync.go
	leaveAt         time.Time
	certifiedMax    uint64      // the highest certified height seen: resync.go
	leaving         atomic.Bool // clients are answered busy
	resyncNotBefore time.Time
	snapshotting    atomic.Bool    // a snapshot is being written: snapshots.go
	snapshotWriters sync.WaitGroup // Close waits for the one writing, which reads the app and store
	startRound      *uint64        // the round at the first status (status.go)
	heard           bool           // the round has moved since (status.go)
	// snapshotServed: height -> time.Time a peer last asked for that
	// snapshot's certificate or a chunk of it (snapshots.go).
	snapshotServed sync.Map
	snapshotAt     atomic.Int64 // unix time of the last snapshot taken
	txsTotal       uint64
	lastHash       chain.Hash
	ticks          uint64
	appSt          appState     // whether the application answers: appstate.go
	deferred       [][]byte     // journaled transactions to admit once the application is back; consensus goroutine only
	admitMu        sync.RWMutex // admission (read) and commits with their rechecks (write)
	claims         claims       // transactions being admitted: see admitChunk
	rejected       rejections
	acceptLog      *journal.Journal // client transactions accepted, durable before 202: durable.go
	evidence       evidencePool
	gossipMu       sync.Mutex
	gossipTxs      [][]byte                   // admitted here, to be sent to peers on the next tick
	gossipIn       chan [][]byte              // gossiped batches, admitted off the consensus loop
	gossipKick     chan struct{}              // a client's transactions wait to be gossiped
	blockTxs       map[*chain.Block][]*app.Tx // of uncommitted blocks; consensus goroutine only
	commits        atomic.Uint64              // commit batches, under admitMu: admission rereads the index
	maxWaiting     int                        // clients are answered busy beyond this many waiting for a block
	signLog        io.Writer
	decodeLog      logLimiter // frames from peers that do not decode
	muted          mutes      // peers whose frames are dropped undecoded for a while
	serve          *server    // peers' block and sync requests: serve.go
	evidenceLog    logLimiter // evidence refused
	ev             eventLog   // the live event stream, see events.go
	closeOnce      sync.Once
	closeError     error
}

type commitMark struct {
	at  time.Time
	txs int
}

// New opens the node's store and builds its parts; Run starts it.
func New(o Options) (*Node, error) {
	h := o.Home
	if h == nil {
		return nil, errors.New("node: no home")
	}
	tick, _, _, _ := h.Node.Timing()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	behavior := o.Behavior
	if behavior == "" {
		behavior = byzantine.Honest
	}
	if !byzantine.Valid(behavior) {
		return nil, fmt.Errorf("node: unknown behaviour %q", behavior)
	}
	vals, err := h.Genesis.ValidatorSet()
	if err != nil {
		return nil, err
	}
	chainID := h.Genesis.ChainID
	genesis := chain.Genesis(chainID, vals)
	if err := recoverJump(h); err != nil { // a jump cut short: resync.go
		return nil, err
	}
	st, err := store.Open(storePath(h), chainID, genesis.Hash(chainID))
	if err != nil {
		return nil, err
	}
	if before, after := st.Compacted(); after < before {
		log.Info("store compacted: pruning had freed most of it", "bytes_before", before, "bytes_after", after)
	}
	n := &Node{
		home: h, chainID: chainID, vals: vals, self: h.Node.Index, behavior: behavior,
		log:        log.With("node", h.Node.Index),
		tick:       tick,
		store:      st,
		pool:       mempool.New(mempool.Config{MaxTxs: h.Node.MempoolMaxTxs}),
		maxWaiting: cmp.Or(h.Node.MempoolMaxWaiting, defaultMaxWaiting),
		metrics:    newMetrics(),
		dropped:    make(map[string]int),
		signLog:    o.SignLog,
		// A few frames of each: beyond that, gossip is dropped (counted);
		// blocks bring what a validator misses.
		gossipIn:   make(chan [][]byte, 64),
		gossipKick: make(chan struct{}, 1),
		blockTxs:   make(map[*chain.Block][]*app.Tx),
		serve:      newServer(),

		resyncNotBefore: o.ResyncNotBefore,
	}
	n.initEvents(o.Events)
	n.registerDurableMetrics()
	if err := n.build(o); err != nil {
		st.Close()
		return nil, err
	}
	if err := n.openAcceptLog(); err != nil {
		st.Close()
		return nil, err
	}
	n.publish()
	return n, nil
}

func (n *Node) build(o Options) error {
	h := n.home
	if o.App == nil {
		return errors.New("node: no application")
	}
	a, err := o.App(n.store)
	if err != nil {
		return err
	}
	n.app = a
	if _, err := n.handshake(0); errors.Is(err, app.ErrUnavailable) {
		n.appFailed(err) // the node starts, and tries again: appstate.go
	} else if err != nil {
		return err
	}
	var peers []transport.Peer
	for _, p := range h.Node.Peers {
		if !n.vals.Has(p.Index) {
			return fmt.Errorf("node: peer %d is not a validator", p.Index)
		}
		peers = append(peers, transport.Peer{Index: p.Index, PubKey: n.vals.Get(p.Index).PubKey, Addr: p.Addr})
	}
	tr, err := transport.New(transport.Config{
		Self: n.self, Key: h.Key, Peers: peers, ListenAddr: h.Node.P2PListen,
		Listener: o.Listener, Logger: n.log.With("part", "transport"),
	})
	if err != nil {
		return err
	}
	n.tr = tr
	if err := checkBlockBudget(n.vals.Len(), tr.MaxFrame()); err != nil {
		return err
	}
	n.metrics.watchTransport(tr)
	_, emptyBlock, base, maxTimeout := h.Node.Timing()
	cfg := consensus.Config{
		ChainID:         n.chainID,
		Validators:      n.vals,
		Self:            n.self,
		Signer:          chain.Ed25519Signer{Key: h.Key},
		Source:          source{n},
		Storage:         n.store,
		BaseTimeout:     base,
		MaxTimeout:      maxTimeout,
		EmptyBlockDelay: emptyBlock,
		// Voters refuse what the node would never build, so a Byzantine
		// leader's proposal cannot outgrow the frame either.
		MaxPayloadTxs:   maxBlockTxs,
		MaxPayloadBytes: maxBlockBytes,
		// A response of one block is at most a proposal, which fits the
		// frame (checkBlockBudget); more blocks stop at this budget, which
		// leaves room for the envelope and a sync response's QC.
		MaxResponseBytes: tr.MaxFrame() - responseOverhead,
	}
	rep, err := byzantine.New(n.behavior, byzantine.Options{
		Config:    cfg,
		Colluders: []uint32{n.self},
		Rand:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(n.self))),
	})
	if err != nil {
		return err
	}
	n.replica = rep
	if n.behavior != byzantine.Honest {
		n.log.Warn("running a Byzantine behaviour", "behavior", n.behavior, "what", byzantine.Describe(n.behavior))
	}
	return nil
}

// Run runs the validator until ctx is done, then stops it cleanly.
func (n *Node) Run(ctx context.Context) error {
	defer n.Close()
	if err := n.tr.Start(ctx); err != nil {
		return fmt.Errorf("node: start transport: %w", err)
	}
	n.log.Info("validator started", "chain_id", n.chainID, "height", n.store.CommittedHeight(),
		"p2p", n.home.Node.P2PListen, "behavior", n.behavior)
	ticker := time.NewTicker(n.tick)
	defer ticker.Stop()
	var workers sync.WaitGroup
	defer workers.Wait()
	wctx, stopWorkers := context.WithCancel(ctx)
	defer stopWorkers()
	workers.Go(func() { n.admitGossip(wctx) })
	workers.Go(func() { n.serveWorker(wctx) })
	workers.Go(func() { n.acceptLog.Run(wctx) })
	workers.Go(func() { n.runPruner(wctx) })
	if err := n.flush(); err != nil {
		return err
	}
	// Frames are taken highest class first, so that consensus messages are
	// never held up by sync or gossip traffic; at most maxBatch of them
	// are taken before persisting, so that one fsync covers many messages
	// and yet ticks and ctx are checked often.
	const maxBatch = 256
	inbound := n.startDecoders(wctx, &workers)
	// drain receives up to limit frames that have already arrived, looking
	// at Consensus again after each one; it reports how many, and false
	// once the transport has stopped.
	drain := func(limit int) (int, bool) {
		got := 0
	next:
		for got < limit {
			for _, ch := range inbound {
				select {
				case in, ok := <-ch:
					if !ok {
						return got, false
					}
					n.receive(in)
					got++
					continue next
				default:
				}
			}
			break
		}
		return got, true
	}
	stopping := func() { n.log.Info("validator stopping", "height", n.store.CommittedHeight()) }
	for {
		select {
		case <-ctx.Done():
			stopping()
			return nil
		case <-ticker.C:
			n.onTick()
		case <-n.gossipKick:
			n.sendGossip()
		default:
		}
		got, open := drain(maxBatch)
		if open && got == 0 {
			// Nothing has arrived: wait for a frame, a tick or the end.
			var in inFrame
			woke := false // by a frame, or by the transport stopping
			select {
			case <-ctx.Done():
				stopping()
				return nil
			case <-ticker.C:
				n.onTick()
			case <-n.gossipKick:
				n.sendGossip()
			case in, open = <-inbound[transport.Consensus]:
				woke = true
			case in, open = <-inbound[transport.Sync]:
				woke = true
			case in, open = <-inbound[transport.Gossip]:
				woke = true
			}
			if woke && open {
				n.receive(in)
				_, open = drain(maxBatch - 1)
			}
		}
		if !open { // the transport stops only when the node does
			stopping()
			return nil
		}
		if err := n.flush(); err != nil {
			n.log.Error("stopping: cannot persist", "err", err)
			return err
		}
		// Checked as soon as the messages that show the lag are in, before
		// the catch-up they start has replayed much: resync.go.
		n.checkFarBehind()
		if n.farBehind != nil && time.Now().After(n.leaveAt) {
			n.log.Warn("stopping to restore a snapshot", "committed", n.store.CommittedHeight())
			return n.farBehind
		}
	}
}

// Close stops the transport and closes the store. Run calls it.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.snapshotWriters.Wait()
		var appErr error
		if n.app != nil {
			appErr = n.app.Close()
		}
		n.closeError = errors.Join(n.tr.Close(), n.acceptLog.Close(), appErr, n.store.Close())
	})
	return n.closeError
}

func (n *Node) onTick() {
	n.ticks++
	n.replica.Tick()
	n.sendGossip()
	if n.ticks%50 == 1 { // at the first tick too: /readyz reads the links
		n.observe()
	}
	n.publish()
}

// Validators returns the validator set.
func (n *Node) Validators() *chain.ValidatorSet { return n.vals }

// Store returns the node's store (safe for concurrent reads).
func (n *Node) Store() *store.Store { return n.store }

// App returns the node's application.
func (n *Node) App() app.Application { return n.app }

// PubKey returns the validator's public key.
func (n *Node) PubKey() ed25519.PublicKey { return n.home.Key.Public().(ed25519.PublicKey) }

// source feeds the core's leader with transactions and time.
type source struct{ n *Node }

const (
	maxBlockTxs   = chain.MaxBlockTxs
	maxBlockBytes = chain.MaxBlockBytes // checkBlockBudget: it fits the transport's frame
)

// Payload builds a block this validator leads: the evidence it has
// pending, then what the application makes of the mempool's candidates
// (PrepareProposal), all within the block's budget. While the application
// is unusable, the block carries evidence only.
func (s source) Payload(height uint64, branch []*chain.Block) ([][]byte, []chain.Evidence) {
	n := s.n
	var skip map[chain.Hash]bool
	var accused map[uint32]bool
	for _, b := range branch {
		for _, t := range n.txsOf(b) {
			if skip == nil {
				skip = make(map[chain.Hash]bool)
			}
			skip[t.Hash] = true
		}
		for _, e := range b.Evidence {
			if accused == nil {
				accused = make(map[uint32]bool)
			}
			accused[e.Validator] = true
		}
	}
	// Evidence comes out of the block's bytes, never on top of them: a
	// block always fits the transport's frame.
	ev, size := n.pendingEvidence(accused)
	if n.appError() != "" {
		return nil, ev
	}
	maxBytes := maxBlockBytes - size
	cands := n.pool.Reap(maxBlockTxs, maxBytes, skip)
	ctx, cancel := appContext()
	defer cancel()
	now := n.clock.now()
	txs, err := n.app.PrepareProposal(ctx, app.Proposal{
		Height: height, Time: now, Proposer: n.self, Txs: cands, MaxBytes: maxBytes, MaxTxs: maxBlockTxs,
		Misbehavior: proposedMisbehavior(height, now, ev),
	})
	if err == nil {
		err = fitsBlock(txs, maxBlockTxs, maxBytes)
	}
	if err != nil {
		n.appFailed(fmt.Errorf("prepare proposal: %w", err))
		return nil, ev
	}
	return app.Bytes(txs), ev
}

// fitsBlock refuses a prepared proposal over the block's budget.
func fitsBlock(txs []*app.Tx, maxTxs, maxBytes int) error {
	size := 0
	for _, t := range txs {
		size += len(t.Bytes)
	}
	if len(txs) > maxTxs || size > maxBytes {
		return fmt.Errorf("%w: %d transactions of %d bytes, at most %d and %d", app.ErrUnavailable, len(txs), size, maxTxs, maxBytes)
	}
	return nil
}

func (s source) Time() int64 { return s.n.clock.now() } // see check.go
// Executed carries the root of the height after the parent's, so that
// every height's root is carried by some block and a light client can
// get a certified root for any height (docs/consensus.md, "Commit
// certificates"). When this validator's execution is more than
// maxRootLag heights ahead of the parent's (after a stall, or a parent
// from a lagging proposer) it carries its latest instead, skipping the
// roots between, so that the carried root never falls far behind.
func (s source) Executed(parent *chain.Block) (uint64, []byte) {
	h, root := s.n.store.AppState()
	next := parent.ExecHeight + 1
	if parent.Height == 0 || h < next || h-parent.ExecHeight > maxRootLag {
		return h, bytes.Clone(root)
	}
	r, ok, err := s.n.store.AppGet(rootKey(next))
	if err != nil || !ok {
		return h, bytes.Clone(root)
	}
	return next, r
}

// maxRootLag is how far the carried root may fall behind this validator's
// execution before a block skips to its latest.
const maxRootLag = 8

func (s source) HasTxs() bool { return s.n.pool.Ready() || s.n.hasPendingEvidence() }
