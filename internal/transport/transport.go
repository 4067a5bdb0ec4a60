package transport

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Timing and sizing of connections.
const (
	dialTimeout = 5 * time.Second
	minBackoff  = 50 * time.Millisecond
	maxBackoff  = 2 * time.Second
	bufSize     = 64 << 10
	// WireVersion is the byte a listener sends once it has accepted a
	// client: the version of the framing that follows.
	WireVersion = 1
)

// Inbound is a frame received from a validator.
type Inbound struct {
	From  uint32
	Class Class
	Data  []byte // owned by the receiver
}

// Transport connects one validator to the others. Its methods are safe for
// concurrent use.
type Transport struct {
	self         uint32
	maxFrame     int
	inBudget     [NumClasses]int64 // Config.PeerInboundBytes
	chanBudget   [NumClasses]int   // Config.InboundBytes
	writeTimeout time.Duration
	listenAddr   string
	log          *slog.Logger
	rlog         *rateLog // for events that peers or strangers can repeat at will
	cert         tls.Certificate
	serverTLS    *tls.Config
	peers        []*peer                   // every validator but self, by index
	byIndex      map[uint32]*peer          // the same, by index
	byKey        map[string]*peer          // the same, by public key
	inbound      [NumClasses]chan Inbound  // what Inbound returns
	arrived      [NumClasses]chan struct{} // capacity 1; signalled after a frame is queued
	admit        admission
	refusals     [NumRefuseReasons]atomic.Uint64 // inbound connections refused, by reason
	helloTimeout time.Duration                   // helloTimeout; tests shorten it
	stopping     atomic.Bool
	wg           sync.WaitGroup

	mu       sync.Mutex
	state    int // stateNew, stateRunning or stateClosed
	listener net.Listener
	cancel   context.CancelFunc
	stopped  chan struct{} // closed once every goroutine has returned
}

const (
	stateNew = iota
	stateRunning
	stateClosed
)

// peer is the state kept for one remote validator.
type peer struct {
	index     uint32
	key       ed25519.PublicKey
	addr      string
	clientTLS *tls.Config
	out       *outbox
	kinds     logKinds // rateLog kinds of this peer's connection events

	outUp      atomic.Bool
	sent, recv [NumClasses]counter
	drops      [NumClasses][NumDropReasons]atomic.Uint64
	inq        [NumClasses]chan Inbound  // received frames waiting for the dispatcher
	inBytes    [NumClasses]atomic.Int64  // payload bytes of the frames in inq
	inRoom     [NumClasses]chan struct{} // capacity 1; signalled after a frame leaves inq
	shed       [NumClasses]atomic.Uint64 // received frames discarded: inq was full
	connects   atomic.Uint64             // outbound connections established
	refused    atomic.Uint64             // outbound handshakes that failed
	oversize   atomic.Uint64             // inbound connections closed for an oversize frame
	malformed  atomic.Uint64             // inbound connections closed for an unknown class
	// quarantine is the time (unix nanoseconds) until which the peer's
	// inbound connections are refused; quarantined counts the refusals.
	quarantine  atomic.Int64
	quarantined atomic.Uint64

	mu sync.Mutex
	in net.Conn // the current inbound connection, if any
}

type counter struct{ frames, bytes atomic.Uint64 }

func (c *counter) add(n int) {
	c.frames.Add(1)
	c.bytes.Add(uint64(n))
}

// New checks cfg and returns a transport that is not yet started.
func New(cfg Config) (*Transport, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cert, err := Certificate(cfg.Key)
	if err != nil {
		return nil, err
	}
	t := &Transport{
		self:         cfg.Self,
		maxFrame:     cfg.MaxFrame,
		inBudget:     [NumClasses]int64{int64(cfg.PeerInboundBytes[0]), int64(cfg.PeerInboundBytes[1]), int64(cfg.PeerInboundBytes[2])},
		writeTimeout: cfg.WriteTimeout,
		listenAddr:   cfg.ListenAddr,
		log:          cfg.Logger.With("self", cfg.Self),
		rlog:         newRateLog(cfg.Logger.With("self", cfg.Self), logInterval),
		cert:         cert,
		byIndex:      make(map[uint32]*peer),
		byKey:        make(map[string]*peer),
		listener:     cfg.Listener,
		stopped:      make(chan struct{}),
		helloTimeout: helloTimeout,
		chanBudget:   cfg.InboundBytes,
	}
	for c := range NumClasses {
		t.inbound[c] = make(chan Inbound, cfg.InboundLen)
		t.arrived[c] = make(chan struct{}, 1)
	}
	for _, p := range cfg.Peers {
		if p.Index == cfg.Self {
			continue
		}
		key := slices.Clone(p.PubKey)
		q := &peer{index: p.Index, key: key, addr: p.Addr, clientTLS: t.clientConfig(key),
			out: newOutbox(cfg.QueueLen, cfg.QueueBytes), kinds: newLogKinds(p.Index)}
		for c := range NumClasses {
			q.inq[c] = make(chan Inbound, cfg.PeerInboundLen)
			q.inRoom[c] = make(chan struct{}, 1)
		}
		t.peers = append(t.peers, q)
		t.byIndex[q.index], t.byKey[string(key)] = q, q
	}
	slices.SortFunc(t.peers, func(a, b *peer) int { return cmp.Compare(a.index, b.index) })
	t.serverTLS = t.serverConfig()
	return t, nil
}

