// Package app defines the boundary between a validator and the state its
// ledger keeps: the Application interface, in the shape of CometBFT's
// ABCI++ (Info, InitChain, CheckTx, PrepareProposal, ProcessProposal,
// FinalizeBlock, Commit, Query), in process and typed.
//
// The node orders transactions and knows an application only through this
// interface: bank and kv implement it in process, and package abci
// implements it for any application that speaks ABCI 2.0 over its socket
// protocol. docs/applications.md says when the node calls each method
// and against which state.
//
// A transaction travels as a *Tx, parsed once: its bytes, its hash and the
// application's decoded form are computed once per validator and carried
// from admission (or from the block that brought it) to execution.
package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
)

// Tx is a transaction as it travels through a validator.
type Tx struct {
	Bytes []byte
	Hash  chain.Hash
	// Parsed is the application's decoded form, set by the application
	// the first time it sees the transaction (CheckTx, ProcessProposal)
	// and read again at execution; nil until then, and always nil for an
	// application that takes transactions as opaque bytes.
	Parsed any
	// Lane groups the transactions that must be rechecked in order
	// together (for the bank, a sender's transfers): set by CheckTx;
	// "" for none.
	Lane string
}

// NewTx returns b as a transaction, hashed.
func NewTx(b []byte) *Tx { return &Tx{Bytes: b, Hash: chain.TxHash(b)} }

// NewTxs returns bs as transactions, hashed.
func NewTxs(bs [][]byte) []*Tx {
	out := make([]*Tx, len(bs))
	for i, b := range bs {
		out[i] = NewTx(b)
	}
	return out
}

// Bytes returns the transactions' bytes.
func Bytes(txs []*Tx) [][]byte {
	out := make([][]byte, len(txs))
	for i, t := range txs {
		out[i] = t.Bytes
	}
	return out
}

// ErrUnavailable wraps every error that means the application could not
// answer (unreachable, timed out, out of protocol), as opposed to an
// answer: the node then stops voting and committing, says why, and tries
// again, rather than stopping or guessing.
var ErrUnavailable = errors.New("application unavailable")

// TxError is an application's refusal of a transaction, with the code and
// log it gave (ABCI's ResponseCheckTx / ExecTxResult).
type TxError struct {
	Code      uint32
	Codespace string
	Log       string
	Err       error // the application's own error, for errors.Is; may be nil
}

func (e *TxError) Error() string {
	if e.Log != "" {
		return e.Log
	}
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("code %d", e.Code)
}

func (e *TxError) Unwrap() error { return e.Err }

// Refuse returns err as a TxError with code (1 when 0).
func Refuse(code uint32, err error) *TxError {
	return &TxError{Code: max(code, 1), Log: err.Error(), Err: err}
}

// Info is what an application reports of itself (ABCI Info).
type Info struct {
	Name       string // "bank", "kv", "abci"
	Data       string
	Version    string
	AppVersion uint64
	Height     uint64 // the last block whose Commit the application made durable
	AppHash    []byte // the hash of its state after Height
}

// Genesis is what InitChain gives the application.
type Genesis struct {
	ChainID       string
	Time          int64 // unix nanoseconds
	Validators    *chain.ValidatorSet
	AppState      []byte // the genesis file's app state (bank: its accounts), JSON
	InitialHeight uint64
}

// CheckKind says why CheckTx is called.
type CheckKind int

const (
	// CheckNew admits a transaction to the mempool.
	CheckNew CheckKind = iota
	// CheckRecheck re-validates, after a commit, transactions still
	// pending: the application rebuilds its view of what is pending from
	// them, in the order given.
	CheckRecheck
)

// Proposal is a block being built (PrepareProposal) or judged
// (ProcessProposal).
type Proposal struct {
	Height   uint64
	Round    uint64
	Time     int64 // unix nanoseconds
	Proposer uint32
	Hash     chain.Hash // zero while it is being built
	Txs      []*Tx
	MaxBytes int // PrepareProposal: the transactions' byte budget
	MaxTxs   int // PrepareProposal: the most transactions (0: chain.MaxBlockTxs)
	// Misbehavior is the evidence the block carries.
	Misbehavior []Misbehavior
}

