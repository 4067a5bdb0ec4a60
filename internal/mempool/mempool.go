// Package mempool holds transactions that were admitted but not yet
// committed, and hands them to the leader's block builder.
//
// Admission (the application's CheckTx) happens before a transaction gets
// here. The pool deduplicates by hash, keeps arrival order, bounds its size
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
	tx       []byte
	hash     chain.Hash
	inFlight chain.Hash // the block that carries it, or zero
	seq      uint64

	// For applications whose transactions apply in per-sender order
	// (bank): who sends it, its nonce, and what it spends.
	sender string
	nonce  uint64
	spend  uint64
}

// Pending describes a sender's pending transaction.
type Pending struct {
	Hash  chain.Hash
	Nonce uint64
	Spend uint64
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
	senders  map[string]*senderTxs
	ready    int          // pending entries not in flight: Ready in O(1)
	count    atomic.Int64 // len(byHash), readable without the lock
}

// senderTxs is one sender's pending transactions with their total spend,
// so that admission asks for a sender's pending state in O(1) however
// many it has pending.
type senderTxs struct {
	txs   map[chain.Hash]*entry
	spend uint64
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
		senders:  make(map[string]*senderTxs),
	}
}

// Add admits a transaction that passed the application's checks.
func (p *Pool) Add(tx []byte) (chain.Hash, error) { return p.AddSeq(tx, "", 0, 0) }

// AddSeq admits a transaction of sender with its nonce and spend, so that
// the sender's pending transactions can be counted and re-checked in
// order. The caller checked the nonce against SenderPending.
func (p *Pool) AddSeq(tx []byte, sender string, nonce, spend uint64) (chain.Hash, error) {
	h := chain.TxHash(tx)
	return h, p.AddHashed(tx, h, sender, nonce, spend)
}

// AddHashed is AddSeq for a transaction whose hash h the caller computed.
func (p *Pool) AddHashed(tx []byte, h chain.Hash, sender string, nonce, spend uint64) error {
	if len(tx) > p.cfg.MaxTx {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(tx), p.cfg.MaxTx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.byHash[h]; ok {
		return ErrDuplicate
	}
	if len(p.byHash) >= p.cfg.MaxTxs || p.bytes+len(tx) > p.cfg.MaxBytes {
		return fmt.Errorf("%w: %d transactions, %d bytes pending", ErrFull, len(p.byHash), p.bytes)
	}
	p.seq++
	// A block may carry the transaction before its gossip arrives: it is
	// then in flight from the start.
	e := &entry{tx: append([]byte(nil), tx...), hash: h, seq: p.seq, inFlight: p.included[h], sender: sender, nonce: nonce, spend: spend}
	p.byHash[h] = e
	p.count.Add(1)
	if e.inFlight.IsZero() {
		p.ready++
	}
	if sender != "" {
		st := p.senders[sender]
		if st == nil {
			st = &senderTxs{txs: make(map[chain.Hash]*entry)}
			p.senders[sender] = st
		}
		st.txs[h] = e
		st.spend += spend
	}
	p.order = append(p.order, e)
	p.bytes += len(tx)
	return nil
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
// order, skipping those already in flight.
func (p *Pool) Reap(maxTxs, maxBytes int) [][]byte { return p.ReapExcept(maxTxs, maxBytes, nil) }

// ReapExcept is Reap that also skips the transactions in skip: those of the
// uncommitted blocks a new block extends.
func (p *Pool) ReapExcept(maxTxs, maxBytes int, skip map[chain.Hash]bool) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.compact()
	var out [][]byte
	size := 0
	for _, e := range p.order {
		if len(out) >= maxTxs {
			break
		}
		if p.byHash[e.hash] != e || !e.inFlight.IsZero() || skip[e.hash] {
			continue
		}
		if size+len(e.tx) > maxBytes {
			break
		}
		out = append(out, e.tx)
		size += len(e.tx)
	}
	return out
}

// InFlight records that block h at height carries txs: they are not reaped
// again while the block may still commit, including transactions whose
// gossip has not arrived yet.
func (p *Pool) InFlight(h chain.Hash, height uint64, txs [][]byte) {
	p.InFlightHashes(h, height, chain.TxHashes(txs))
}

// InFlightHashes is InFlight for the transactions' hashes.
func (p *Pool) InFlightHashes(h chain.Hash, height uint64, hashes []chain.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.heights[h]; ok {
		return
	}
	all := hashes
	for _, th := range hashes {
		if _, ok := p.included[th]; !ok {
			p.included[th] = h
		}
		if e, ok := p.byHash[th]; ok && e.inFlight.IsZero() {
			e.inFlight = h
			p.ready--
		}
	}
	p.flights[h] = all
	p.heights[h] = height
}

// Committed removes a committed block's transactions, and releases those
// held by abandoned blocks at or below its height, so they can be proposed
// again on the surviving branch.
func (p *Pool) Committed(height uint64, txs [][]byte) {
	p.CommittedHashes(height, chain.TxHashes(txs))
}

// CommittedHashes is Committed for the transactions' hashes.
func (p *Pool) CommittedHashes(height uint64, hashes []chain.Hash) {
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
	p.bytes -= len(e.tx)
	if e.inFlight.IsZero() {
		p.ready--
	}
	if st := p.senders[e.sender]; st != nil {
		delete(st.txs, h)
		st.spend -= e.spend
		if len(st.txs) == 0 {
			delete(p.senders, e.sender)
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

// SenderPending returns how many transactions of sender are pending and
// what they spend in all.
func (p *Pool) SenderPending(sender string) (count int, spend uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.senders[sender]; st != nil {
		return len(st.txs), st.spend
	}
	return 0, 0
}

// SenderTxs returns sender's pending transactions in nonce order.
func (p *Pool) SenderTxs(sender string) []Pending {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.senders[sender]
	if st == nil {
		return nil
	}
	out := make([]Pending, 0, len(st.txs))
	for h, e := range st.txs {
		out = append(out, Pending{Hash: h, Nonce: e.nonce, Spend: e.spend})
	}
	slices.SortFunc(out, func(a, b Pending) int { return cmp.Compare(a.Nonce, b.Nonce) })
	return out
}

// compact drops removed entries from the arrival order.
func (p *Pool) compact() {
	if len(p.order) <= 2*len(p.byHash)+64 {
		return
	}
	kept := p.order[:0]
	for _, e := range p.order {
		if p.byHash[e.hash] == e {
			kept = append(kept, e)
		}
	}
	clear(p.order[len(kept):])
	p.order = kept
}