// Start listens and starts dialing every peer; it returns once listening.
// Cancelling ctx stops the transport as Close does.
func (t *Transport) Start(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateNew {
		return errors.New("transport: Start called twice or after Close")
	}
	ln := t.listener
	if ln == nil {
		var lc net.ListenConfig
		var err error
		if ln, err = lc.Listen(ctx, "tcp", t.listenAddr); err != nil {
			return fmt.Errorf("transport: listen: %w", err)
		}
		t.listener = ln
	}
	t.reserve(ctx)
	ctx, t.cancel = context.WithCancel(ctx)
	t.state = stateRunning
	t.wg.Go(func() { t.accept(ctx, ln) })
	for c := range Class(NumClasses) {
		t.wg.Go(func() { t.dispatch(ctx, c) })
	}
	for _, p := range t.peers {
		t.wg.Go(func() { t.runPeer(ctx, p) })
	}
	go func() {
		<-ctx.Done()
		t.stopping.Store(true)
		ln.Close()
		t.wg.Wait()
		t.closeInbound()
		close(t.stopped)
	}()
	t.log.Info("transport: listening", "addr", ln.Addr().String(), "peers", len(t.peers))
	return nil
}

// Close stops the transport: it closes the listener and every connection,
// waits for every goroutine to return and closes the Inbound channels.
// Frames still queued are discarded. Close may be called more than once.
func (t *Transport) Close() error {
	t.mu.Lock()
	switch t.state {
	case stateNew:
		t.stopping.Store(true)
		if t.listener != nil {
			t.listener.Close()
		}
		t.closeInbound()
		close(t.stopped)
	case stateRunning:
		t.cancel()
	}
	t.state = stateClosed
	t.mu.Unlock()
	<-t.stopped
	return nil
}

// Addr returns the address the transport listens on, or nil before Start.
func (t *Transport) Addr() net.Addr {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state == stateNew || t.listener == nil {
		return nil
	}
	return t.listener.Addr()
}

// Send queues frame for validator to in class c. It never blocks. It
// returns nil if the frame was queued, and otherwise an error saying why
// (a *DropError for the reasons counted in PeerStats.Drops:
// ErrOversize, ErrQueueFull, ErrPeerDown, ErrStopping), or ErrUnknownPeer
// for self or an unknown index, or ErrUnknownClass. A Consensus frame is
// queued even when its queue is full: the oldest queued frames make room
// and are counted as dropped.
func (t *Transport) Send(to uint32, c Class, frame []byte) error {
	if !c.valid() {
		return ErrUnknownClass
	}
	p := t.byIndex[to]
	if p == nil {
		return ErrUnknownPeer
	}
	return t.enqueue(p, c, frame)
}

// Broadcast queues frame for every validator other than self, as Send. It
// returns nil if every peer's queue took it, and otherwise the errors of
// the peers that did not (one per peer, which errors.Is and Reason see
// through); each is counted in its peer's Drops.
func (t *Transport) Broadcast(c Class, frame []byte) error {
	if !c.valid() {
		return ErrUnknownClass
	}
	var errs []error
	for _, p := range t.peers {
		if err := t.enqueue(p, c, frame); err != nil {
			errs = append(errs, fmt.Errorf("peer %d: %w", p.index, err))
		}
	}
	return errors.Join(errs...)
}

func (t *Transport) enqueue(p *peer, c Class, frame []byte) error {
	if len(frame) > t.maxFrame {
		return t.drop(p, c, DropOversize, 1, len(frame))
	}
	if t.stopping.Load() {
		return t.drop(p, c, DropStopping, 1, len(frame))
	}
	evicted, ok := p.out.push(c, frame)
	full := DropQueueFull
	if !p.outUp.Load() {
		full = DropPeerDown
	}
	if evicted > 0 {
		t.drop(p, c, full, evicted, len(frame))
	}
	if !ok {
		return t.drop(p, c, full, 1, len(frame))
	}
	return nil
}

// drop counts n frames of class c to p dropped for reason, logs it at
// most once per interval per reason and class, and returns the reason's
// error. size is the size of the frame that caused the drop.
func (t *Transport) drop(p *peer, c Class, reason DropReason, n, size int) error {
	p.drops[c][reason].Add(uint64(n))
	level := slog.LevelWarn
	if reason == DropOversize {
		level = slog.LevelError // the caller built a frame that can never be sent
	} else if reason == DropStopping {
		level = slog.LevelDebug
	}
	t.rlog.logf(level, dropKinds[reason][c], "transport: outbound frames dropped", func() []any {
		frames, bytes := p.out.queued(c)
		return []any{"reason", reason.String(), "class", c.String(), "peer", p.index, "frames", n,
			"size", size, "max_frame", t.maxFrame, "queued_frames", frames, "queued_bytes", bytes}
	})
	return dropErrors[reason]
}

// dropKinds are the rateLog kinds of drops, by reason and class.
var dropKinds = func() (k [NumDropReasons][NumClasses]string) {
	for r := range k {
		for c := range k[r] {
			k[r][c] = "drop/" + DropReason(r).String() + "/" + Class(c).String()
		}
	}
	return k
}()

// MaxFrame returns the largest payload of a frame that Send and Broadcast
// accept, so that callers can check their own budgets against it.
func (t *Transport) MaxFrame() int { return t.maxFrame }

// Inbound returns the channel of the frames of class c received from every
// peer; it returns nil for an unknown class. The channel is closed once the
// transport has stopped. Each class has its own channel, so a consumer can
// take Consensus frames first however many frames of the other classes are
// waiting; the package documentation describes how peers share a class.
func (t *Transport) Inbound(c Class) <-chan Inbound {
	if !c.valid() {
		return nil
	}
	return t.inbound[c]
}

func (t *Transport) closeInbound() {
	for _, ch := range t.inbound {
		close(ch)
	}
}
