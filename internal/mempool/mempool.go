// Package mempool holds transactions that were admitted but not yet
// committed, and hands them to the leader's block builder.
//
// Admission (the application's CheckTx) happens before a transaction gets
// here; the pool keeps each as the *app.Tx admission parsed, so that the
// block that carries it reaches execution with its hash and decoded form.
// Transactions of one lane (app.Tx.Lane: for the bank, a sender) can be
// listed in arrival order, for the application to recheck after a block. The pool deduplicates by hash, keeps arrival order, bounds its size
// in count and bytes, and tracks which transactions already sit in an
// uncommitted block of the block tree ("in flight"), so that a leader never
// proposes a transaction twice on one branch. It is safe for concurrent
// use: the API adds while the consensus loop reaps and removes.
package mempool

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// Errors returned by Add; callers test them with errors.Is.
var (
	ErrFull      = errors.New("mempool: full")
	ErrDuplicate = errors.New("mempool: transaction already pending")
	ErrTooLarge  = errors.New("mempool: transaction too large")
)

// Config bounds the pool.
type Config struct {
	MaxTxs   int // default 50,000
	MaxBytes int // default 256 MiB
	MaxTx    int // largest single transaction, default 128 KiB
}

type entry struct {
	tx       *app.Tx
	inFlight chain.Hash // the block that carries it, or zero
	seq      uint64
}

// Pool is the mempool.
type Pool struct {
	cfg Config

	mu       sync.Mutex
	byHash   map[chain.Hash]*entry
	order    []*entry // arrival order; removed entries are compacted lazily
	bytes    int
	seq      uint64
	flights  map[chain.Hash][]chain.Hash // block -> its transactions
	heights  map[chain.Hash]uint64       // block -> height
	included map[chain.Hash]chain.Hash   // transaction -> uncommitted block carrying it
	lanes    map[string]map[chain.Hash]*entry
	ready    int          // pending entries not in flight: Ready in O(1)
	count    atomic.Int64 // len(byHash), readable without the lock
}

