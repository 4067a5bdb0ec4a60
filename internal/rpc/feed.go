package rpc

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtquery "github.com/cometbft/cometbft/libs/pubsub/query"
	"github.com/cometbft/cometbft/types"

	"github.com/strategos/strategos/internal/chain"
)

// The feed follows the node's executed height while anyone waits on it
// (a subscription, a broadcast_tx_commit), and turns each new block into
// CometBFT's events: NewBlock, NewBlockHeader, then one Tx per
// transaction. It polls the node's status, which is one snapshot load;
// it never subscribes to the node's own event stream, so neither its
// work nor a slow subscriber can reach the consensus loop. Each event is
// encoded once, for every subscription it matches, and queued to each
// without waiting: a subscription whose queue is full is dropped, with a
// notice (ws.go).
type feed struct {
	s *Server

	mu      sync.Mutex
	height  uint64        // the last executed height turned into events
	tick    chan struct{} // closed when height grows, then replaced
	subs    map[*subscription]struct{}
	seq     uint64        // of the last subscription added
	waiters int           // broadcast_tx_commit calls waiting
	wake    chan struct{} // the feed has users again
}

func newFeed(s *Server) *feed {
	return &feed{s: s, tick: make(chan struct{}), subs: make(map[*subscription]struct{}), wake: make(chan struct{}, 1)}
}

// errTooMany refuses a subscription or a broadcast_tx_commit beyond the
// server's limit.
func (f *feed) errTooMany() error {
	return fmt.Errorf("max_subscription_clients %d reached", f.s.cfg.MaxSubscribers)
}

// join counts a new user, starting from the node's current height when
// it is the first; the caller holds f.mu.
func (f *feed) join() error {
	if len(f.subs)+f.waiters >= f.s.cfg.MaxSubscribers {
		f.s.metrics.refused.WithLabelValues("subscribers").Inc()
		return f.errTooMany()
	}
	if len(f.subs)+f.waiters == 0 {
		st := f.s.b.Status()
		f.height = max(f.height, min(st.Executed, st.Height)) // events from now on, not a replay
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

func (f *feed) gauge() { f.s.metrics.subscribers.Set(float64(len(f.subs) + f.waiters)) }

// add registers a subscription.
func (f *feed) add(sub *subscription) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.join(); err != nil {
		return err
	}
	f.seq++
	sub.seq = f.seq
	f.subs[sub] = struct{}{}
	f.gauge()
	return nil
}

// remove forgets a subscription; it reports whether it was there.
func (f *feed) remove(sub *subscription) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.subs[sub]
	delete(f.subs, sub)
	f.gauge()
	return ok
}

// wait registers a broadcast_tx_commit that waits for blocks; release
// ends it.
func (f *feed) wait() (release func(), err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.join(); err != nil {
		return nil, err
	}
	f.waiters++
	f.gauge()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.waiters--
			f.gauge()
			f.mu.Unlock()
		})
	}, nil
}

// next returns a channel that closes once a new block is executed.
func (f *feed) next() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tick
}

func (f *feed) active() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)+f.waiters > 0
}

