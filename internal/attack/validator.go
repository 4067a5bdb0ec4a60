package attack

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// Validator is the Byzantine validator: an honest consensus core, driven
// with real time over the attacker's own connections, whose output passes
// through Filter and beside which the attack sends what it likes. With no
// Filter it behaves as an honest validator (that executes nothing and keeps
// nothing on disk).
type Validator struct {
	ChainID string
	Self    uint32
	Key     ed25519.PrivateKey
	Vals    *chain.ValidatorSet

	// Filter, if set (see SetFilter), rewrites every message the core
	// sends: it returns what to send instead (nothing, the message itself,
	// or others). It runs on the core's goroutine.
	Filter func(m consensus.Message) []consensus.Message

	home     *config.Home
	core     *consensus.Core
	store    *memStore
	ln       *Listener
	peers    map[uint32]*outPeer
	byKey    map[string]uint32
	state    atomic.Pointer[State]
	filterMu sync.Mutex
	tapsMu   sync.Mutex
	taps     []chan consensus.Message
	wg       sync.WaitGroup
	cancel   context.CancelFunc
}

// State is what the attack reads of its own core.
type State struct {
	Round     uint64
	HighQC    *chain.QC
	TipHeight uint64
	TipHash   chain.Hash
}

// NewValidator builds the Byzantine validator of the node home in dir (its
// key, genesis and peers), not yet started.
func NewValidator(dir string) (*Validator, error) {
	h, err := config.Load(dir)
	if err != nil {
		return nil, err
	}
	vals, err := h.Genesis.ValidatorSet()
	if err != nil {
		return nil, err
	}
	v := &Validator{
		ChainID: h.Genesis.ChainID, Self: h.Node.Index, Key: h.Key, Vals: vals, home: h,
		store: newMemStore(h.Genesis.ChainID), peers: make(map[uint32]*outPeer), byKey: make(map[string]uint32),
	}
	for i := range uint32(vals.Len()) {
		if i != v.Self {
			v.byKey[string(vals.Get(i).PubKey)] = i
		}
	}
	for _, p := range h.Node.Peers {
		if p.Index != v.Self {
			v.peers[p.Index] = &outPeer{index: p.Index, addr: p.Addr, pub: vals.Get(p.Index).PubKey,
				q: make(chan outFrame, 512)}
		}
	}
	_, emptyBlock, base, maxTimeout := h.Node.Timing()
	v.core, err = consensus.New(consensus.Config{
		ChainID: v.ChainID, Validators: vals, Self: v.Self,
		Signer: chain.Ed25519Signer{Key: h.Key}, Source: emptySource{}, Storage: v.store,
		BaseTimeout: base, MaxTimeout: maxTimeout, EmptyBlockDelay: emptyBlock,
	})
	if err != nil {
		return nil, err
	}
	v.state.Store(&State{})
	return v, nil
}

// Addr returns where validator i listens for its peers.
func (v *Validator) Addr(i uint32) string {
	for _, p := range v.home.Node.Peers {
		if p.Index == i {
			return p.Addr
		}
	}
	return ""
}

// Honest returns the indices of the other validators.
func (v *Validator) Honest() []uint32 {
	var out []uint32
	for i := range uint32(v.Vals.Len()) {
		if i != v.Self {
			out = append(out, i)
		}
	}
	return out
}

// Start listens on the validator's peer address, dials every other
// validator and runs the core until ctx is done or Close.
func (v *Validator) Start(ctx context.Context) error {
	ln, err := Listen(v.home.Node.P2PListen, v.Key, v.byKey)
	if err != nil {
		return fmt.Errorf("attack: listen: %w", err)
	}
	v.ln = ln
	ctx, v.cancel = context.WithCancel(ctx)
	for _, p := range v.peers {
		v.wg.Go(func() { p.run(ctx, v.Key) })
	}
	v.wg.Go(func() { v.loop(ctx) })
	return nil
}

// Close stops the validator and waits for its goroutines.
func (v *Validator) Close() {
	if v.cancel != nil {
		v.cancel()
	}
	if v.ln != nil {
		v.ln.Close()
	}
	v.wg.Wait()
}

// State returns the latest state of the core.
func (v *Validator) State() State { return *v.state.Load() }

// Tap returns a channel that receives every decoded consensus message the
// validator receives from now on (dropped when the channel is full).
func (v *Validator) Tap() <-chan consensus.Message {
	ch := make(chan consensus.Message, 1024)
	v.tapsMu.Lock()
	v.taps = append(v.taps, ch)
	v.tapsMu.Unlock()
	return ch
}

func (v *Validator) loop(ctx context.Context) {
	d, _, _, _ := v.home.Node.Timing()
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			v.core.Tick()
		case f := <-v.ln.Frames():
			v.receive(f)
		}
		v.flush()
	}
}

func (v *Validator) receive(f Frame) {
	env, err := wire.Decode(f.Data)
	if err != nil || env.TxBatch != nil || env.Evidence != nil {
		return
	}
	m := env.Msg
	m.From, m.To = f.From, v.Self
	v.tapsMu.Lock()
	for _, ch := range v.taps {
		select {
		case ch <- m:
		default:
		}
	}
	v.tapsMu.Unlock()
	v.core.Step(m)
}

