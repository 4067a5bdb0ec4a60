package node

import (
	"fmt"

	"github.com/strategos/strategos/internal/chain"
)

// Outcome is how one transaction of a committed block ended there.
type Outcome struct {
	Code uint32 // 0: applied
	Log  string
}

// codeNotApplied is the outcome of a transaction a block carried but did
// not apply, which stayed pending (app.TxResult.Later: not applicable
// yet, such as a transfer whose nonce is ahead).
const codeNotApplied = codeDuplicate + 1

// notAppliedLog is that outcome's log.
const notAppliedLog = "not applied in this block: not applicable yet, it stays pending"

// Outcomes returns how each transaction of the committed block at height
// ended, in block order, and the application's hash after the block; ok
// is false while the block is not executed. A transaction that the
// block repeats (committed earlier, or earlier in the block) is a
// duplicate, as execution judged it.
func (n *Node) Outcomes(height uint64) (outs []Outcome, appHash []byte, ok bool, err error) {
	if executed, _ := n.store.AppState(); height == 0 || height > executed {
		return nil, nil, false, nil
	}
	b, _, _, ok := n.store.CommittedBlock(height)
	if !ok {
		return nil, nil, false, fmt.Errorf("node: read block %d: %w", height, n.store.Err())
	}
	outs = make([]Outcome, len(b.Payload))
	seen := make(map[chain.Hash]bool, len(b.Payload))
	for i, h := range chain.TxHashes(b.Payload) {
		r, at, found, err := n.store.TxOutcome(h)
		if err != nil {
			return nil, nil, false, err
		}
		switch {
		case seen[h] || (found && at < height):
			outs[i] = Outcome{Code: codeDuplicate, Log: duplicateLog}
		case found && at == height:
			outs[i] = Outcome{Code: r.Code, Log: r.Error}
		default: // never committed, or at a later height
			outs[i] = Outcome{Code: codeNotApplied, Log: notAppliedLog}
		}
		seen[h] = true
	}
	root, _, err := n.store.AppGet(rootKey(height))
	if err != nil {
		return nil, nil, false, err
	}
	return outs, root, true, nil
}

// PendingBytes returns the bytes of the transactions in the mempool.
func (n *Node) PendingBytes() int { return n.pool.Bytes() }
