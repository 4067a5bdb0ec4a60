package node

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/strategos/strategos/internal/app/bank"
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
	if room < len(txs) {
		hashes = make([]chain.Hash, len(txs))
		errs = make([]error, len(txs))
		take := max(room, 0)
		h, e := n.admitBatch(txs[:take])
		copy(hashes, h)
		copy(errs, e)
		busy := fmt.Errorf("%w: %d transactions already wait for a block", mempool.ErrFull, n.maxWaiting-room)
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

func (n *Node) admitBatch(txs [][]byte) ([]chain.Hash, []error) {
	hashes := make([]chain.Hash, len(txs))
	errs := make([]error, len(txs))
	all := make([]int, len(txs))
	for i, tx := range txs {
		hashes[i] = chain.TxHash(tx)
		all[i] = i
	}
	seen := n.commits.Load()
	n.refuseKnown(hashes, errs, all)
	if n.bank == nil {
		for i, tx := range txs {
			if errs[i] != nil {
				continue
			}
			if errs[i] = n.app.CheckTx(tx); errs[i] == nil {
				_, errs[i] = n.pool.Add(tx)
			}
		}
		return hashes, errs
	}
	decoded := make([]bank.Tx, len(txs))
	var todo []int
	var verify []bank.Tx
	for i, tx := range txs {
		if errs[i] != nil {
			continue
		}
		t, err := bank.DecodeHashed(tx, hashes[i])
		if err != nil {
			errs[i] = err
			continue
		}
		decoded[i] = t
		todo = append(todo, i)
		verify = append(verify, t)
	}
	// Signatures first, outside the lock and on every core; the checks
	// below then find them verified.
	n.bank.PreVerifyDecoded(verify)
	for len(todo) > 0 {
		chunk := todo[:min(admitChunk, len(todo))]
		todo = todo[len(chunk):]
		n.admitMu.Lock()
		// Blocks may have committed since the index was read: read it
		// again for this chunk. Commits take admitMu, so this holds until
		// it is released.
		if c := n.commits.Load(); c != seen {
			n.refuseKnown(hashes, errs, chunk)
			seen = c
		}
		senders := make(map[chain.Address]senderState)
		for _, i := range chunk {
			if errs[i] == nil {
				errs[i] = n.admitTransfer(txs[i], decoded[i], senders)
			}
		}
		n.admitMu.Unlock()
	}
	return hashes, errs
}

// refuseKnown sets errs[i], for i in idx, for a transaction already on
// the ledger or already pending.
func (n *Node) refuseKnown(hashes []chain.Hash, errs []error, idx []int) {
	hs := make([]chain.Hash, len(idx))
	for j, i := range idx {
		hs[j] = hashes[i]
	}
	for j, height := range n.store.TxHeights(hs) {
		i := idx[j]
		if height != 0 {
			r, ok := n.TxResult(hashes[i])
			if !ok { // unreadable: the height is enough to refuse it
				r = TxRecord{Height: height, OK: true}
			}
			errs[i] = committedErr(r)
		} else if errs[i] == nil && n.pool.Has(hashes[i]) {
			errs[i] = mempool.ErrDuplicate
		}
	}
}

// senderState is a sender's committed balance and next nonce, read once
// per admission chunk (the state cannot change while admitMu is held).
type senderState struct {
	balance, next uint64
	sender        string
}

// admitTransfer checks one transfer against its sender's committed state
// and pending transfers, and adds it to the pool. The caller holds
// admitMu.
func (n *Node) admitTransfer(tx []byte, t bank.Tx, senders map[chain.Address]senderState) error {
	// Again under the lock: the same transaction may have been admitted
	// from gossip while this one waited.
	if n.pool.Has(t.Hash) {
		return mempool.ErrDuplicate
	}
	from := t.From()
	st, ok := senders[from]
	if !ok {
		st.balance, st.next = n.bank.Account(from)
		st.sender = from.String()
		senders[from] = st
	}
	if st.balance == 0 && st.next == 0 {
		return fmt.Errorf("%w %s: it has no funds", bank.ErrUnknownAccount, st.sender)
	}
	count, spend := n.pool.SenderPending(st.sender)
	pendingNext := st.next + uint64(count)
	if t.Nonce > pendingNext {
		return fmt.Errorf("%w: nonce %d is ahead of the next nonce %d (pending transfers included): submit the missing nonces first", bank.ErrNonceGap, t.Nonce, pendingNext)
	}
	available := uint64(0)
	if st.balance > spend {
		available = st.balance - spend
	}
	if err := n.bank.CheckDecodedAt(t, pendingNext, available); err != nil {
		return err
	}
	return n.pool.AddHashed(tx, t.Hash, st.sender, t.Nonce, t.Amount)
}

// committedErr refuses a transaction that already reached a block, saying
// whether it applied or was rejected there.
func committedErr(r TxRecord) error {
	if r.OK {
		return fmt.Errorf("%w at height %d", ErrCommitted, r.Height)
	}
	return fmt.Errorf("%w at height %d, where it was rejected (%s); sign a new transaction", ErrCommitted, r.Height, r.Error)
}

// recheck re-validates, after a commit, the pending transfers of every
// sender the committed block touched: a pending transfer whose nonce was
// used, or that the sender can no longer afford, leaves the mempool and is
// recorded as rejected with its reason, so that a client never waits for
// it in vain. The caller holds admitMu.
func (n *Node) recheck(senders []chain.Address) {
	if n.bank == nil {
		return
	}
	for _, from := range senders {
		balance, next := n.bank.Account(from)
		for _, p := range n.pool.SenderTxs(from.String()) {
			var reason string
			switch {
			case p.Nonce < next:
				reason = fmt.Sprintf("nonce %d was used by another committed transfer", p.Nonce)
			case p.Nonce > next:
				reason = fmt.Sprintf("nonce %d no longer follows the sender's next nonce %d", p.Nonce, next)
			case p.Spend > balance:
				reason = fmt.Sprintf("insufficient funds once earlier transfers committed: balance %d, amount %d", balance, p.Spend)
			default:
				next++
				balance -= p.Spend
				continue
			}
			if n.pool.Remove(p.Hash) {
				n.reject(p.Hash, reason)
			}
		}
	}
}

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
	Error  string
}

