// Package app defines the boundary between consensus and the state that
// the ledger keeps: the Application interface. Consensus orders opaque
// transactions; an Application admits them, executes committed blocks
// deterministically, and answers queries. Concrete applications live in
// subpackages (kv, and later bank); a third can be written without touching
// consensus.
//
// The shape follows ABCI++ (check, prepare, finalize, commit, query), in
// process and in Go: CheckTx guards the mempool, the node's mempool builds
// payloads, Execute finalizes a committed block, and Query reads state.
package app

import (
	"errors"

	"github.com/strategos/strategos/internal/chain"
)

// ErrNotFound is returned by Query for a key that has no value.
var ErrNotFound = errors.New("app: not found")

// TxResult is the outcome of one transaction in a committed block. A
// rejected transaction changes nothing; Error says why.
type TxResult struct {
	Hash  chain.Hash
	OK    bool
	Error string
	// Later marks a transaction that is not applicable yet but may become
	// so (a transfer whose nonce is ahead of its sender's next): it
	// changes nothing, is not recorded as committed, and stays pending, so
	// a leader that orders it too early cannot get it rejected for good.
	Later bool
}

// BlockResult is the outcome of executing one committed block: the
// results, the new state root, and the state writes that produce it.
type BlockResult struct {
	Height    uint64
	Results   []TxResult // one per transaction, in block order
	StateRoot chain.Hash // digest of the state after the block
	Puts      map[string][]byte
	Deletes   []string
	// Senders, for applications whose transactions apply in per-sender
	// order (bank), are the senders of the block's transactions: the node
	// re-checks their pending transactions after the commit.
	Senders []chain.Address
}

// Application is a deterministic state machine over committed blocks.
//
// Execute must be deterministic: every honest validator that executes the
// same blocks in the same order reaches the same state root. It is called
// once per committed height, in order. It computes and does not write: it
// returns the block's state writes, and the node commits them together
// with the executed height, the root and its transaction index in one
// durable transaction, so that state and index never disagree after a
// crash. Info then reports the new height.
type Application interface {
	// Name is the application's name, as in the genesis ("bank", "kv").
	Name() string
	// CheckTx decides whether tx may enter the mempool, against the latest
	// committed state. It must not change state.
	CheckTx(tx []byte) error
	// Execute computes the effect of a committed block's transactions on
	// the state after the previous height.
	Execute(height uint64, txs [][]byte) (BlockResult, error)
	// Info returns the last executed height and its state root.
	Info() (height uint64, root chain.Hash)
	// Query reads a value of the state by key.
	Query(key string) ([]byte, error)
}

// TxHash returns the hash that identifies a transaction.
func TxHash(tx []byte) chain.Hash { return chain.TxHash(tx) }

// ProposalChecker is implemented by an application that vets a proposed
// block's transactions before the validator votes for it (ABCI++'s
// ProcessProposal): what a quorum votes for is stored and indexed
// forever, so junk a Byzantine leader makes up should not get a vote.
// CheckProposal must be cheap and stateless (it runs before the votes,
// on the consensus path) and deterministic enough that honest validators
// agree; state-dependent validity (balances, nonces) stays with Execute,
// which rejects such transactions one by one.
type ProposalChecker interface {
	CheckProposal(txs [][]byte) error
}
