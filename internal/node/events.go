package node

import (
	"cmp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/events"
)

// The live event stream (GET /v1/events) shows what this validator sees:
// messages as they arrive, and what it sends, certifies, commits and
// proves, derived from the core's Ready and observable state (the core
// itself stays pure and knows nothing of events). Everything here runs on
// the node's loop goroutine, and does nothing at all while nobody
// subscribes: one atomic load per message and per Ready.
//
// A Ready sums up many steps, so the events derived from it are published
// in the order that the protocol implies: by round, and within a round
// proposal, vote, timeout, certificate, then the next round; commits
// follow, since a commit needs a later certificate.

// eventLog is the emitter's memory, used only by the node's loop.
type eventLog struct {
	broker  *events.Broker
	seen    map[seenEvent]struct{}  // certificates, own messages and timeouts already published
	heights map[chain.Hash]uint64   // heights of recent blocks, for votes and certificates
	props   map[uint64][]chain.Hash // hashes of the proposals seen, by round
	round   uint64                  // the last round published
	voted   uint64                  // the last LastVotedRound seen
	top     uint64                  // the highest round seen, for pruning
	topH    uint64                  // the highest height seen, for pruning
	pending []orderedEvent          // reused between Readies
}

// seenEvent identifies an event that must be published once: a QC by
// round and block, a TC by round, a message by its signer and content.
type seenEvent struct {
	typ       string
	validator uint32
	round     uint64
	block     chain.Hash
	aux       uint64 // a timeout's high QC round
}

type orderedEvent struct {
	round uint64
	phase int
	e     events.Event
}

// Phases within a round, in protocol order.
const (
	phaseProposal = iota
	phaseVote
	phaseTimeout
	phaseQC
	phaseTC
	phaseNextRound
)

// Bounds of the emitter's memory.
const (
	eventRoundsKept  = 256
	eventHeightsKept = 1024
)

// initEvents builds the node's broker and its metrics.
func (n *Node) initEvents(c events.Config) {
	b := events.New(c)
	n.ev = eventLog{
		broker: b, seen: make(map[seenEvent]struct{}), heights: make(map[chain.Hash]uint64),
		props: make(map[uint64][]chain.Hash),
	}
	n.metrics.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strategos_events_dropped_total",
			Help: "Events of GET /v1/events dropped for subscribers whose buffers were full."},
			func() float64 { return float64(b.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "strategos_event_subscribers",
			Help: "Subscribers of GET /v1/events."},
			func() float64 { return float64(b.Subscribers()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strategos_events_refused_total",
			Help:        "Subscriptions to GET /v1/events refused, by reason: subscribers (the node held its maximum; 503) or client (the client held its maximum; 429).",
			ConstLabels: prometheus.Labels{"reason": "subscribers"}},
			func() float64 { full, _ := b.Refused(); return float64(full) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strategos_events_refused_total",
			Help:        "Subscriptions to GET /v1/events refused, by reason: subscribers (the node held its maximum; 503) or client (the client held its maximum; 429).",
			ConstLabels: prometheus.Labels{"reason": "client"}},
			func() float64 { _, client := b.Refused(); return float64(client) }),
	)
}

// Events returns the node's live event broker.
func (n *Node) Events() *events.Broker { return n.ev.broker }

// stepMark is taken before a received message is stepped, to tell
// afterwards whether the core refused it.
type stepMark struct {
	on      bool
	dropped map[string]int // the core's drop counts, nil for a Byzantine replica
}

func (n *Node) markStep(msg consensus.Message) stepMark {
	if (msg.Proposal == nil && msg.Vote == nil && msg.Timeout == nil) || !n.ev.broker.Active() {
		return stepMark{}
	}
	m := stepMark{on: true}
	if c, ok := n.replica.(*consensus.Core); ok {
		m.dropped = c.Stats().Dropped
	}
	return m
}

// emitReceived publishes a proposal, vote or timeout that a peer sent,
// with the reason the core refused it, if it did.
func (n *Node) emitReceived(m consensus.Message, mark stepMark) {
	if !mark.on || !n.ev.broker.Active() {
		return
	}
	rejected := n.refusal(mark)
	var e events.Event
	switch {
	case m.Proposal != nil && m.Proposal.Block != nil:
		// Only what the core accepted is remembered: a refused proposal's
		// round and height are whatever its sender made up.
		e, _ = n.proposalEvent(m.Proposal.Block, rejected == "")
	case m.Vote != nil:
		e = n.voteEvent(m.Vote)
	case m.Timeout != nil && m.Timeout.HighQC != nil:
		// Validators re-send their timeout while a round stays stuck; a
		// refused one is not remembered, its round being made up.
		t := m.Timeout
		if rejected == "" && !n.ev.first(seenEvent{typ: events.Timeout, validator: t.Voter, round: t.Round, aux: t.HighQC.Round}) {
			return
		}
		e = n.timeoutEvent(t)
	default:
		return
	}
	e.From = events.N(m.From)
	e.Rejected = rejected
	n.ev.broker.Publish(e)
}

