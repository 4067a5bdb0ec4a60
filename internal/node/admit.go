package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/mempool"
)

// Submit admits a transaction from a client: the application checks it
// against the state it will meet (for the bank, the sender's committed
// state plus its pending transfers), the mempool keeps it, and it is
// gossiped to the other validators. tx is taken as it is, every byte of
// it (its hash is SHA-256 of those bytes): cutting a request body into
// transactions, such as dropping a shell pipe's trailing newline, is the
// API's business.
func (n *Node) Submit(tx []byte) (chain.Hash, error) {
	hs, errs := n.SubmitBatch([][]byte{tx})
	return hs[0], errs[0]
}

// SubmitBatch is Submit for many transactions at once: hashes[i] and
// errs[i] answer txs[i]. A batch costs far less than its transactions
// one by one: one store read for the committed index, signatures checked
// in batches on every core, and the admission lock taken per chunk.
func (n *Node) SubmitBatch(txs [][]byte) (hashes []chain.Hash, errs []error) {
	// A client's transaction joins the queue of those waiting for a block
	// only while that queue is under maxWaiting: past it the node answers
	// busy, so that what it accepts commits within a few blocks' time
	// instead of growing a backlog (gossip from peers is not limited
	// here; the pool's own bound covers it).
	room := n.maxWaiting - n.pool.Waiting()
	if n.leaving.Load() {
		room = 0 // resync.go
	}
	if room < len(txs) {
		hashes = make([]chain.Hash, len(txs))
		errs = make([]error, len(txs))
		take := max(room, 0)
		h, e := n.admitBatch(txs[:take])
		copy(hashes, h)
		copy(errs, e)
		busy := fmt.Errorf("%w: %d transactions already wait for a block", mempool.ErrFull, n.maxWaiting-room)
		if n.leaving.Load() {
			busy = errLeaving
		}
		for i := take; i < len(txs); i++ {
			hashes[i] = chain.TxHash(txs[i])
			errs[i] = busy
		}
	} else {
		hashes, errs = n.admitBatch(txs)
	}
	// Durable before the answer, and before gossip: see durable.go.
	n.makeDurable(txs, hashes, errs)
	n.gossipMu.Lock()
	for i, err := range errs {
		if err == nil {
			n.gossipTxs = append(n.gossipTxs, txs[i])
		}
	}
	n.gossipMu.Unlock()
	// Gossip now rather than at the next tick: the leader of the coming
	// round may be another validator, and every tick waited is latency.
	// Under load the kicks coalesce (the channel holds one).
	select {
	case n.gossipKick <- struct{}{}:
	default:
	}
	return hashes, errs
}

// IsBusy reports whether err means the node cannot take more right now.
func IsBusy(err error) bool { return errors.Is(err, mempool.ErrFull) }

// IsDuplicate reports whether err means the transaction is already pending.
func IsDuplicate(err error) bool { return errors.Is(err, mempool.ErrDuplicate) }

// defaultMaxWaiting bounds the transactions waiting for a block beyond
// which clients are answered busy: one full block, so that what a node
// accepts commits within a few rounds even when it is offered more than it
// can take (measured: two blocks doubled the overload latency for ~10% more
// throughput).
const defaultMaxWaiting = maxBlockTxs

// admitChunk is how many transactions admission checks per hold of
// admitMu, so that a commit never waits long behind a large batch.
const admitChunk = 256

