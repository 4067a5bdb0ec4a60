package consensus

import (
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus/leader"
)

// DefaultMaxFetch is the most blocks one block or sync request asks for,
// and one response holds.
const DefaultMaxFetch = 64

// Election chooses the leader of each round. The core's own rule, leader
// reputation over the committed chain (package leader), is the default; a
// fixed Election exists for tests and for comparison.
type Election interface {
	Leader(round uint64) uint32
}

// RoundRobin rotates leadership over the validators in index order.
type RoundRobin struct{ N int }

// Leader implements Election.
func (r RoundRobin) Leader(round uint64) uint32 { return uint32(round % uint64(r.N)) }

// BlockSource supplies what a leader puts into a block. A node backs it with
// its mempool, the application and the wall clock; the simulator with
// deterministic values.
type BlockSource interface {
	// Payload returns the transactions and the evidence of misbehaviour
	// for a new block at height, together within the block budget (see
	// chain.Block.CheckBudget). branch holds the blocks the new block
	// extends that the runtime has not yet seen committed through Ready,
	// parent first: their transactions and evidence must not be proposed
	// again.
	Payload(height uint64, branch []*chain.Block) (txs [][]byte, evidence []chain.Evidence)
	// Time returns the block time in unix nanoseconds.
	Time() int64
	// Executed returns the executed height, and its state root (the
	// application's app hash, at most chain.MaxStateRoot bytes), that a
	// block proposed over parent carries.
	Executed(parent *chain.Block) (height uint64, root []byte)
	// HasTxs reports whether transactions are waiting to be proposed.
	HasTxs() bool
	// Check is the application's say on a proposed block before this
	// validator votes for it: for example, that the state root it carries
	// for an executed height matches this validator's own. A block that
	// fails is not voted for (it may still be committed by others, if a
	// quorum accepts it).
	Check(b *chain.Block) error
}

// Storage is the core's read-only view of what the runtime persisted. The
// runtime writes; the core reads only when it starts and when peers ask for
// blocks it has already pruned from memory.
type Storage interface {
	// SafetyState returns the last persisted safety state (zero if none).
	SafetyState() SafetyState
	// CommittedTip returns the highest committed block, or nil if only
	// genesis is committed.
	CommittedTip() *chain.Block
	// Block returns a persisted block by hash.
	Block(h chain.Hash) (*chain.Block, bool)
	// CommittedBlock returns the committed block at a height, its hash and
	// the QC that certified it.
	CommittedBlock(height uint64) (b *chain.Block, h chain.Hash, qc *chain.QC, ok bool)
}

// Config holds everything a Core needs. The zero values of the optional
// fields pick sensible defaults.
type Config struct {
	ChainID    string
	Validators *chain.ValidatorSet
	Self       uint32 // this validator's index
	Signer     chain.Signer
	Verifier   chain.Verifier // default chain.Ed25519Verifier
	Election   Election       // default: leader reputation (see Reputation)
	// Reputation tunes the default leader rule; zero fields take its
	// defaults (see package leader).
	Reputation leader.Params
	Source     BlockSource
	Storage    Storage // default: a fresh validator at genesis

	// BaseTimeout is the round timeout in ticks at start. The pacemaker
	// then adapts it (see timeout): four times the median of recent
	// successful rounds, never below MinTimeout, growing by a fifth with
	// every consecutive failed round, up to MaxTimeout.
	BaseTimeout int // default 10, or 5 * EmptyBlockDelay if that is larger
	MinTimeout  int // default: the larger of BaseTimeout/2 and 2*EmptyBlockDelay + 2
	// MinBusyTimeout is the floor instead when the block the next leader
	// extends (or an uncommitted ancestor) carries transactions: that
	// leader does not wait EmptyBlockDelay (default MinTimeout/8, at least
	// 2 ticks).
	MinBusyTimeout int
	MaxTimeout     int // default 16 * BaseTimeout

	MaxPayloadTxs   int // largest accepted payload, in transactions (default chain.MaxBlockTxs)
	MaxPayloadBytes int // and in bytes of transactions and evidence (default chain.MaxBlockBytes)
	MaxFetch        int // most blocks served per block request (default 64)
	// MaxResponseBytes bounds the estimated encoded size of a block or
	// sync response (default 2 MiB); a response always carries at least
	// one block. A runtime sets it below its transport's frame.
	MaxResponseBytes int

	// EmptyBlockDelay is how many ticks a leader waits, when it has no
	// transactions to propose and no uncommitted ancestor carries any,
	// before it proposes an empty block. It keeps an idle chain from
	// spinning; 0 proposes at once.
	EmptyBlockDelay int

	// Unsafe switches off safety rules. It exists only so that tests can
	// prove that the simulator's checkers detect the resulting violations;
	// nothing outside tests may set it.
	Unsafe UnsafeRules
}

// UnsafeRules names safety rules that a test may disable.
type UnsafeRules struct {
	// SkipVoteRoundCheck lets a validator vote in a round it already voted
	// or timed out in.
	SkipVoteRoundCheck bool
	// SkipCommitRoundCheck commits a block on any QC for its child, not
	// only when the child is from the very next round.
	SkipCommitRoundCheck bool
}

func (c *Config) validate() error {
	if c.ChainID == "" {
		return errors.New("consensus: empty chain id")
	}
	if c.Validators == nil {
		return errors.New("consensus: no validator set")
	}
	if !c.Validators.Has(c.Self) {
		return fmt.Errorf("consensus: self index %d is not a validator", c.Self)
	}
	if c.Signer == nil {
		return errors.New("consensus: no signer")
	}
	if c.Source == nil {
		return errors.New("consensus: no block source")
	}
	if c.Verifier == nil {
		c.Verifier = chain.Ed25519Verifier{}
	}
	if c.BaseTimeout <= 0 {
		c.BaseTimeout = max(10, 5*c.EmptyBlockDelay)
	}
	if c.MinTimeout <= 0 {
		c.MinTimeout = max(c.BaseTimeout/2, 2*c.EmptyBlockDelay+2)
	}
	if c.MinBusyTimeout <= 0 {
		c.MinBusyTimeout = max(2, c.MinTimeout/8)
	}
	if c.MinBusyTimeout > c.MinTimeout {
		c.MinBusyTimeout = c.MinTimeout
	}
	if c.MaxTimeout < c.BaseTimeout {
		c.MaxTimeout = 16 * c.BaseTimeout
	}
	if c.MinTimeout > c.MaxTimeout {
		return fmt.Errorf("consensus: min timeout %d above max timeout %d", c.MinTimeout, c.MaxTimeout)
	}
	if c.MaxPayloadTxs <= 0 {
		c.MaxPayloadTxs = chain.MaxBlockTxs
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = chain.MaxBlockBytes
	}
	if c.EmptyBlockDelay < 0 || 2*c.EmptyBlockDelay > c.MinTimeout {
		return fmt.Errorf("consensus: empty block delay %d must be at most half the least timeout %d", c.EmptyBlockDelay, c.MinTimeout)
	}
	if c.MaxFetch <= 0 {
		c.MaxFetch = DefaultMaxFetch
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 2 << 20
	}
	return nil
}
