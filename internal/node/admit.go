package node

import (
	"bytes"
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
// gossiped to the other validators. Surrounding whitespace (a trailing
// newline from a shell pipe) is ignored.
func (n *Node) Submit(tx []byte) (chain.Hash, error) {
	tx = bytes.TrimSpace(tx)
	h := chain.TxHash(tx)
	if err := n.admit(tx); err != nil {
		return h, err
	}
	n.gossipMu.Lock()
	n.gossipTxs = append(n.gossipTxs, tx)
	n.gossipMu.Unlock()
	return h, nil
}

// IsBusy reports whether err means the node cannot take more right now.
func IsBusy(err error) bool { return errors.Is(err, mempool.ErrFull) }

// IsDuplicate reports whether err means the transaction is already pending.
func IsDuplicate(err error) bool { return errors.Is(err, mempool.ErrDuplicate) }

func (n *Node) admit(tx []byte) error {
	h := chain.TxHash(tx)
	if r, ok := n.TxResult(h); ok {
		return committedErr(r)
	}
	if n.pool.Has(h) {
		return mempool.ErrDuplicate
	}
	if n.bank == nil {
		if err := n.app.CheckTx(tx); err != nil {
			return err
		}
		_, err := n.pool.Add(tx)
		return err
	}
	t, err := bank.Decode(tx)
	if err != nil {
		return err
	}
	sender := t.From().String()
	n.admitMu.Lock()
	defer n.admitMu.Unlock()
	// Again under the lock: the same transaction may have been admitted
	// from gossip, or committed, while this one waited.
	if r, ok := n.TxResult(h); ok {
		return committedErr(r)
	}
	if n.pool.Has(h) {
		return mempool.ErrDuplicate
	}
	balance, next := n.bank.Account(t.From())
	if balance == 0 && next == 0 {
		return fmt.Errorf("%w %s: it has no funds", bank.ErrUnknownAccount, sender)
	}
	count, spend := n.pool.SenderPending(sender)
	pendingNext := next + uint64(count)
	if t.Nonce > pendingNext {
		return fmt.Errorf("%w: nonce %d is ahead of the next nonce %d (pending transfers included): submit the missing nonces first", bank.ErrNonceGap, t.Nonce, pendingNext)
	}
	available := uint64(0)
	if balance > spend {
		available = balance - spend
	}
	if _, err := n.bank.CheckTxAt(tx, pendingNext, available); err != nil {
		return err
	}
	_, err = n.pool.AddSeq(tx, sender, t.Nonce, t.Amount)
	return err
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
func (n *Node) recheck(txs [][]byte) {
	if n.bank == nil {
		return
	}
	seen := map[chain.Address]bool{}
	for _, tx := range txs {
		t, err := bank.Decode(tx)
		if err != nil || seen[t.From()] {
			continue
		}
		seen[t.From()] = true
		balance, next := n.bank.Account(t.From())
		for _, p := range n.pool.SenderTxs(t.From().String()) {
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
				n.rejected.add(p.Hash, reason)
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

func (r *rejections) add(h chain.Hash, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reason == nil {
		r.reason = make(map[chain.Hash]string)
	}
	if len(r.order) >= maxRejections {
		delete(r.reason, r.order[0])
		r.order = r.order[1:]
	}
	r.reason[h] = why
	r.order = append(r.order, h)
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