func (v *Validator) flush() {
	rd := v.core.Ready()
	if rd.IsEmpty() {
		return
	}
	v.store.apply(&rd)
	filter := v.filter()
	for _, m := range rd.Messages {
		out := []consensus.Message{m}
		if filter != nil {
			out = filter(m)
		}
		for _, o := range out {
			v.SendMessage(o)
		}
	}
	s := &State{Round: v.State().Round, HighQC: v.State().HighQC}
	if rd.Safety != nil {
		s.HighQC = rd.Safety.HighQC
		s.Round = max(s.Round, rd.Safety.LastVotedRound)
	}
	for _, m := range rd.Messages {
		if m.Proposal != nil {
			s.Round = max(s.Round, m.Proposal.Block.Round)
		}
		if m.Vote != nil {
			s.Round = max(s.Round, m.Vote.Round)
		}
		if m.Timeout != nil {
			s.Round = max(s.Round, m.Timeout.Round)
		}
	}
	if tip := v.store.CommittedTip(); tip != nil {
		s.TipHeight, s.TipHash = tip.Height, tip.Hash(v.ChainID)
	}
	v.state.Store(s)
}

// SendMessage encodes m and queues it for m.To (every other validator for
// consensus.Broadcast), on the class an honest node would use.
func (v *Validator) SendMessage(m consensus.Message) {
	frame, err := wire.EncodeMessage(m)
	if err != nil {
		return
	}
	class := ClassConsensus
	if m.BlockRequest != nil || m.BlockResponse != nil || m.SyncRequest != nil || m.SyncResponse != nil {
		class = ClassSync
	}
	if m.To == consensus.Broadcast {
		for _, p := range v.peers {
			p.queue(class, frame)
		}
		return
	}
	if p := v.peers[m.To]; p != nil {
		p.queue(class, frame)
	}
}

// Send queues a raw frame for validator to; it drops it if that queue is
// full and reports whether it was queued.
func (v *Validator) Send(to uint32, class byte, frame []byte) bool {
	p := v.peers[to]
	return p != nil && p.queue(class, frame)
}

// SendWait queues a raw frame for validator to, waiting for room: a flood
// then goes as fast as the honest validator reads.
func (v *Validator) SendWait(ctx context.Context, to uint32, class byte, frame []byte) error {
	p := v.peers[to]
	if p == nil {
		return errors.New("attack: no such peer")
	}
	select {
	case p.q <- outFrame{class, frame}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Deafen stops (on) or resumes reading what validator i sends to the
// attacker: see Listener.Pause.
func (v *Validator) Deafen(i uint32, on bool) { v.ln.Pause(i, on) }

// Connected reports whether the attacker's connection to validator i is up.
func (v *Validator) Connected(i uint32) bool {
	p := v.peers[i]
	return p != nil && p.up.Load()
}

// Propose re-signs b as the attacker's proposal (its hash changes with
// every field).
func (v *Validator) Propose(b *chain.Block, tc *chain.TC) *chain.Proposal {
	h := b.Hash(v.ChainID)
	return &chain.Proposal{Block: b, TC: tc, Sig: ed25519.Sign(v.Key, chain.ProposalSignBytes(v.ChainID, b.Round, h))}
}

// Vote signs a vote of the attacker's.
func (v *Validator) Vote(round uint64, h chain.Hash) *chain.Vote {
	return &chain.Vote{Round: round, BlockHash: h, Voter: v.Self, Sig: ed25519.Sign(v.Key, chain.VoteSignBytes(v.ChainID, round, h))}
}

// emptySource makes the attacker's core propose empty blocks at once and
// vote for anything: it executes nothing.
type emptySource struct{}

func (emptySource) Payload(uint64, []*chain.Block) ([][]byte, []chain.Evidence) { return nil, nil }
func (emptySource) Time() int64                                                 { return time.Now().UnixNano() }
func (emptySource) Executed(*chain.Block) (uint64, []byte)                      { return 0, nil }
func (emptySource) HasTxs() bool                                                { return false }
func (emptySource) Check(*chain.Block) error                                    { return nil }

type outFrame struct {
	class byte
	data  []byte
}

// outPeer keeps the attacker's connection to one validator and writes its
// queued frames, redialing when the connection fails.
type outPeer struct {
	index uint32
	addr  string
	pub   ed25519.PublicKey
	q     chan outFrame
	up    atomic.Bool
}

func (p *outPeer) queue(class byte, frame []byte) bool {
	select {
	case p.q <- outFrame{class, frame}:
		return true
	default:
		return false
	}
}

func (p *outPeer) run(ctx context.Context, key ed25519.PrivateKey) {
	for ctx.Err() == nil {
		c, err := Dial(p.addr, key, p.pub, 5*time.Second)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		p.up.Store(true)
		p.write(ctx, c)
		p.up.Store(false)
		c.Close()
	}
}

func (p *outPeer) write(ctx context.Context, c *Conn) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.Dead():
			return
		case f := <-p.q:
			if c.WriteFrame(f.class, f.data) != nil {
				return
			}
		}
	}
}

// SetFilter replaces the output filter (nil: send as the core does). It
// takes effect from the next batch of the core's output.
func (v *Validator) SetFilter(f func(consensus.Message) []consensus.Message) {
	v.filterMu.Lock()
	v.Filter = f
	v.filterMu.Unlock()
}

func (v *Validator) filter() func(consensus.Message) []consensus.Message {
	v.filterMu.Lock()
	defer v.filterMu.Unlock()
	return v.Filter
}
