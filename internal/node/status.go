package node

import (
	"fmt"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// Status is a snapshot of the node, published by its loop for readers on
// other goroutines (the API, the testnet display).
type Status struct {
	Node          uint32
	ChainID       string
	Height        uint64
	Round         uint64
	Leader        uint32
	LastBlockHash chain.Hash
	Validators    int
	Behavior      string
	App           string
	TxsCommitted  uint64
	TPS           float64 // committed transactions per second, last 10 s
	Peers         int     // peers with an outbound connection up
	Pending       int     // transactions in the mempool
	Links         []Link  // connection state of every other validator; read-only once published
	AppError      string  // why the application is unusable; "" when it answers
	// CatchingUp: the highest certified block this validator knows of is
	// more than readyLag above its committed height, or it has not heard
	// from the network since it started (so it cannot know).
	CatchingUp bool
	// Heard: a certificate from the network has moved this validator's
	// round since it started.
	Heard     bool
	Certified uint64 // height of the highest certified block known of
}

// readyLag is how far the highest certified block may be above the
// committed one in a validator that keeps up: the 2-chain rule commits a
// block once its child is certified, so one or two in steady state.
const readyLag = 4

// certifier is a replica that knows its highest certified block.
type certifier interface {
	CertifiedHeight() uint64
}

// heardNetwork reports whether the round has moved since the first
// status: only a certificate, which takes a quorum, moves it, so until
// then the validator knows nothing of where the network is (a wiped one
// knows no block at all).
func (n *Node) heardNetwork(round uint64) bool {
	if !n.heard && n.startRound == nil {
		n.startRound = &round
	}
	if !n.heard && round > *n.startRound {
		n.heard = true
	}
	return n.heard
}

// Link is the connection state between this node and one other validator.
type Link struct {
	Validator uint32
	Out, In   bool // an outbound / inbound connection is up
}

// tpsWindow is the span over which Status.TPS is averaged.
const tpsWindow = 10 * time.Second

// Status returns the latest snapshot.
func (n *Node) Status() Status { return *n.status.Load() }

type rounder interface {
	Round() uint64
	Leader(round uint64) uint32
}

func (n *Node) publish() {
	s := Status{
		Node: n.self, ChainID: n.chainID, Height: n.store.CommittedHeight(), LastBlockHash: n.lastHash,
		Validators: n.vals.Len(), Behavior: n.behavior, App: n.home.Genesis.App,
		TxsCommitted: n.txsTotal, Pending: n.pool.Len(), AppError: n.appError(),
	}
	if s.Height > 0 && s.LastBlockHash.IsZero() {
		if _, h, _, ok := n.store.CommittedBlock(s.Height); ok {
			n.lastHash, s.LastBlockHash = h, h
		}
	}
	if r, ok := n.replica.(rounder); ok {
		s.Round = r.Round()
		s.Leader = r.Leader(s.Round)
	} else {
		s.Round = n.round
		s.Leader = consensus.RoundRobin{N: n.vals.Len()}.Leader(s.Round)
	}
	s.Heard = n.heardNetwork(s.Round)
	if c, ok := n.replica.(certifier); ok {
		s.Certified = c.CertifiedHeight()
		behind := s.Certified > s.Height+readyLag
		s.CatchingUp = behind || !s.Heard
		n.catchUp.note(n, behind, s.Height, s.Certified, time.Now())
	}
	n.metrics.round.Set(float64(s.Round))
	now := time.Now()
	i := 0
	for i < len(n.window) && now.Sub(n.window[i].at) > tpsWindow {
		i++
	}
	n.window = n.window[i:]
	txs := 0
	for _, m := range n.window {
		txs += m.txs
	}
	s.TPS = float64(txs) / tpsWindow.Seconds()
	if old := n.status.Load(); old != nil {
		s.Peers, s.Links = old.Peers, old.Links
	}
	n.status.Store(&s)
}

// observe refreshes counters that are read, not pushed: peer connections
// and the core's dropped-message reasons.
func (n *Node) observe() {
	st := n.tr.Stats()
	up := 0
	links := make([]Link, 0, len(st.Peers))
	for _, p := range st.Peers {
		if p.OutConnected {
			up++
		}
		links = append(links, Link{Validator: p.Index, Out: p.OutConnected, In: p.InConnected})
	}
	n.metrics.peers.Set(float64(up))
	if c, ok := n.replica.(*consensus.Core); ok {
		for reason, count := range c.Stats().Dropped {
			if d := count - n.dropped[reason]; d > 0 {
				n.metrics.dropped.WithLabelValues(reason).Add(float64(d))
				n.dropped[reason] = count
			}
		}
	}
	n.notePruned()
	s := *n.status.Load()
	s.Peers, s.Links = up, links
	n.status.Store(&s)
}

// catchUpEvery is how often a validator catching up logs its progress.
const catchUpEvery = 5 * time.Second

// catchUpLog writes a progress line every catchUpEvery while the
// validator catches up, with its rate, and one line when it has.
type catchUpLog struct {
	active bool
	at     time.Time // of the last line
	height uint64    // committed then
}

func (l *catchUpLog) note(n *Node, behind bool, height, certified uint64, now time.Time) {
	switch {
	case behind && !l.active:
		l.active, l.at, l.height = true, now, height
		n.log.Info("catching up", "committed", height, "certified", certified)
	case behind && now.Sub(l.at) >= catchUpEvery:
		rate := float64(height-min(l.height, height)) / now.Sub(l.at).Seconds()
		l.at, l.height = now, height
		n.log.Info("catching up", "committed", height, "certified", certified, "blocks_per_second", fmt.Sprintf("%.0f", rate))
	case !behind && l.active:
		l.active = false
		n.log.Info("caught up", "committed", height)
	}
}
