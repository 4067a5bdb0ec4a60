package byzantine

import (
	"slices"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// Equivocation is built the Twins way: the traitor runs two honest cores
// that share its key, and shows each to a different half of the honest
// validators. As a leader its two cores propose different blocks, one to
// each half; as a voter each core votes for the block its half saw. No
// line of adversary logic is needed beyond the routing below, and with at
// most f traitors two halves can never both gather a quorum.

type equivocate struct {
	twins    [2]*consensus.Core
	self     uint32
	n        int
	colluder map[uint32]bool
	side     map[uint32]int // honest validator -> the twin that talks to it
	late     []held         // proposals for the other side, not yet due
	now, lag int            // ticks
}

func newEquivocate(o Options) (consensus.Replica, error) {
	e := &equivocate{lag: max(1, o.Config.BaseTimeout/2), self: o.Config.Self, n: o.Config.Validators.Len(), colluder: map[uint32]bool{}, side: map[uint32]int{}}
	for _, c := range o.Colluders {
		e.colluder[c] = true
	}
	var honest []uint32
	for i := range uint32(e.n) {
		if !e.colluder[i] && i != e.self {
			honest = append(honest, i)
		}
	}
	for i, h := range honest {
		if i >= len(honest)/2 {
			e.side[h] = 1
		}
	}
	for t := range e.twins {
		cfg := o.Config
		cfg.Source = markedSource{inner: cfg.Source, twin: t}
		c, err := consensus.New(cfg)
		if err != nil {
			return nil, err
		}
		e.twins[t] = c
	}
	return e, nil
}

// markedSource makes the second twin's payloads differ from the first's, so
// that its blocks conflict.
type markedSource struct {
	inner consensus.BlockSource
	twin  int
}

func (s markedSource) Payload(height uint64, branch []*chain.Block) [][]byte {
	p := s.inner.Payload(height, branch)
	if s.twin == 1 {
		p = append(append([][]byte(nil), p...), []byte("equivocation"))
	}
	return p
}
func (s markedSource) Time() int64                    { return s.inner.Time() }
func (s markedSource) Executed() (uint64, chain.Hash) { return s.inner.Executed() }

// Step routes a message from an honest validator to the twin on its side.
// A fellow traitor's message goes to the twin that holds the block it
// refers to, or to both when neither or both do.
func (e *equivocate) Step(m consensus.Message) {
	if m.Vote != nil || m.QC != nil || m.Proposal != nil && !e.colluder[m.From] {
		// Both twins count every vote and certificate sent to the
		// traitor, and follow every honest proposal, so that both hold
		// the chain and the certificate to lead with, draw the same
		// leaders, and both propose when the traitor leads. (Voting for
		// the same honest block, they sign the same vote.)
		for _, t := range e.twins {
			t.Step(m)
		}
		return
	}
	if !e.colluder[m.From] {
		e.twins[e.side[m.From]].Step(m)
		return
	}
	ref, ok := reference(m)
	for _, t := range e.twins {
		if !ok || t.HasBlock(ref) || !e.twins[0].HasBlock(ref) && !e.twins[1].HasBlock(ref) {
			t.Step(m)
		}
	}
}

func reference(m consensus.Message) (chain.Hash, bool) {
	switch {
	case m.Proposal != nil && m.Proposal.Block != nil:
		return m.Proposal.Block.Parent, true
	case m.Vote != nil:
		return m.Vote.BlockHash, true
	case m.Timeout != nil && m.Timeout.HighQC != nil:
		return m.Timeout.HighQC.BlockHash, true
	case m.BlockRequest != nil:
		return m.BlockRequest.Hash, true
	}
	return chain.Hash{}, false
}

func (e *equivocate) Tick() {
	e.now++
	for _, t := range e.twins {
		t.Tick()
	}
}

// Ready merges the twins' output: each twin's messages reach only its own
// side of the honest validators, and every traitor; proposals reach
// everyone.
// Round reports the furthest round either twin has reached.
func (e *equivocate) Round() uint64 { return max(e.twins[0].Round(), e.twins[1].Round()) }

// Leader returns the leader of round.
func (e *equivocate) Leader(round uint64) uint32 { return e.twins[0].Leader(round) }

func (e *equivocate) Ready() consensus.Ready {
	var out consensus.Ready
	for s, t := range e.twins {
		r := t.Ready()
		if s == 0 {
			out.Safety, out.Committed = r.Safety, r.Committed
		}
		out.Blocks = append(out.Blocks, r.Blocks...)
		for _, m := range r.Messages {
			if m.To != consensus.Broadcast {
				if e.colluder[m.To] || e.side[m.To] == s {
					out.Messages = append(out.Messages, m)
				}
				continue
			}
			for _, p := range peers(e.n, e.self) {
				mm := m
				mm.To = p
				switch {
				case e.colluder[p] || e.side[p] == s:
					out.Messages = append(out.Messages, mm)
				case m.Proposal != nil:
					// The other side gets this twin's proposal
					// too, a little later than its own twin's:
					// every honest validator then holds both
					// conflicting blocks, the proof of the
					// equivocation.
					e.late = append(e.late, held{release: e.now + e.lag, m: mm})
				}
			}
		}
	}
	i := 0
	for i < len(e.late) && e.late[i].release <= e.now {
		out.Messages = append(out.Messages, e.late[i].m)
		i++
	}
	e.late = slices.Clone(e.late[i:])
	return out
}

func (s markedSource) HasTxs() bool { return s.inner.HasTxs() }

func (s markedSource) Check(b *chain.Block) error { return s.inner.Check(b) }
