package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultMaxSubscribers = 64
	DefaultMaxPerClient   = 8 // an eighth of the slots: one client cannot take them all
	DefaultBuffer         = 1024
)

// Subscribe's refusals.
var (
	// ErrTooMany: the broker has its maximum of subscribers.
	ErrTooMany = errors.New("events: too many subscribers")
	// ErrClientLimit: the client already holds its maximum of subscriptions.
	ErrClientLimit = errors.New("events: too many subscribers from this client")
)

// Config configures a Broker; zero fields take the defaults.
type Config struct {
	MaxSubscribers int              // default DefaultMaxSubscribers
	MaxPerClient   int              // subscriptions one client may hold; default DefaultMaxPerClient
	Buffer         int              // events held per subscriber; default DefaultBuffer, at least 2
	Clock          func() time.Time // stamps TimeMS; default time.Now
}

// Message is one event as a subscriber receives it.
type Message struct {
	Seq  uint64
	Type string
	Data []byte // the event as one line of JSON; shared by every subscriber, read-only
}

// Broker fans published events out to subscribers without ever waiting
// for one. It is safe for concurrent use.
type Broker struct {
	max, perClient, buffer int
	clock                  func() time.Time
	subscribers            atomic.Int64
	dropped                atomic.Uint64
	refusedFull            atomic.Uint64 // Subscribe refused: ErrTooMany
	refusedClient          atomic.Uint64 // Subscribe refused: ErrClientLimit

	mu      sync.Mutex // orders publishing, and guards what follows
	seq     uint64
	subs    map[*Subscription]struct{}
	clients map[string]int // subscriptions held per client; no entry at zero, so at most max entries
}

// New returns a broker with no subscribers.
func New(c Config) *Broker {
	b := &Broker{max: c.MaxSubscribers, perClient: c.MaxPerClient, buffer: c.Buffer, clock: c.Clock,
		subs: make(map[*Subscription]struct{}), clients: make(map[string]int)}
	if b.max <= 0 {
		b.max = DefaultMaxSubscribers
	}
	if b.perClient <= 0 {
		b.perClient = DefaultMaxPerClient
	}
	if b.buffer <= 0 {
		b.buffer = DefaultBuffer
	}
	b.buffer = max(b.buffer, 2) // room for a dropped notice and the event after it
	if b.clock == nil {
		b.clock = time.Now
	}
	return b
}

// Active reports whether anyone subscribes: publishers check it before
// building an event.
func (b *Broker) Active() bool { return b.subscribers.Load() > 0 }

// Subscribers returns the number of subscribers.
func (b *Broker) Subscribers() int { return int(b.subscribers.Load()) }

// MaxSubscribers returns the limit on subscribers.
func (b *Broker) MaxSubscribers() int { return b.max }

// MaxPerClient returns the limit on one client's subscriptions.
func (b *Broker) MaxPerClient() int { return b.perClient }

// Refused returns how many subscriptions were refused because the broker
// was full (ErrTooMany) and because their client held its maximum
// (ErrClientLimit).
func (b *Broker) Refused() (full, client uint64) {
	return b.refusedFull.Load(), b.refusedClient.Load()
}

// Dropped returns how many events were dropped, over all subscribers,
// because a subscriber's buffer was full.
func (b *Broker) Dropped() uint64 { return b.dropped.Load() }

// Publish stamps e with the next sequence number and the time, and hands
// it to every subscriber whose buffer has room; the others count it as
// dropped. It never waits for a subscriber. Without subscribers it does
// nothing.
func (b *Broker) Publish(e Event) {
	if !b.Active() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) == 0 {
		return
	}
	b.seq++
	e.Seq, e.TimeMS = b.seq, b.clock().UnixMilli()
	data, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("events: cannot encode an event: %v", err)) // every field is a plain value
	}
	m := Message{Seq: e.Seq, Type: e.Type, Data: data}
	for s := range b.subs {
		if !s.deliver(m, e.TimeMS) {
			b.dropped.Add(1)
		}
	}
}

// Subscribe adds a subscriber that belongs to no client in particular
// (the node's own use), or fails with ErrTooMany. The caller must Close
// it.
func (b *Broker) Subscribe() (*Subscription, error) { return b.SubscribeFrom("") }

// SubscribeFrom adds a subscriber for client (for the API, the remote
// address it comes from), or fails with ErrTooMany when the broker is
// full, or ErrClientLimit when client already holds MaxPerClient
// subscriptions; client "" is not limited on its own. The caller must
// Close it.
func (b *Broker) SubscribeFrom(client string) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if client != "" && b.clients[client] >= b.perClient {
		b.refusedClient.Add(1)
		return nil, fmt.Errorf("%w (limit %d per client)", ErrClientLimit, b.perClient)
	}
	if len(b.subs) >= b.max {
		b.refusedFull.Add(1)
		return nil, fmt.Errorf("%w (limit %d)", ErrTooMany, b.max)
	}
	s := &Subscription{b: b, ch: make(chan Message, b.buffer), client: client}
	b.subs[s] = struct{}{}
	if client != "" {
		b.clients[client]++
	}
	b.subscribers.Store(int64(len(b.subs)))
	return s, nil
}

// Subscription is one subscriber's bounded queue of events.
type Subscription struct {
	b      *Broker
	ch     chan Message
	client string // as given to SubscribeFrom
	// Under b.mu: the events lost since the last notice, and the seq and
	// time of the last of them.
	lost     uint64
	lostSeq  uint64
	lostTime int64
}

// C returns the channel that delivers the subscriber's events in seq
// order. After a loss, a Dropped message (its Seq that of the last event
// lost) comes before the next event that fits, so gaps are never silent;
// it comes with that next event, so a loss is reported once publishing
// goes on. The channel is closed by Close.
func (s *Subscription) C() <-chan Message { return s.ch }

// Close removes the subscriber, freeing its slot, and closes its channel.
// It may be called more than once.
func (s *Subscription) Close() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; !ok {
		return
	}
	delete(b.subs, s)
	if s.client != "" {
		if b.clients[s.client]--; b.clients[s.client] == 0 {
			delete(b.clients, s.client)
		}
	}
	b.subscribers.Store(int64(len(b.subs)))
	close(s.ch) // safe: every send happens under b.mu, to subscribers in b.subs
}

// deliver queues m without waiting, first the notice of earlier losses if
// any; it reports false if m was dropped. Called under b.mu, which makes
// the publisher the channel's only sender, so its free room cannot shrink
// between the check and the send.
func (s *Subscription) deliver(m Message, timeMS int64) bool {
	if s.lost > 0 {
		if cap(s.ch)-len(s.ch) < 2 {
			s.lose(m, timeMS)
			return false
		}
		s.ch <- s.notice()
		s.lost = 0
	}
	select {
	case s.ch <- m:
		return true
	default:
		s.lose(m, timeMS)
		return false
	}
}

func (s *Subscription) lose(m Message, timeMS int64) {
	s.lost++
	s.lostSeq, s.lostTime = m.Seq, timeMS
}

func (s *Subscription) notice() Message {
	data, _ := json.Marshal(Event{Seq: s.lostSeq, TimeMS: s.lostTime, Type: Dropped, Count: N(s.lost)})
	return Message{Seq: s.lostSeq, Type: Dropped, Data: data}
}
