package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fixedClock returns a clock that starts at t0 and advances 1 ms per read.
func fixedClock(t0 int64) func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now++
		return time.UnixMilli(now)
	}
}

// decode returns a message's JSON as a map, checking that it is one
// object on one line that agrees with the message's Seq and Type.
func decode(t *testing.T, m Message) map[string]any {
	t.Helper()
	for _, c := range m.Data {
		if c == '\n' || c == '\r' {
			t.Fatalf("event JSON spans lines: %q", m.Data)
		}
	}
	var v map[string]any
	if err := json.Unmarshal(m.Data, &v); err != nil {
		t.Fatalf("event is not a JSON object: %q", m.Data)
	}
	if v["type"] != m.Type || v["seq"] != float64(m.Seq) {
		t.Fatalf("event %s disagrees with its message (seq %d, type %s)", m.Data, m.Seq, m.Type)
	}
	return v
}

// take receives what is queued for s, without waiting.
func take(s *Subscription) []Message {
	var out []Message
	for {
		select {
		case m := <-s.C():
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestPublishStampsAndEncodes(t *testing.T) {
	b := New(Config{Clock: fixedClock(1_700_000_000_000)})
	b.Publish(Event{Type: Vote}) // nobody listens: nothing happens
	if b.Active() {
		t.Fatal("active without subscribers")
	}
	s, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !b.Active() || b.Subscribers() != 1 {
		t.Fatalf("active %v, %d subscribers", b.Active(), b.Subscribers())
	}
	b.Publish(Event{Type: Vote, Node: N(uint32(0)), Round: N(uint64(7)), Validator: N(uint32(0)), BlockHash: "ab"})
	b.Publish(Event{Type: Commit, Height: N(uint64(3)), Txs: N(0), Proposer: N(uint32(2))})
	got := take(s)
	if len(got) != 2 {
		t.Fatalf("%d events, want 2", len(got))
	}
	want := []map[string]any{
		{"seq": 1.0, "time_ms": 1_700_000_000_001.0, "type": "vote", "node": 0.0, "round": 7.0, "validator": 0.0, "block_hash": "ab"},
		{"seq": 2.0, "time_ms": 1_700_000_000_002.0, "type": "commit", "height": 3.0, "txs": 0.0, "proposer": 2.0},
	}
	for i, m := range got {
		v := decode(t, m)
		if len(v) != len(want[i]) {
			t.Errorf("event %d: %s, want exactly the keys of %v (unset fields omitted, set zeros kept)", i, m.Data, want[i])
		}
		for k, w := range want[i] {
			if v[k] != w {
				t.Errorf("event %d: %s = %v, want %v", i, k, v[k], w)
			}
		}
	}
	var back Event
	if err := json.Unmarshal(got[1].Data, &back); err != nil {
		t.Fatal(err)
	}
	if h, ok := back.Height.Get(); !ok || h != 3 {
		t.Errorf("height decodes as %d %v", h, ok)
	}
	if _, ok := back.Validator.Get(); ok {
		t.Error("an absent validator decodes as set")
	}
}

// A full buffer drops events for its subscriber only, counts them, and
// tells the subscriber before its next event.
func TestDropAccounting(t *testing.T) {
	b := New(Config{Buffer: 4, Clock: fixedClock(0)})
	slow, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	var fastGot []Message
	for range 10 {
		b.Publish(Event{Type: Round})
		fastGot = append(fastGot, take(fast)...)
	}
	if len(fastGot) != 10 {
		t.Fatalf("a subscriber that keeps up got %d of 10 events", len(fastGot))
	}
	if b.Dropped() != 6 {
		t.Fatalf("dropped %d, want 6", b.Dropped())
	}
	seqs := func(ms []Message) []uint64 {
		var out []uint64
		for _, m := range ms {
			out = append(out, m.Seq)
		}
		return out
	}
	if got := seqs(take(slow)); len(got) != 4 || got[0] != 1 || got[3] != 4 {
		t.Fatalf("stalled subscriber holds %v, want 1..4", got)
	}
	b.Publish(Event{Type: Round}) // seq 11
	got := take(slow)
	if len(got) != 2 {
		t.Fatalf("after draining: %d messages, want a dropped notice and the event", len(got))
	}
	n := decode(t, got[0])
	if got[0].Type != Dropped || n["count"] != 6.0 || n["seq"] != 10.0 || n["time_ms"] != 10.0 {
		t.Fatalf("first message after the loss: %s, want dropped count 6 at seq 10", got[0].Data)
	}
	if _, ok := n["node"]; ok {
		t.Errorf("dropped notice names a node: %s", got[0].Data)
	}
	if got[1].Seq != 11 || got[1].Type != Round {
		t.Fatalf("then %s, want the round event with seq 11", got[1].Data)
	}
	b.Publish(Event{Type: Round})
	if got := take(slow); len(got) != 1 || got[0].Seq != 12 {
		t.Fatalf("a loss is reported once: then got %v", seqs(got))
	}
	if b.Dropped() != 6 || len(take(fast)) != 2 {
		t.Fatal("the fast subscriber lost events, or the count moved")
	}
}

// The notice needs room for itself and the event after it; until then
// losses keep adding up into one notice.
func TestDroppedNoticeWaitsForRoom(t *testing.T) {
	b := New(Config{Buffer: 4})
	s, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 5 { // 1..4 queued, 5 lost
		b.Publish(Event{Type: Vote})
	}
	<-s.C()                      // 1 slot free
	b.Publish(Event{Type: Vote}) // 6: no room for notice and event: lost
	<-s.C()                      // 2 free
	b.Publish(Event{Type: Vote}) // 7: notice (2 lost, up to seq 6), then 7
	var got []string
	for _, m := range take(s) {
		if v := decode(t, m); m.Type == Dropped {
			got = append(got, fmt.Sprintf("dropped %v at %d", v["count"], m.Seq))
		} else {
			got = append(got, fmt.Sprint(m.Seq))
		}
	}
	if want := []string{"3", "4", "dropped 2 at 6", "7"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSubscriberLimit(t *testing.T) {
	b := New(Config{MaxSubscribers: 3})
	var subs []*Subscription
	for range 3 {
		s, err := b.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if _, err := b.Subscribe(); !errors.Is(err, ErrTooMany) {
		t.Fatalf("fourth subscriber: %v, want ErrTooMany", err)
	}
	subs[1].Close()
	subs[1].Close() // twice is harmless
	if b.Subscribers() != 2 {
		t.Fatalf("%d subscribers after one closed", b.Subscribers())
	}
	if _, ok := <-subs[1].C(); ok {
		t.Fatal("a closed subscription's channel is open")
	}
	s, err := b.Subscribe()
	if err != nil {
		t.Fatalf("closing did not free a slot: %v", err)
	}
	b.Publish(Event{Type: Round})
	if m := <-s.C(); m.Type != Round {
		t.Fatalf("new subscriber got %+v", m)
	}
	for _, s := range append(subs, s) {
		s.Close()
	}
	if b.Active() || b.Subscribers() != 0 {
		t.Fatal("still active after every subscriber closed")
	}
	if _, err := New(Config{}).Subscribe(); err != nil {
		t.Fatal(err)
	}
	if New(Config{}).MaxSubscribers() != DefaultMaxSubscribers {
		t.Fatal("default limit")
	}
}

// Many publishers, and subscribers that come, read slowly and go: run with
// -race. Whatever each subscriber receives has no silent gap: an event
// follows the previous message's seq by one, and a dropped notice's count
// is exactly the gap it covers.
func TestConcurrentNoSilentLoss(t *testing.T) {
	b := New(Config{Buffer: 8, MaxSubscribers: 6})
	const publishers, perPublisher = 4, 2000
	// Publishers wait for a first subscriber: on a loaded machine they
	// could otherwise publish everything before any subscriber runs.
	subscribed := make(chan struct{})
	var once sync.Once
	var pubs sync.WaitGroup
	for range publishers {
		pubs.Go(func() {
			<-subscribed
			for range perPublisher {
				b.Publish(Event{Type: Vote})
			}
		})
	}
	stop := make(chan struct{})
	var subs sync.WaitGroup
	var mu sync.Mutex
	var received, noticed uint64
	for i := range 6 {
		subs.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := b.Subscribe()
				if err != nil {
					t.Error(err)
					once.Do(func() { close(subscribed) })
					return
				}
				once.Do(func() { close(subscribed) })
				var last uint64
				var got, lost uint64
			read:
				for k := range 50 + i*20 {
					var m Message
					select {
					case m = <-s.C():
					case <-stop:
						break read
					}
					switch {
					case last == 0:
					case m.Type == Dropped:
						var e Event
						if err := json.Unmarshal(m.Data, &e); err != nil {
							t.Error(err)
							return
						}
						c, _ := e.Count.Get()
						if m.Seq-last != c {
							t.Errorf("dropped %d, but the gap is %d..%d", c, last, m.Seq)
						}
						lost += c
					case m.Seq != last+1:
						t.Errorf("silent gap: %d after %d", m.Seq, last)
					}
					if m.Type != Dropped {
						got++
					}
					last = m.Seq
					if k%3 == 0 {
						time.Sleep(time.Microsecond) // read slower than the publishers write
					}
				}
				s.Close()
				mu.Lock()
				received, noticed = received+got, noticed+lost
				mu.Unlock()
			}
		})
	}
	pubs.Wait()
	close(stop)
	subs.Wait()
	if b.Subscribers() != 0 {
		t.Fatalf("%d subscribers left", b.Subscribers())
	}
	if received == 0 || noticed == 0 {
		t.Fatalf("received %d, noticed %d dropped: the test exercised nothing", received, noticed)
	}
	if noticed > b.Dropped() {
		t.Fatalf("subscribers were told of %d drops, the broker counted %d", noticed, b.Dropped())
	}
}

// One client holds at most MaxPerClient subscriptions; others, and the
// node's own ("" client), still get theirs; refusals are counted by
// reason; a closed subscription frees its client's slot.
func TestPerClientLimit(t *testing.T) {
	b := New(Config{MaxSubscribers: 5, MaxPerClient: 2})
	var a []*Subscription
	for range 2 {
		s, err := b.SubscribeFrom("10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, s)
	}
	if _, err := b.SubscribeFrom("10.0.0.1"); !errors.Is(err, ErrClientLimit) {
		t.Fatalf("third subscription of one client: %v, want ErrClientLimit", err)
	}
	if _, err := b.SubscribeFrom("10.0.0.2"); err != nil {
		t.Fatalf("another client refused: %v", err)
	}
	for range 2 {
		if _, err := b.Subscribe(); err != nil {
			t.Fatalf("the node's own subscription refused: %v", err)
		}
	}
	if _, err := b.SubscribeFrom("10.0.0.3"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("sixth subscriber: %v, want ErrTooMany", err)
	}
	if full, client := b.Refused(); full != 1 || client != 1 {
		t.Fatalf("refused %d full, %d per client; want 1 and 1", full, client)
	}
	a[0].Close()
	a[0].Close() // twice does not free two slots
	if _, err := b.SubscribeFrom("10.0.0.1"); err != nil {
		t.Fatalf("a closed subscription did not free its client's slot: %v", err)
	}
	if _, err := b.SubscribeFrom("10.0.0.1"); !errors.Is(err, ErrClientLimit) {
		t.Fatalf("closing twice freed two slots: %v", err)
	}
	if New(Config{}).MaxPerClient() != DefaultMaxPerClient {
		t.Fatal("default per-client limit")
	}
}
