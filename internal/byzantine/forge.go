package byzantine

import (
	"math/rand/v2"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// newForgeQC replaces the certificate in each of its proposals with a
// fabricated one: a quorum of claimed signers whose signatures are random
// bytes, certifying a block nobody saw, one round before the proposal.
// The proposal itself is signed with the real key, so only the
// certificate check stands between honest validators and the forgery.
func newForgeQC(o Options) (consensus.Replica, error) {
	c, err := consensus.New(o.Config)
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	return &wrapper{core: c, filter: func(r *consensus.Ready) {
		for i, m := range r.Messages {
			if m.Proposal == nil {
				continue
			}
			b := *m.Proposal.Block
			b.QC = forgeQC(o.Rand, cfg.Validators, b.Round-1)
			b.Parent = b.QC.BlockHash
			h := b.Hash(cfg.ChainID)
			r.Messages[i].Proposal = &chain.Proposal{
				Block: &b,
				Sig:   cfg.Signer.Sign(chain.ProposalSignBytes(cfg.ChainID, b.Round, h)),
			}
		}
	}}, nil
}

// forgeQC fabricates a certificate claiming every validator's vote.
func forgeQC(rng *rand.Rand, vals *chain.ValidatorSet, round uint64) *chain.QC {
	qc := &chain.QC{Round: round, BlockHash: randomHash(rng)}
	for i := range uint32(vals.Len()) {
		qc.Votes = append(qc.Votes, chain.Signature{Signer: i, Sig: randomBytes(rng, 64)})
	}
	return qc
}

func randomHash(rng *rand.Rand) chain.Hash {
	var h chain.Hash
	copy(h[:], randomBytes(rng, len(h)))
	return h
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// replayDepth is how many past messages the replay behaviour remembers.
const replayDepth = 256

// newReplay behaves honestly but also, every tick, resends a few messages
// it sent or received earlier: old proposals, votes, timeouts, signed by
// itself or by others. Honest validators must recognise them as stale or
// duplicate and change nothing.
func newReplay(o Options) (consensus.Replica, error) {
	c, err := consensus.New(o.Config)
	if err != nil {
		return nil, err
	}
	n := o.Config.Validators.Len()
	self := o.Config.Self
	var past []consensus.Message
	var due []consensus.Message
	keep := func(m consensus.Message) {
		if m.Proposal == nil && m.Vote == nil && m.Timeout == nil {
			return
		}
		if len(past) >= replayDepth {
			past = past[1:]
		}
		past = append(past, m)
	}
	r := &replay{wrapper: wrapper{core: c}, keep: keep}
	r.tick = func() {
		for range 2 {
			if len(past) == 0 {
				return
			}
			m := past[o.Rand.IntN(len(past))]
			m.To = uint32(o.Rand.IntN(n))
			if m.To == self {
				m.To = consensus.Broadcast
			}
			due = append(due, m)
		}
	}
	r.filter = func(rd *consensus.Ready) {
		for _, m := range rd.Messages {
			keep(m)
		}
		rd.Messages = append(rd.Messages, due...)
		due = nil
	}
	return r, nil
}

type replay struct {
	wrapper
	keep func(consensus.Message)
}

func (r *replay) Step(m consensus.Message) {
	r.keep(m)
	r.wrapper.Step(m)
}

// floodPerTick is how many junk messages the flood behaviour sends each
// tick.
const floodPerTick = 4

// newFlood behaves honestly but also sends junk every tick: votes and
// timeouts with random signatures, proposals for far-future rounds with
// forged certificates, requests for blocks that do not exist, and
// responses nobody asked for.
func newFlood(o Options) (consensus.Replica, error) {
	c, err := consensus.New(o.Config)
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	rng := o.Rand
	var junk []consensus.Message
	w := &wrapper{core: c}
	w.tick = func() {
		round := c.Round()
		for range floodPerTick {
			m := consensus.Message{To: consensus.Broadcast}
			switch rng.IntN(5) {
			case 0:
				m.Vote = &chain.Vote{Round: round, BlockHash: randomHash(rng), Voter: uint32(rng.IntN(cfg.Validators.Len())), Sig: randomBytes(rng, 64)}
			case 1:
				m.Timeout = &chain.Timeout{Round: round, HighQC: forgeQC(rng, cfg.Validators, round-1), Voter: uint32(rng.IntN(cfg.Validators.Len())), Sig: randomBytes(rng, 64)}
			case 2:
				b := &chain.Block{Height: 1 + rng.Uint64N(1<<20), Round: round + 1 + rng.Uint64N(1<<40), Proposer: cfg.Self}
				b.QC = forgeQC(rng, cfg.Validators, b.Round-1)
				b.Parent = b.QC.BlockHash
				m.Proposal = &chain.Proposal{Block: b, Sig: randomBytes(rng, 64)}
			case 3:
				m.BlockRequest = &consensus.BlockRequest{Hash: randomHash(rng), Count: 1 << 20}
			default:
				m.BlockResponse = &consensus.BlockResponse{Blocks: []*chain.Block{{Height: 7, Round: 9}}}
			}
			junk = append(junk, m)
		}
	}
	w.filter = func(r *consensus.Ready) {
		r.Messages = append(r.Messages, junk...)
		junk = nil
	}
	return w, nil
}