// New returns an empty pool.
func New(cfg Config) *Pool {
	if cfg.MaxTxs <= 0 {
		cfg.MaxTxs = 50_000
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.MaxTx <= 0 {
		cfg.MaxTx = 128 << 10
	}
	return &Pool{
		cfg:      cfg,
		byHash:   make(map[chain.Hash]*entry),
		flights:  make(map[chain.Hash][]chain.Hash),
		heights:  make(map[chain.Hash]uint64),
		included: make(map[chain.Hash]chain.Hash),
		lanes:    make(map[string]map[chain.Hash]*entry),
	}
}

// Fits reports why tx cannot be added now, if it cannot: too large, the
// pool full, or already pending. Admission asks before the application
// counts a transaction as pending.
func (p *Pool) Fits(tx *app.Tx) error {
	if len(tx.Bytes) > p.cfg.MaxTx {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(tx.Bytes), p.cfg.MaxTx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fits(tx)
}

func (p *Pool) fits(tx *app.Tx) error {
	if _, ok := p.byHash[tx.Hash]; ok {
		return ErrDuplicate
	}
	if len(p.byHash) >= p.cfg.MaxTxs || p.bytes+len(tx.Bytes) > p.cfg.MaxBytes {
		return fmt.Errorf("%w: %d transactions, %d bytes pending", ErrFull, len(p.byHash), p.bytes)
	}
	return nil
}

// Add admits a transaction that passed the application's checks. The
// pool keeps tx itself: its bytes must not change.
func (p *Pool) Add(tx *app.Tx) error {
	if len(tx.Bytes) > p.cfg.MaxTx {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(tx.Bytes), p.cfg.MaxTx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fits(tx); err != nil {
		return err
	}
	p.seq++
	// A block may carry the transaction before its gossip arrives: it is
	// then in flight from the start.
	e := &entry{tx: tx, seq: p.seq, inFlight: p.included[tx.Hash]}
	p.byHash[tx.Hash] = e
	p.count.Add(1)
	if e.inFlight.IsZero() {
		p.ready++
	}
	if tx.Lane != "" {
		l := p.lanes[tx.Lane]
		if l == nil {
			l = make(map[chain.Hash]*entry)
			p.lanes[tx.Lane] = l
		}
		l[tx.Hash] = e
	}
	p.order = append(p.order, e)
	p.bytes += len(tx.Bytes)
	return nil
}

// Bytes returns the size of the pending transactions.
func (p *Pool) Bytes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

// Get returns a pending transaction by hash.
func (p *Pool) Get(h chain.Hash) (*app.Tx, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.byHash[h]
	if !ok {
		return nil, false
	}
	return e.tx, true
}

// Has reports whether a transaction is pending.
func (p *Pool) Has(h chain.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.byHash[h]
	return ok
}

// Len returns the number of pending transactions. It takes no lock, so
// that status readers never queue behind admission.
func (p *Pool) Len() int { return int(p.count.Load()) }

// Waiting returns how many pending transactions no block carries yet: the
// queue a new transaction joins.
func (p *Pool) Waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

// Ready reports whether some pending transaction is not yet in flight.
func (p *Pool) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready > 0
}

// Reap returns up to maxTxs transactions (and maxBytes bytes) in arrival
// order, skipping those already in flight and those in skip: the
// transactions of the uncommitted blocks a new block extends.
func (p *Pool) Reap(maxTxs, maxBytes int, skip map[chain.Hash]bool) []*app.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.compact()
	var out []*app.Tx
	size := 0
	for _, e := range p.order {
		if len(out) >= maxTxs {
			break
		}
		if p.byHash[e.tx.Hash] != e || !e.inFlight.IsZero() || skip[e.tx.Hash] {
			continue
		}
		if size+len(e.tx.Bytes) > maxBytes {
			break
		}
		out = append(out, e.tx)
		size += len(e.tx.Bytes)
	}
	return out
}

// InFlight records that block h at height carries the transactions of
// hashes: they are not reaped again while the block may still commit,
// including transactions whose gossip has not arrived yet.
func (p *Pool) InFlight(h chain.Hash, height uint64, hashes []chain.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.heights[h]; ok {
		return
	}
	// A transaction is held by its highest block: blocks are released
	// lowest first, as their heights commit, so one released while a
	// higher block still carries the transaction must not free it.
	all := hashes
	for _, th := range hashes {
		if cur, ok := p.included[th]; !ok || p.heights[cur] < height {
			p.included[th] = h
		}
		e, ok := p.byHash[th]
		switch {
		case !ok:
		case e.inFlight.IsZero():
			e.inFlight = h
			p.ready--
		case p.heights[e.inFlight] < height:
			e.inFlight = h
		}
	}
	p.flights[h] = all
	p.heights[h] = height
}

// Committed removes a committed block's transactions, and releases those
// held by abandoned blocks at or below its height, so they can be proposed
// again on the surviving branch.
func (p *Pool) Committed(height uint64, hashes []chain.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range hashes {
		delete(p.included, h)
		p.remove(h)
	}
	// Compacting here, not only when reaping, frees committed
	// transactions on a validator that does not lead for a while.
	p.compact()
	for b, ht := range p.heights {
		if ht > height {
			continue
		}
		for _, th := range p.flights[b] {
			if p.included[th] == b {
				delete(p.included, th)
			}
			if e, ok := p.byHash[th]; ok && e.inFlight == b {
				e.inFlight = chain.Hash{}
				p.ready++
			}
		}
		delete(p.flights, b)
		delete(p.heights, b)
	}
}

// remove forgets a pending transaction; the caller holds the lock.
func (p *Pool) remove(h chain.Hash) bool {
	e, ok := p.byHash[h]
	if !ok {
		return false
	}
	delete(p.byHash, h)
	p.count.Add(-1)
	p.bytes -= len(e.tx.Bytes)
	if e.inFlight.IsZero() {
		p.ready--
	}
	if l := p.lanes[e.tx.Lane]; l != nil {
		delete(l, h)
		if len(l) == 0 {
			delete(p.lanes, e.tx.Lane)
		}
	}
	return true
}

// Remove drops a pending transaction (one that became invalid); it
// reports whether it was pending.
func (p *Pool) Remove(h chain.Hash) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := p.remove(h)
	p.compact()
	return ok
}

// Lane returns the pending transactions of a lane in arrival order.
func (p *Pool) Lane(lane string) []*app.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	es := make([]*entry, 0, len(p.lanes[lane]))
	for _, e := range p.lanes[lane] {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*app.Tx, len(es))
	for i, e := range es {
		out[i] = e.tx
	}
	return out
}

// All returns every pending transaction in arrival order.
func (p *Pool) All() []*app.Tx {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.compact()
	out := make([]*app.Tx, 0, len(p.byHash))
	for _, e := range p.order {
		if p.byHash[e.tx.Hash] == e {
			out = append(out, e.tx)
		}
	}
	return out
}

// compact drops removed entries from the arrival order.
func (p *Pool) compact() {
	if len(p.order) <= 2*len(p.byHash)+64 {
		return
	}
	kept := p.order[:0]
	for _, e := range p.order {
		if p.byHash[e.tx.Hash] == e {
			kept = append(kept, e)
		}
	}
	clear(p.order[len(kept):])
	p.order = kept
}
