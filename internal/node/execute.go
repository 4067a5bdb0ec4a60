package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/store"
)

// ErrCommitted refuses a transaction that is already on the ledger.
var ErrCommitted = errors.New("transaction already committed")

// rootKey records the state root after each executed height, so that the
// roots that later blocks carry can be checked.
func rootKey(height uint64) string {
	return "root/" + string(binary.BigEndian.AppendUint64(nil, height))
}

// TxRecord is a committed transaction's place and outcome.
type TxRecord struct {
	Height uint64
	OK     bool
	Error  string
}

// TxResult returns the record of a committed transaction.
func (n *Node) TxResult(h chain.Hash) (TxRecord, bool) {
	r, height, ok := n.store.TxOutcome(h)
	if !ok {
		return TxRecord{}, false
	}
	return TxRecord{Height: height, OK: r.OK, Error: r.Error}, true
}

// execute runs a committed block through the application and commits the
// resulting state, root and transaction index in one durable write. A
// transaction already committed at an earlier height, or earlier in the
// same block, is rejected as a duplicate without reaching the application:
// however a leader (honest but late, or Byzantine) repeats a transaction,
// it is applied once.
//
// c is the commit of the block, when the block is being committed now: the
// block's commit and its state then share one durable write. It is nil
// when catching the application up with blocks committed before.
// hashes are the transactions' hashes, or nil.
func (n *Node) execute(b *chain.Block, hashes []chain.Hash, c *consensus.Commit) (app.BlockResult, error) {
	height, txs := b.Height, b.Payload
	if hashes == nil {
		hashes = chain.TxHashes(txs)
	}
	results := make([]app.TxResult, len(txs))
	fresh := make([][]byte, 0, len(txs))
	var freshHashes []chain.Hash
	var pos []int
	seen := make(map[chain.Hash]bool, len(txs))
	evPuts := make(map[string][]byte)
	evCount := uint64(0)
	if v, ok := n.store.AppGet(evidenceCountKey); ok && len(v) == 8 {
		evCount = binary.BigEndian.Uint64(v)
	}
	evBefore := evCount
	evInBlock := 0
	indexed := make([]bool, len(txs))
	known := n.store.TxHeights(hashes)
	for i, tx := range txs {
		h := hashes[i]
		if known[i] != 0 || seen[h] {
			results[i] = app.TxResult{Hash: h, Error: "duplicate: transaction already committed"}
			continue
		}
		seen[h] = true
		indexed[i] = true
		if isEvidenceTx(tx) {
			r, err := n.executeEvidence(height, b.Round, tx, evPuts, &evCount, &evInBlock)
			if err != nil {
				return app.BlockResult{}, fmt.Errorf("node: execute height %d: %w", height, err)
			}
			results[i] = r
			continue
		}
		fresh = append(fresh, tx)
		freshHashes = append(freshHashes, h)
		pos = append(pos, i)
	}
	if n.bank != nil {
		// Whatever signatures admission and verifyAhead did not check yet,
		// checked in batches on every core rather than one by one.
		n.bank.PreVerify(fresh, freshHashes)
	}
	res, err := n.app.Execute(height, fresh)
	if err != nil {
		return app.BlockResult{}, fmt.Errorf("node: execute height %d: %w", height, err)
	}
	if len(res.Results) != len(fresh) {
		return app.BlockResult{}, fmt.Errorf("node: execute height %d: %d results for %d transactions", height, len(res.Results), len(fresh))
	}
	puts := res.Puts
	if puts == nil {
		puts = make(map[string][]byte)
	}
	for j, r := range res.Results {
		results[pos[j]] = r
	}
	var outcomes []store.TxOutcome
	for i, r := range results {
		if indexed[i] && !r.Later {
			outcomes = append(outcomes, store.TxOutcome{Hash: r.Hash, OK: r.OK, Error: r.Error})
		}
	}
	for k, v := range evPuts {
		puts[k] = v
	}
	if evCount != evBefore {
		puts[evidenceCountKey] = binary.BigEndian.AppendUint64(nil, evCount)
	}
	puts[rootKey(height)] = res.StateRoot[:]
	if c != nil {
		err = n.store.CommitExecuted(*c, store.AppWrite{Root: res.StateRoot, Puts: puts, Deletes: res.Deletes, Results: outcomes})
	} else {
		err = n.store.AppCommitWith(height, store.AppWrite{Root: res.StateRoot, Puts: puts, Deletes: res.Deletes, Results: outcomes})
	}
	if err != nil {
		return app.BlockResult{}, fmt.Errorf("node: commit state of height %d: %w", height, err)
	}
	res.Results = results
	return res, nil
}