// Misbehavior is proven misbehaviour of a validator, as the block that
// carries it records it.
type Misbehavior struct {
	Validator uint32
	Kind      string // e.g. "double-vote", "double-proposal"
	Height    uint64 // of the block that records it
	Round     uint64 // of the conflicting messages
	Time      int64
}

// Block is a committed block for FinalizeBlock.
type Block struct {
	Height      uint64
	Round       uint64
	Time        int64
	Proposer    uint32
	Hash        chain.Hash
	Txs         []*Tx
	Misbehavior []Misbehavior
	// LastCommit are the validators whose votes certified the parent
	// (the quorum certificate this block carries), and its round.
	LastCommit      []uint32
	LastCommitRound uint64
}

// TxResult is the outcome of one transaction of a committed block.
type TxResult struct {
	Code      uint32 // 0: applied
	Codespace string
	Log       string // why it was rejected, or the application's note
	Data      []byte
	GasWanted int64
	GasUsed   int64
	// Later marks a transaction that is not applicable yet but may become
	// so (a transfer whose nonce is ahead of its sender's next): it
	// changes nothing, is not recorded as committed, and stays pending, so
	// a leader that orders it too early cannot get it rejected for good.
	Later bool
}

// OK reports whether the transaction applied.
func (r TxResult) OK() bool { return r.Code == 0 }

// Writes are state writes that the node persists for an application
// whose state lives in the node's store (bank, kv), in the same durable
// transaction as the block's commit and results: state and ledger then
// never disagree after a crash, and Commit has nothing left to do.
type Writes struct {
	Puts    map[string][]byte
	Deletes []string
}

// Recheck says which pending transactions the node re-validates after a
// block: all of them (as CometBFT does), or those of some lanes.
type Recheck struct {
	All   bool
	Lanes []string
}

// BlockResult is the outcome of FinalizeBlock.
type BlockResult struct {
	TxResults []TxResult // one per transaction, in block order
	AppHash   []byte     // the state's hash after the block
	Writes    *Writes    // nil for an application that keeps its own state
	Recheck   Recheck
	// ValidatorUpdates counts the validator set changes the application
	// asked for: Strategos's validator set is fixed, so they are refused
	// (logged and counted), never applied.
	ValidatorUpdates int
}

// Query asks the application about its state (ABCI Query).
type Query struct {
	Path   string
	Data   []byte
	Height uint64 // 0: the latest
	Prove  bool
}

// QueryResult is an application's answer to a Query.
type QueryResult struct {
	Code      uint32
	Codespace string
	Log       string
	Info      string
	Key       []byte
	Value     []byte // nil when the key has no value
	Height    uint64
	// With Query.Prove, from an application that proves its answers: the
	// protobuf encoding of an ICS23 CommitmentProof of Value (of the key's
	// absence when Value is nil) against the app hash of Height, and the
	// name of the ics23 spec it verifies under ("smt").
	Proof     []byte
	ProofSpec string
}

// ErrNotKept is the error of a query for a height whose state the
// application no longer keeps (or never did, since its restart).
var ErrNotKept = errors.New("the state of that height is not kept")

// NotKeptError is an ErrNotKept that says which heights are kept.
type NotKeptError struct {
	Height, Earliest, Latest uint64
}

func (e *NotKeptError) Error() string {
	return fmt.Sprintf("%v: height %d, kept %d..%d", ErrNotKept, e.Height, e.Earliest, e.Latest)
}

// Is makes errors.Is(err, ErrNotKept) true.
func (e *NotKeptError) Is(target error) bool { return target == ErrNotKept }

