package node

import (
	"bytes"
	"context"
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

// rootKey records the app hash after each executed height, so that the
// roots that later blocks carry can be checked, and a replay compared.
func rootKey(height uint64) string {
	return "root/" + string(binary.BigEndian.AppendUint64(nil, height))
}

// TxRecord is a committed transaction's place and outcome.
type TxRecord struct {
	Height uint64
	OK     bool
	Code   uint32
	Error  string
}

// TxResult returns the record of a committed transaction, and false for
// one never committed.
func (n *Node) TxResult(h chain.Hash) (TxRecord, bool, error) {
	r, height, ok, err := n.store.TxOutcome(h)
	if err != nil || !ok {
		return TxRecord{}, false, err
	}
	return TxRecord{Height: height, OK: r.OK, Code: r.Code, Error: r.Error}, true, nil
}

// executed is a committed block's execution: the results of its
// transactions (one per transaction of the block) and the app hash.
type executed struct {
	results []app.TxResult
	appHash []byte
	recheck app.Recheck
}

// execute finalizes a committed block with the application and records
// the resulting state, app hash and transaction outcomes in one durable
// write, then has the application commit. A transaction already committed
// at an earlier height, or earlier in the same block, is rejected as a
// duplicate without reaching the application: however a leader (honest
// but late, or Byzantine) repeats a transaction, it is applied once.
//
// c is the commit of the block, when the block is being committed now: the
// block's commit and its state then share one durable write. It is nil
// when catching the application up with blocks committed before.
func (n *Node) execute(ctx context.Context, b *chain.Block, c *consensus.Commit) (executed, error) {
	txs := n.txsOf(b)
	fresh, pos, results, err := n.freshTxs(b, txs)
	if err != nil {
		return executed{}, err
	}
	puts := make(map[string][]byte)
	misbehavior, err := n.blockEvidence(b, puts)
	if err != nil {
		return executed{}, err
	}
	res, err := n.finalize(ctx, b, fresh, misbehavior)
	if err != nil {
		return executed{}, err
	}
	for j, r := range res.TxResults {
		results[pos[j]] = r
	}
	var outcomes []store.TxOutcome
	for i, r := range results {
		if !dupResult(r) && !r.Later {
			outcomes = append(outcomes, store.TxOutcome{Hash: txs[i].Hash, OK: r.OK(), Code: r.Code, Error: r.Log})
		}
	}
	var deletes []string
	if w := res.Writes; w != nil {
		for k, v := range w.Puts {
			puts[k] = v
		}
		deletes = w.Deletes
	}
	puts[rootKey(b.Height)] = res.AppHash
	write := store.AppWrite{Root: res.AppHash, Puts: puts, Deletes: deletes, Results: outcomes}
	if c != nil {
		err = n.store.CommitExecuted(*c, write)
	} else {
		err = n.store.AppCommitWith(b.Height, write)
	}
	if err != nil {
		return executed{}, fmt.Errorf("node: commit state of height %d: %w", b.Height, err)
	}
	if err := n.app.Commit(ctx); err != nil {
		return executed{}, fmt.Errorf("node: commit of height %d: %w", b.Height, err)
	}
	n.maybeSnapshot(b.Height, res.AppHash)
	return executed{results: results, appHash: res.AppHash, recheck: res.Recheck}, nil
}

// duplicateLog is the outcome of a transaction already committed.
const duplicateLog = "duplicate: transaction already committed"

func dupResult(r app.TxResult) bool { return r.Code == codeDuplicate && r.Log == duplicateLog }

// codeDuplicate is the code the node gives to a transaction it settles
// itself, as already committed.
const codeDuplicate uint32 = 1 << 31

// freshTxs returns the transactions of b that reach the application, their
// positions in the block, and the results of the block with those of the
// duplicates filled in.
func (n *Node) freshTxs(b *chain.Block, txs []*app.Tx) (fresh []*app.Tx, pos []int, results []app.TxResult, err error) {
	hashes := make([]chain.Hash, len(txs))
	for i, t := range txs {
		hashes[i] = t.Hash
	}
	known, err := n.store.TxHeights(hashes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("node: execute height %d: %w", b.Height, err)
	}
	results = make([]app.TxResult, len(txs))
	seen := make(map[chain.Hash]bool, len(txs))
	fresh = make([]*app.Tx, 0, len(txs))
	for i, t := range txs {
		// A replay finds the block's own transactions indexed at its height.
		if (known[i] != 0 && known[i] < b.Height) || seen[t.Hash] {
			results[i] = app.TxResult{Code: codeDuplicate, Log: duplicateLog}
			continue
		}
		seen[t.Hash] = true
		fresh = append(fresh, t)
		pos = append(pos, i)
	}
	return fresh, pos, results, nil
}

// finalize has the application execute a block's fresh transactions and
// the misbehaviour it records, and checks that its answer keeps to the
// protocol.
func (n *Node) finalize(ctx context.Context, b *chain.Block, fresh []*app.Tx, misbehavior []app.Misbehavior) (app.BlockResult, error) {
	blk := app.Block{Height: b.Height, Round: b.Round, Time: b.Time, Proposer: b.Proposer, Txs: fresh, Misbehavior: misbehavior}
	if b.QC != nil {
		blk.LastCommit, blk.LastCommitRound = b.QC.Signers(), b.QC.Round
	}
	res, err := n.app.FinalizeBlock(ctx, blk)
	if err != nil {
		return app.BlockResult{}, fmt.Errorf("node: finalize height %d: %w", b.Height, err)
	}
	if len(res.TxResults) != len(fresh) {
		return app.BlockResult{}, fmt.Errorf("node: finalize height %d: %w: %d results for %d transactions",
			b.Height, app.ErrUnavailable, len(res.TxResults), len(fresh))
	}
	if len(res.AppHash) > chain.MaxStateRoot {
		return app.BlockResult{}, fmt.Errorf("node: finalize height %d: %w: app hash of %d bytes, at most %d",
			b.Height, app.ErrUnavailable, len(res.AppHash), chain.MaxStateRoot)
	}
	if res.ValidatorUpdates > 0 {
		n.metrics.dropped.WithLabelValues("validator updates refused").Add(float64(res.ValidatorUpdates))
		n.log.Warn("application asked for validator updates: refused, the validator set is fixed",
			"height", b.Height, "updates", res.ValidatorUpdates)
	}
	return res, nil
}

// replay re-finalizes a block whose outcome the node recorded before the
// application made it durable (the application was killed in between):
// the application must reach the app hash recorded then.
func (n *Node) replay(ctx context.Context, b *chain.Block) error {
	fresh, _, _, err := n.freshTxs(b, n.txsOf(b))
	if err != nil {
		return err
	}
	misbehavior, err := n.recordedEvidence(b)
	if err != nil {
		return err
	}
	res, err := n.finalize(ctx, b, fresh, misbehavior)
	if err != nil {
		return err
	}
	want, _, err := n.store.AppGet(rootKey(b.Height))
	if err != nil {
		return err
	}
	if !bytes.Equal(want, res.AppHash) {
		n.metrics.divergence.Inc()
		return fmt.Errorf("node: replay of height %d: the application's hash %x differs from %x, recorded when it first finalized the block",
			b.Height, res.AppHash, want)
	}
	return n.app.Commit(ctx)
}