func (n *Node) admitBatch(raw [][]byte) ([]chain.Hash, []error) {
	txs := app.NewTxs(raw)
	hashes := make([]chain.Hash, len(txs))
	all := make([]int, len(txs))
	for i, t := range txs {
		hashes[i] = t.Hash
		all[i] = i
	}
	errs := make([]error, len(txs))
	seen := n.commits.Load()
	n.refuseKnown(txs, errs, all)
	// A transaction given twice in one batch is checked once; the copies
	// get its answer (a refusal, or "already pending").
	first := make(map[chain.Hash]int, len(txs))
	var copies []int
	todo := make([]int, 0, len(txs))
	for i, t := range txs {
		if j, ok := first[t.Hash]; ok {
			copies = append(copies, i)
			all[i] = j
			continue
		}
		first[t.Hash] = i
		if errs[i] == nil {
			todo = append(todo, i)
		}
	}
	for len(todo) > 0 {
		chunk := todo[:min(admitChunk, len(todo))]
		todo = todo[len(chunk):]
		n.admitMu.RLock()
		// Blocks may have committed since the index was read: read it
		// again for this chunk. Commits take admitMu, so this holds until
		// it is released.
		if c := n.commits.Load(); c != seen {
			n.refuseKnown(txs, errs, chunk)
			seen = c
		}
		n.admitChunk(txs, errs, chunk)
		n.admitMu.RUnlock()
	}
	for _, i := range copies {
		if errs[i] = errs[all[i]]; errs[i] == nil {
			errs[i] = mempool.ErrDuplicate
		}
	}
	return hashes, errs
}

// admitChunk has the application check the transactions of idx that are
// not refused yet and adds those it admits to the pool. The caller holds
// admitMu for reading: admission runs beside other admissions (the
// application orders its own view of what is pending), never beside a
// commit, so that the application's view and the pool change together.
func (n *Node) admitChunk(txs []*app.Tx, errs []error, idx []int) {
	if why := n.appError(); why != "" {
		for _, i := range idx {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("%w: %s", ErrAppUnavailable, why)
			}
		}
		return
	}
	var check []*app.Tx
	var at []int
	var mine []*claim
	waits := map[int]*claim{}
	for _, i := range idx {
		if errs[i] != nil {
			continue
		}
		// Again under the lock: the same transaction may have been
		// admitted from gossip while this one waited. idx holds no
		// transaction twice (admitBatch, recheck).
		//
		// Another admission may be checking the very same transaction
		// (a client sends it to every node, and gossip brings it too):
		// the application would count the first pending and refuse the
		// second's nonce, so the second waits for the first's answer. The
		// pool is asked after the claim is taken: an admission adds to
		// the pool before it releases its claim.
		c, ours := n.claims.take(txs[i].Hash)
		if !ours {
			waits[i] = c
			continue
		}
		if errs[i] = n.pool.Fits(txs[i]); errs[i] != nil {
			n.claims.release(txs[i].Hash, c, errs[i])
			continue
		}
		mine = append(mine, c)
		check = append(check, txs[i])
		at = append(at, i)
	}
	defer n.awaitClaims(errs, waits)
	if len(check) == 0 {
		return
	}
	defer func() {
		for j, c := range mine {
			n.claims.release(check[j].Hash, c, errs[at[j]])
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), appCallTime)
	res, err := n.app.CheckTx(ctx, app.CheckNew, check)
	cancel()
	if err == nil && len(res) != len(check) {
		err = fmt.Errorf("%w: %d answers to %d transactions", app.ErrUnavailable, len(res), len(check))
	}
	if err != nil {
		n.log.Error("application could not check transactions", "err", err)
		for _, i := range at {
			errs[i] = fmt.Errorf("%w: %v", ErrAppUnavailable, err)
		}
		return
	}
	var lanes []string
	for j, i := range at {
		if errs[i] = res[j]; errs[i] != nil {
			continue
		}
		if errs[i] = n.pool.Add(txs[i]); errs[i] != nil && txs[i].Lane != "" {
			lanes = append(lanes, txs[i].Lane) // the application counted it pending
		}
	}
	if len(lanes) > 0 {
		n.recheck(app.Recheck{Lanes: lanes})
	}
}

// claim marks a transaction one admission is checking; others that meet
// it wait for done and take err as their answer.
type claim struct {
	done chan struct{}
	err  error
}