// run follows the chain until ctx ends.
func (f *feed) run(ctx context.Context) {
	t := time.NewTicker(f.s.cfg.Poll)
	defer t.Stop()
	for {
		if !f.active() {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.advance(ctx)
	}
}

// advance turns every block executed since the last call into events.
func (f *feed) advance(ctx context.Context) {
	st := f.s.b.Status()
	top := min(st.Executed, st.Height)
	for ctx.Err() == nil {
		f.mu.Lock()
		h := f.height + 1
		if h > top || len(f.subs)+f.waiters == 0 {
			f.mu.Unlock()
			return
		}
		subs := make([]*subscription, 0, len(f.subs))
		for s := range f.subs {
			subs = append(subs, s)
		}
		f.mu.Unlock()
		// In the order they subscribed: a client with two subscriptions
		// that both match an event gets it for the earlier one first.
		slices.SortFunc(subs, func(a, b *subscription) int { return cmp.Compare(a.seq, b.seq) })
		if len(subs) > 0 {
			f.publish(ctx, h, subs)
		}
		f.mu.Lock()
		f.height = max(f.height, h) // a first subscriber may have moved it on meanwhile
		close(f.tick)
		f.tick = make(chan struct{})
		f.mu.Unlock()
	}
}

// event is one CometBFT event: its attributes (what queries match) and
// its data, built only if some subscription matches.
type event struct {
	attrs map[string][]string
	data  func() types.TMEventData
}

// publish delivers the events of the block at height to subs.
func (f *feed) publish(ctx context.Context, height uint64, subs []*subscription) {
	s := f.s
	b, h, ok := s.b.Block(height)
	if !ok {
		s.log.Warn("rpc: cannot read a committed block for events", "height", height)
		return
	}
	res, ok, err := s.b.Results(height)
	if err != nil || !ok {
		s.log.Warn("rpc: cannot read a block's results for events", "height", height, "err", err)
	}
	blk, id := s.view.block(b, h, s.appVersionOf(ctx))
	results := execResults(res.Txs)
	f.deliver(subs, event{
		attrs: map[string][]string{types.EventTypeKey: {types.EventNewBlock}},
		data: func() types.TMEventData {
			return types.EventDataNewBlock{Block: blk, BlockID: id,
				ResultFinalizeBlock: abciFinalize(results, res.AppHash)}
		},
	})
	f.deliver(subs, event{
		attrs: map[string][]string{types.EventTypeKey: {types.EventNewBlockHeader}},
		data:  func() types.TMEventData { return types.EventDataNewBlockHeader{Header: blk.Header} },
	})
	heightStr := strconv.FormatUint(height, 10)
	for i, tx := range b.Payload {
		th := chain.TxHash(tx)
		var r Outcome
		if i < len(res.Txs) {
			r = res.Txs[i]
		}
		f.deliver(subs, event{
			attrs: map[string][]string{
				types.EventTypeKey: {types.EventTx},
				types.TxHashKey:    {fmt.Sprintf("%X", th[:])},
				types.TxHeightKey:  {heightStr},
			},
			data: func() types.TMEventData {
				return types.EventDataTx{TxResult: txResult(int64(height), uint32(i), tx, r)}
			},
		})
	}
}

// deliver encodes e once and queues it to each subscription whose query
// it matches.
func (f *feed) deliver(subs []*subscription, e event) {
	var data, attrs []byte
	for _, sub := range subs {
		if ok, err := sub.q.Matches(e.attrs); err != nil || !ok {
			continue
		}
		if data == nil {
			var err error
			if data, err = encodeEventData(e.data()); err != nil {
				f.s.log.Error("rpc: cannot encode an event", "err", err)
				return
			}
			attrs, _ = json.Marshal(e.attrs) // strings only; keys sorted, as cmtjson
		}
		sub.conn.deliverEvent(sub, data, attrs)
	}
}

// encodeEventData is cmtjson's encoding of d as ResultEvent.Data writes
// it: {"type":"tendermint/event/...","value":{...}}.
func encodeEventData(d types.TMEventData) ([]byte, error) {
	b, err := cmtjson.Marshal(struct {
		D types.TMEventData `json:"d"`
	}{d})
	if err != nil {
		return nil, err
	}
	const prefix = `{"d":`
	if len(b) < len(prefix)+1 || string(b[:len(prefix)]) != prefix {
		return nil, fmt.Errorf("unexpected encoding %.40q", b)
	}
	return b[len(prefix) : len(b)-1], nil
}

// parseQuery parses a subscription query as CometBFT does.
func parseQuery(q string) (*cmtquery.Query, error) {
	if len(q) > maxQueryLength {
		return nil, fmt.Errorf("maximum query length exceeded")
	}
	parsed, err := cmtquery.New(q)
	if err != nil {
		return nil, fmt.Errorf("failed to parse query: %w", err)
	}
	return parsed, nil
}