// refusal names what the core dropped while stepping the last message.
func (n *Node) refusal(mark stepMark) string {
	c, ok := n.replica.(*consensus.Core)
	if !ok || mark.dropped == nil {
		return ""
	}
	var reasons []string
	for reason, count := range c.Stats().Dropped {
		if count > mark.dropped[reason] {
			reasons = append(reasons, reason)
		}
	}
	if len(reasons) == 0 {
		return ""
	}
	return slices.Min(reasons)
}

// emitReady publishes what a Ready shows, once it has been applied:
// certificates formed or learnt, the round entered, this validator's own
// proposals, votes and timeouts, and commits.
func (n *Node) emitReady(rd *consensus.Ready) {
	l := &n.ev
	if !l.broker.Active() {
		return
	}
	out := l.pending[:0]
	add := func(round uint64, phase int, e events.Event) {
		out = append(out, orderedEvent{round: round, phase: phase, e: e})
	}
	for _, m := range rd.Messages {
		switch {
		case m.Proposal != nil && m.Proposal.Block != nil && m.Proposal.Block.Proposer == n.self:
			// A Byzantine leader may send one proposal to each peer.
			b := m.Proposal.Block
			if e, h := n.proposalEvent(b, true); l.first(seenEvent{typ: events.Proposal, validator: n.self, round: b.Round, block: h}) {
				add(b.Round, phaseProposal, e)
			}
		case m.Vote != nil && m.Vote.Voter == n.self:
			if l.first(seenEvent{typ: events.Vote, validator: n.self, round: m.Vote.Round, block: m.Vote.BlockHash}) {
				add(m.Vote.Round, phaseVote, n.voteEvent(m.Vote))
			}
		case m.Timeout != nil && m.Timeout.Voter == n.self && m.Timeout.HighQC != nil:
			if l.first(seenEvent{typ: events.Timeout, validator: n.self, round: m.Timeout.Round, aux: m.Timeout.HighQC.Round}) {
				add(m.Timeout.Round, phaseTimeout, n.timeoutEvent(m.Timeout))
			}
		}
	}
	for _, b := range rd.Blocks {
		l.learn(b.Parent, b.Height-1)
	}
	for _, c := range rd.Committed {
		l.learn(c.Hash, c.Block.Height)
	}
	// Certificates: those that new blocks carry, those of committed
	// blocks, and a high QC or TC that rose (formed here, or learnt from
	// a timeout or a certificate).
	for _, b := range rd.Blocks {
		n.qcEvent(b.QC, b.Height-1, add)
	}
	for _, c := range rd.Committed {
		n.qcEvent(c.QC, c.Block.Height, add)
	}
	if s := rd.Safety; s != nil {
		if s.HighQC != nil {
			n.qcEvent(s.HighQC, l.heightOf(n, s.HighQC.BlockHash), add)
		}
		if tc := s.HighTC; tc != nil && l.first(seenEvent{typ: events.TC, round: tc.Round}) {
			e := events.Event{Type: events.TC, Node: events.N(n.self), Round: events.N(tc.Round), Signers: tc.Signers()}
			if tc.HighQC != nil {
				e.HighQCRound = events.N(tc.HighQC.Round)
			}
			add(tc.Round, phaseTC, e)
		}
	}
	if r, ok := n.replica.(rounder); ok {
		if cur := r.Round(); cur > l.round {
			l.round = cur
			add(cur-1, phaseNextRound, events.Event{Type: events.Round, Node: events.N(n.self), Round: events.N(cur), Leader: events.N(r.Leader(cur))})
		}
	}
	slices.SortStableFunc(out, func(a, b orderedEvent) int {
		return cmp.Or(cmp.Compare(a.round, b.round), cmp.Compare(a.phase, b.phase))
	})
	for _, o := range out {
		l.top = max(l.top, o.round)
		l.broker.Publish(o.e)
	}
	for _, c := range rd.Committed {
		b := c.Block
		l.broker.Publish(events.Event{
			Type: events.Commit, Node: events.N(n.self), Height: events.N(b.Height), Round: events.N(b.Round),
			BlockHash: c.Hash.String(), Txs: events.N(len(b.Payload)), Proposer: events.N(b.Proposer),
		})
	}
	clear(out)
	l.pending = out[:0]
	l.prune()
}