// claims are the transactions being checked by some admission now.
type claims struct {
	mu sync.Mutex
	m  map[chain.Hash]*claim
}

// take claims h, or returns the claim another admission holds on it.
func (s *claims) take(h chain.Hash) (c *claim, ours bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.m[h]; c != nil {
		return c, false
	}
	if s.m == nil {
		s.m = make(map[chain.Hash]*claim)
	}
	c = &claim{done: make(chan struct{})}
	s.m[h] = c
	return c, true
}

// release answers the admissions waiting on h's claim.
func (s *claims) release(h chain.Hash, c *claim, err error) {
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
	c.err = err
	close(c.done)
}

// awaitClaims gives each transaction of waits the answer of the
// admission that checked it: its refusal, or "already pending". The
// caller released its own claims first, so that two admissions waiting
// on each other's transactions cannot deadlock.
func (n *Node) awaitClaims(errs []error, waits map[int]*claim) {
	for i, c := range waits {
		<-c.done
		if errs[i] = c.err; errs[i] == nil {
			errs[i] = mempool.ErrDuplicate
		}
	}
}

// ErrAppUnavailable refuses a transaction that the application could not
// check; the client may retry later.
var ErrAppUnavailable = errors.New("application unavailable")

// refuseKnown sets errs[i], for i in idx, for a transaction already on
// the ledger or already pending.
func (n *Node) refuseKnown(txs []*app.Tx, errs []error, idx []int) {
	hs := make([]chain.Hash, len(idx))
	for j, i := range idx {
		hs[j] = txs[i].Hash
	}
	heights, err := n.store.TxHeights(hs)
	if err != nil {
		n.log.Error("cannot read the transaction index", "err", err)
		for _, i := range idx {
			errs[i] = fmt.Errorf("%w: %v", ErrAppUnavailable, err)
		}
		return
	}
	for j, height := range heights {
		i := idx[j]
		if height != 0 {
			r, ok, err := n.TxResult(txs[i].Hash)
			if err != nil || !ok { // unreadable: the height is enough to refuse it
				r = TxRecord{Height: height, OK: true}
			}
			errs[i] = committedErr(r)
		} else if errs[i] == nil && n.pool.Has(txs[i].Hash) {
			errs[i] = mempool.ErrDuplicate
		}
	}
}

// committedErr refuses a transaction that already reached a block, saying
// whether it applied or was rejected there.
func committedErr(r TxRecord) error {
	if r.OK {
		return fmt.Errorf("%w at height %d", ErrCommitted, r.Height)
	}
	return fmt.Errorf("%w at height %d, where it was rejected (%s); sign a new transaction", ErrCommitted, r.Height, r.Error)
}

// recheck has the application re-validate, after a commit, the pending
// transactions it names (for the bank, those of the senders the block
// touched; for an ABCI application, all of them, as CometBFT does): one
// that no longer applies leaves the mempool and is recorded as rejected
// with its reason, so that a client never waits for it in vain. The
// caller holds admitMu.
func (n *Node) recheck(rc app.Recheck) {
	for _, chunk := range n.recheckChunks(rc) {
		ctx, cancel := context.WithTimeout(context.Background(), appCallTime)
		errs, err := n.app.CheckTx(ctx, app.CheckRecheck, chunk)
		cancel()
		if err == nil && len(errs) != len(chunk) {
			err = fmt.Errorf("%w: %d answers to %d transactions", app.ErrUnavailable, len(errs), len(chunk))
		}
		if err != nil {
			n.appFailed(fmt.Errorf("recheck: %w", err))
			return
		}
		for i, e := range errs {
			if e != nil && n.pool.Remove(chunk[i].Hash) {
				n.reject(chunk[i].Hash, e.Error())
			}
		}
	}
}

