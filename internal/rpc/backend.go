package rpc

import (
	"context"
	"crypto/ed25519"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// Backend is what the RPC reads from a node and hands to it. A running
// validator provides it through NodeBackend (node_backend.go); tests use
// a fake. Every method is safe for concurrent use and returns quickly:
// none waits for consensus.
type Backend interface {
	// Chain returns what does not change while the node runs.
	Chain() Chain
	// Status returns the node's latest snapshot.
	Status() Status
	// Block returns the committed block at height and its hash; false
	// above the committed height (and at 0: genesis is not a block).
	Block(height uint64) (*chain.Block, chain.Hash, bool)
	// BlockByHash returns the committed block with hash h; false for a
	// block that is unknown or was not committed.
	BlockByHash(h chain.Hash) (*chain.Block, bool)
	// Results returns how each transaction of the committed block at
	// height ended, in block order, and the application's hash after the
	// block; false while the block is not executed.
	Results(height uint64) (Results, bool, error)
	// Tx returns what the node knows of a transaction; false if it never
	// saw it.
	Tx(h chain.Hash) (TxStatus, bool, error)
	// SubmitBatch admits transactions as POST /v1/txs/batch does:
	// hashes[i] and errs[i] answer txs[i]. A refusal by the application
	// is an *app.TxError. A JSON-RPC batch's broadcasts go in one call,
	// which costs the node far less than each alone.
	SubmitBatch(txs [][]byte) (hashes []chain.Hash, errs []error)
	// CheckTx has the application judge a transaction without admitting
	// it: nil, an *app.TxError, or the application failing.
	CheckTx(ctx context.Context, tx []byte) error
	// Info and Query reach the application (ABCI Info and Query).
	Info(ctx context.Context) (app.Info, error)
	Query(ctx context.Context, q app.Query) (app.QueryResult, error)
	// Registry is the node's Prometheus registry, which the API's
	// /metrics serves; the RPC registers its metrics there.
	Registry() *prometheus.Registry
}

// Chain is a node's fixed facts.
type Chain struct {
	ChainID    string
	Genesis    config.Genesis
	Validators *chain.ValidatorSet
	Self       uint32            // this validator's index
	PubKey     ed25519.PublicKey // this validator's key
	P2PListen  string            // where it listens for peers
	RPCListen  string            // where it serves this RPC
	Peers      []config.Peer     // every validator's peer address, self included
}

// Status is a node's changing state.
type Status struct {
	Height       uint64 // last committed height
	Executed     uint64 // last height whose block the application executed
	Earliest     uint64 // lowest committed height kept (1 unless pruned)
	Pending      int    // transactions in the mempool
	PendingBytes int    // their bytes
	Links        []Link // connection state with every other validator
	AppError     string // why the application is unusable; "" when it answers
}

// Link is the connection state between the node and one other validator.
type Link struct {
	Validator uint32
	Out, In   bool // an outbound / inbound connection is up
}

// Results are the outcomes of a committed block.
type Results struct {
	Txs     []Outcome // one per transaction of the block, in block order
	AppHash []byte    // the application's hash after the block
}

// Outcome is how one transaction of a committed block ended.
type Outcome struct {
	Code uint32 // 0: applied
	Log  string
}

// TxStatus is what a node knows of a transaction (GET /v1/txs/{hash}).
type TxStatus struct {
	Status string // "pending", "committed" or "rejected"
	Height uint64 // the block that carries it; 0 if none
	Code   uint32
	Log    string
}