// Application is a deterministic state machine over committed blocks.
//
// FinalizeBlock must be deterministic: every honest validator that
// finalizes the same blocks in the same order reaches the same app hash.
// The node calls it once per committed height, in order, then Commit.
// CheckTx and Query may run concurrently with the consensus connection's
// calls (PrepareProposal, ProcessProposal, FinalizeBlock, Commit), which
// never overlap one another.
type Application interface {
	// Info reports the application's name and its last committed block.
	Info(ctx context.Context) (Info, error)
	// InitChain is called once, before the first block, when Info reports
	// height 0. It returns the genesis app hash.
	InitChain(ctx context.Context, g Genesis) ([]byte, error)
	// CheckTx decides for each transaction whether it may enter (or stay
	// in) the mempool: errs[i] is nil, or a *TxError saying why not. It
	// may set each Tx's Parsed and Lane. err is the application failing.
	CheckTx(ctx context.Context, kind CheckKind, txs []*Tx) (errs []error, err error)
	// PrepareProposal returns the transactions of a block this validator
	// leads, from the mempool's candidates in p.Txs, within p.MaxBytes.
	PrepareProposal(ctx context.Context, p Proposal) ([]*Tx, error)
	// ProcessProposal judges a proposed block before this validator votes
	// for it: false refuses the vote.
	ProcessProposal(ctx context.Context, p Proposal) (bool, error)
	// FinalizeBlock executes a committed block.
	FinalizeBlock(ctx context.Context, b Block) (BlockResult, error)
	// Commit makes the last finalized block's state durable.
	Commit(ctx context.Context) error
	// Query reads the state.
	Query(ctx context.Context, q Query) (QueryResult, error)
	// Close releases the application's resources.
	Close() error
}

// Snapshotter is an application whose state can be exported at a height
// and restored from that export (state sync).
type Snapshotter interface {
	// ExportState calls fn with each key and value of the application's
	// authenticated state at height, one of the heights it keeps (an
	// error wrapping ErrNotKept otherwise). Keys and values are shared:
	// fn must not modify or keep them.
	ExportState(height uint64, fn func(key, value []byte) error) error
	// RestoreState computes, writing nothing, what the application's
	// app.State holds after executing up to height, and the app hash,
	// from the pairs ExportState gave (and the genesis, for what the
	// state keeps outside its tree). It refuses malformed pairs (an
	// error naming the pair), duplicate keys, and more than MaxRestorePairs.
	RestoreState(g Genesis, height uint64, keys, values [][]byte) (puts map[string][]byte, appHash []byte, err error)
}

// Snapshot is a snapshot that an application takes and keeps itself
// (ABCI's Snapshot): the state after executing Height, in Chunks opaque
// chunks of the application's Format; Hash and Metadata are the
// application's own.
type Snapshot struct {
	Height   uint64
	Format   uint32
	Chunks   uint32
	Hash     []byte
	Metadata []byte
}

// SnapshotKeeper is an application that takes and restores its own
// snapshots, as ABCI applications do with ListSnapshots,
// LoadSnapshotChunk, OfferSnapshot and ApplySnapshotChunk. The node copies
// them into its snapshot directory, where each chunk is hashed, serves
// them to peers, and gives a new validator's application a copy whose
// chunks all matched their hashes and whose height is certified.
type SnapshotKeeper interface {
	ListSnapshots(ctx context.Context) ([]Snapshot, error)
	LoadSnapshotChunk(ctx context.Context, height uint64, format, chunk uint32) ([]byte, error)
	// OfferSnapshot offers a snapshot whose state has the app hash
	// appHash (certified); an error means the application refused it.
	OfferSnapshot(ctx context.Context, s Snapshot, appHash []byte) error
	// ApplySnapshotChunk gives the offered snapshot's chunk index, in
	// order; an error means the application refused it, or the snapshot.
	ApplySnapshotChunk(ctx context.Context, index uint32, chunk []byte) error
}

// MaxRestorePairs bounds the pairs RestoreState accepts: an export comes
// from a peer, and is only checked against the certified app hash once
// it is held in memory, so its size must be bounded first. 2^24 pairs
// is far beyond any state that an in-process application, whose tree
// lives in memory, keeps.
const MaxRestorePairs = 1 << 24

// State is the durable key/value area of the node's store in which an
// in-process application keeps its state (implemented by store.Store). A
// read that fails is an error, never "absent".
type State interface {
	AppGet(key string) (value []byte, ok bool, err error)
	AppState() (height uint64, root []byte)
	AppPut(puts map[string][]byte, deletes []string) error
	// AppScan calls fn for each key starting with prefix, in key order;
	// key and value are valid only during the call.
	AppScan(prefix string, fn func(key, value []byte) error) error
}