// Tx returns the status of a transaction, or false if the node never saw
// it (or has forgotten a rejection).
func (n *Node) Tx(h chain.Hash) (TxStatus, bool) {
	if r, ok := n.TxResult(h); ok {
		if r.OK {
			return TxStatus{Status: "committed", Height: r.Height}, true
		}
		return TxStatus{Status: "rejected", Height: r.Height, Error: r.Error}, true
	}
	if why, ok := n.rejected.get(h); ok {
		return TxStatus{Status: "rejected", Error: why}, true
	}
	if n.pool.Has(h) {
		return TxStatus{Status: "pending"}, true
	}
	return TxStatus{}, false
}

// Account returns a bank account's committed balance and next nonce, and
// its next nonce once this node's pending transfers apply.
func (n *Node) Account(a chain.Address) (balance, nonce, pendingNonce uint64, ok bool) {
	if n.bank == nil {
		return 0, 0, 0, false
	}
	// Under admitMu, so that a commit's state and its mempool removals are
	// seen together (pending_nonce is never one ahead).
	n.admitMu.Lock()
	defer n.admitMu.Unlock()
	balance, nonce = n.bank.Account(a)
	count, _ := n.pool.SenderPending(a.String())
	return balance, nonce, nonce + uint64(count), true
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

// verifySoon queues a new block's transactions for signature checks ahead
// of its execution: a block can carry transfers whose gossip never
// reached this validator, and checking them when it commits would hold up
// the consensus loop. Best effort: when the queue is full, execution
// checks them itself.
func (n *Node) verifySoon(p payload) {
	if n.bank == nil || len(p.txs) == 0 {
		return
	}
	select {
	case n.verifyIn <- p:
	default:
	}
}

// payload is a block's transactions with their hashes.
type payload struct {
	txs    [][]byte
	hashes []chain.Hash
}

// hashesOf returns the hashes of b's transactions, computed once per
// block while it is uncommitted. Consensus goroutine only.
func (n *Node) hashesOf(b *chain.Block) []chain.Hash {
	if hs, ok := n.txHashes[b]; ok {
		return hs
	}
	return chain.TxHashes(b.Payload)
}

func (n *Node) verifyAhead(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-n.verifyIn:
			n.bank.PreVerify(p.txs, p.hashes)
		}
	}
}