// recheckChunks splits what rc names into calls of about recheckChunk
// transactions, never splitting a lane: the application rebuilds a lane's
// pending state from the whole of it.
func (n *Node) recheckChunks(rc app.Recheck) [][]*app.Tx {
	var lanes [][]*app.Tx
	if rc.All {
		for all := n.pool.All(); len(all) > 0; all = all[min(recheckChunk, len(all)):] {
			lanes = append(lanes, all[:min(recheckChunk, len(all))])
		}
		return lanes
	}
	var chunks [][]*app.Tx
	var cur []*app.Tx
	for _, l := range rc.Lanes {
		cur = append(cur, n.pool.Lane(l)...)
		if len(cur) >= recheckChunk {
			chunks, cur = append(chunks, cur), nil
		}
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}

// recheckChunk bounds one recheck call to the application.
const recheckChunk = 2048

// rejections remembers, for a bounded number of transactions, why this
// node dropped a transaction it had accepted.
type rejections struct {
	mu     sync.Mutex
	reason map[chain.Hash]string
	order  []chain.Hash
}

const maxRejections = 100_000

// add remembers why h was rejected, and returns the rejection it forgot
// to make room, if any.
func (r *rejections) add(h chain.Hash, why string) (evicted chain.Hash, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason == nil {
		r.reason = make(map[chain.Hash]string)
	}
	if _, again := r.reason[h]; again {
		r.reason[h] = why
		return evicted, false
	}
	if len(r.order) >= maxRejections {
		evicted, ok = r.order[0], true
		delete(r.reason, evicted)
		r.order = r.order[1:]
	}
	r.reason[h] = why
	r.order = append(r.order, h)
	return evicted, ok
}

func (r *rejections) get(h chain.Hash) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	why, ok := r.reason[h]
	return why, ok
}

// TxStatus is what the node knows of a transaction.
type TxStatus struct {
	Status string // "pending", "committed" or "rejected"
	Height uint64 // 0 unless it reached a block
	Code   uint32 // the application's code of a rejection in a block
	Error  string
}

// Tx returns the status of a transaction, or false if the node never saw
// it (or has forgotten a rejection).
func (n *Node) Tx(h chain.Hash) (TxStatus, bool, error) {
	r, ok, err := n.TxResult(h)
	if err != nil {
		return TxStatus{}, false, err
	}
	if ok {
		if r.OK {
			return TxStatus{Status: "committed", Height: r.Height}, true, nil
		}
		return TxStatus{Status: "rejected", Height: r.Height, Code: r.Code, Error: r.Error}, true, nil
	}
	if why, ok := n.rejected.get(h); ok {
		return TxStatus{Status: "rejected", Error: why}, true, nil
	}
	if n.pool.Has(h) {
		return TxStatus{Status: "pending"}, true, nil
	}
	return TxStatus{}, false, nil
}

// accounts is implemented by an application with accounts (the bank).
type accounts interface {
	Account(a chain.Address) (balance, nonce, pendingNonce uint64, err error)
}

// Account returns a bank account's committed balance and next nonce, and
// its next nonce once this node's pending transfers apply; ok is false
// when the application has no accounts.
func (n *Node) Account(a chain.Address) (balance, nonce, pendingNonce uint64, ok bool, err error) {
	acc, ok := n.app.(accounts)
	if !ok {
		return 0, 0, 0, false, nil
	}
	balance, nonce, pendingNonce, err = acc.Account(a)
	return balance, nonce, pendingNonce, err == nil, err
}

// admitGossip admits the transaction batches peers gossip, until ctx ends.
func (n *Node) admitGossip(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case txs := <-n.gossipIn:
			_, errs := n.admitBatch(txs)
			for _, err := range errs {
				// Duplicates, commits that overtook the gossip, and a
				// full pool are expected here; the block will bring what
				// this validator misses.
				if err != nil && !errors.Is(err, mempool.ErrDuplicate) && !errors.Is(err, ErrCommitted) {
					n.metrics.dropped.WithLabelValues("gossiped transaction refused").Inc()
				}
			}
		}
	}
}
