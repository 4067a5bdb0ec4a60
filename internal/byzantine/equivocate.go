package byzantine

import (
	"fmt"
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
	chainID  string
	signer   chain.Signer
	props    map[uint64]*twinProposals // rounds this traitor proposed in
	self     uint32
	n        int
	colluder map[uint32]bool
	side     map[uint32]int // honest validator -> the twin that talks to it
	late     []held         // proposals for the other side, not yet due
	now, lag int            // ticks
}

func newEquivocate(o Options) (consensus.Replica, error) {
	e := &equivocate{lag: max(1, o.Config.BaseTimeout/2), self: o.Config.Self, n: o.Config.Validators.Len(), colluder: map[uint32]bool{}, side: map[uint32]int{},
		chainID: o.Config.ChainID, signer: o.Config.Signer, props: map[uint64]*twinProposals{}}
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

func (s markedSource) Payload(height uint64, branch []*chain.Block) ([][]byte, []chain.Evidence) {
	p, ev := s.inner.Payload(height, branch)
	if s.twin == 1 {
		p = append(append([][]byte(nil), p...), []byte("equivocation"))
	}
	return p, ev
}
func (s markedSource) Time() int64                              { return s.inner.Time() }
func (s markedSource) Executed(p *chain.Block) (uint64, []byte) { return s.inner.Executed(p) }

// Step routes a message from an honest validator to the twin on its side.
// A fellow traitor's message goes to the twin that holds the block it
// refers to, or to both when neither or both do.
func (e *equivocate) Step(m consensus.Message) {
	if m.Vote != nil || m.QC != nil || m.BlockResponse != nil || m.SyncResponse != nil {
		// Both twins count every vote and certificate sent to the
		// traitor, and take every block a peer serves (whichever twin
		// asked for it), so that both hold the chain and the certificate
		// to lead with. Proposals still reach only the twin of the
		// proposer's side: that split is what the twins vote on.
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
					e.noteProposal(s, m.Proposal)
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
	out.Messages = append(out.Messages, e.completeEquivocations()...)
	return out
}

// twinProposals are the traitor's proposals of one round, by twin.
type twinProposals struct {
	p  [2]*chain.Proposal
	at int // tick of the first
}

func (e *equivocate) noteProposal(twin int, p *chain.Proposal) {
	tp := e.props[p.Block.Round]
	if tp == nil {
		tp = &twinProposals{at: e.now}
		e.props[p.Block.Round] = tp
	}
	if tp.p[twin] == nil {
		tp.p[twin] = p
	}
}

// completeEquivocations makes sure the traitor equivocates whenever it
// leads: a twin that lags (it fetches the blocks its side did not see)
// may not propose in time, so once the late copies go out, a round with
// one twin's proposal only gets a second, conflicting one, built from the
// first with another payload and signed with the traitor's key, for the
// other side.
func (e *equivocate) completeEquivocations() []consensus.Message {
	var out []consensus.Message
	for round, tp := range e.props {
		if tp.p[0] != nil && tp.p[1] != nil {
			delete(e.props, round)
			continue
		}
		if e.now < tp.at+e.lag {
			continue
		}
		have := 0
		if tp.p[0] == nil {
			have = 1
		}
		forged := e.conflicting(tp.p[have], 1-have)
		for _, p := range peers(e.n, e.self) {
			if !e.colluder[p] && e.side[p] == 1-have {
				out = append(out, consensus.Message{From: e.self, To: p, Proposal: forged})
			}
		}
		delete(e.props, round)
	}
	return out
}

func (e *equivocate) conflicting(p *chain.Proposal, twin int) *chain.Proposal {
	b := *p.Block
	b.Payload = append(slices.Clone(b.Payload), []byte(fmt.Sprintf("equivocation-%d", twin)))
	h := b.Hash(e.chainID)
	return &chain.Proposal{Block: &b, TC: p.TC, Sig: e.signer.Sign(chain.ProposalSignBytes(e.chainID, b.Round, h))}
}

func (s markedSource) HasTxs() bool { return s.inner.HasTxs() }

func (s markedSource) Check(b *chain.Block) error { return s.inner.Check(b) }