// qcEvent adds a QC's event unless it was published. A QC that this
// validator signed implies its vote, published first if it was not yet.
func (n *Node) qcEvent(qc *chain.QC, height uint64, add func(uint64, int, events.Event)) {
	l := &n.ev
	if qc == nil || qc.Round == 0 || !l.first(seenEvent{typ: events.QC, round: qc.Round, block: qc.BlockHash}) {
		return // round 0 is genesis
	}
	signers := qc.Signers()
	if slices.Contains(signers, n.self) && l.first(seenEvent{typ: events.Vote, validator: n.self, round: qc.Round, block: qc.BlockHash}) {
		add(qc.Round, phaseVote, n.voteEvent(&chain.Vote{Round: qc.Round, BlockHash: qc.BlockHash, Voter: n.self}))
	}
	e := events.Event{Type: events.QC, Node: events.N(n.self), Round: events.N(qc.Round), BlockHash: qc.BlockHash.String(), Signers: signers}
	if height > 0 {
		e.Height = events.N(height)
	}
	add(qc.Round, phaseQC, e)
}

// emitEvidence publishes misbehaviour this validator has just proven or
// accepted from a peer.
func (n *Node) emitEvidence(ev chain.Evidence) {
	if !n.ev.broker.Active() {
		return
	}
	e := events.Event{Type: events.Evidence, Node: events.N(n.self), Validator: events.N(ev.Validator),
		Kind: string(ev.Kind), Round: events.N(ev.Round)}
	if ev.Height > 0 {
		e.Height = events.N(ev.Height)
	}
	n.ev.broker.Publish(e)
}

// proposalEvent hashes the proposed block (the only costly part of
// emitting, paid only while someone subscribes) and, if asked, remembers
// its height and round.
func (n *Node) proposalEvent(b *chain.Block, remember bool) (events.Event, chain.Hash) {
	l := &n.ev
	h := b.Hash(n.chainID)
	if remember {
		l.learn(h, b.Height)
		if !slices.Contains(l.props[b.Round], h) {
			l.props[b.Round] = append(l.props[b.Round], h)
		}
		l.top = max(l.top, b.Round)
	}
	e := events.Event{
		Type: events.Proposal, Node: events.N(n.self), Height: events.N(b.Height), Round: events.N(b.Round),
		Validator: events.N(b.Proposer), BlockHash: h.String(), ParentHash: b.Parent.String(), Txs: events.N(len(b.Payload)),
	}
	if b.QC != nil {
		e.QCRound = events.N(b.QC.Round)
	}
	return e, h
}

func (n *Node) voteEvent(v *chain.Vote) events.Event {
	e := events.Event{Type: events.Vote, Node: events.N(n.self), Round: events.N(v.Round), Validator: events.N(v.Voter), BlockHash: v.BlockHash.String()}
	if h, ok := n.ev.heights[v.BlockHash]; ok {
		e.Height = events.N(h)
	}
	return e
}

func (n *Node) timeoutEvent(t *chain.Timeout) events.Event {
	return events.Event{Type: events.Timeout, Node: events.N(n.self), Round: events.N(t.Round), Validator: events.N(t.Voter),
		HighQCRound: events.N(t.HighQC.Round)}
}

// first records k and reports whether it is new.
func (l *eventLog) first(k seenEvent) bool {
	if _, ok := l.seen[k]; ok {
		return false
	}
	l.seen[k] = struct{}{}
	return true
}

func (l *eventLog) learn(h chain.Hash, height uint64) {
	l.heights[h] = height
	l.topH = max(l.topH, height)
}

// heightOf returns a block's height, from memory or else the store (the
// Ready's blocks are persisted by then); 0 if unknown.
func (l *eventLog) heightOf(n *Node, h chain.Hash) uint64 {
	if height, ok := l.heights[h]; ok {
		return height
	}
	if b, ok := n.store.Block(h); ok {
		l.learn(h, b.Height)
		return b.Height
	}
	return 0
}

// prune forgets what lies far below the highest round and height seen.
func (l *eventLog) prune() {
	if len(l.seen) > 4*eventRoundsKept && l.top > eventRoundsKept {
		floor := l.top - eventRoundsKept
		for k := range l.seen {
			if k.round < floor {
				delete(l.seen, k)
			}
		}
		for r := range l.props {
			if r < floor {
				delete(l.props, r)
			}
		}
	}
	if len(l.heights) > 2*eventHeightsKept && l.topH > eventHeightsKept {
		floor := l.topH - eventHeightsKept
		for h, height := range l.heights {
			if height < floor {
				delete(l.heights, h)
			}
		}
	}
}
