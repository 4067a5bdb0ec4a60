package chain

import "crypto/sha256"

// Block is one link of the chain. A block of height h extends its parent of
// height h-1 and carries the quorum certificate that certified the parent,
// so the chain of QCs is embedded in the chain of blocks.
type Block struct {
	Height   uint64 // parent's height plus one; genesis is 0
	Round    uint64 // consensus round in which it was proposed
	Parent   Hash   // hash of the parent block
	QC       *QC    // certificate of the parent; nil only for genesis
	Payload  [][]byte
	Proposer uint32 // validator index
	Time     int64  // proposer's clock, unix nanoseconds

	// Execution lags consensus: a block carries the state root that its
	// proposer obtained after executing the committed block at ExecHeight:
	// the application's app hash for that state, exactly as the
	// application gave it, of any length up to MaxStateRoot.
	ExecHeight uint64
	StateRoot  []byte

	// FailedLeaders names the leaders of the rounds between the parent's
	// round and this one, which produced no block this one extends: most
	// recent round first, at most MaxFailedLeaders of them. The proposer
	// fills it from the leader rule and voters check it, so the committed
	// chain records who failed as leader; the leader rule reads it back.
	FailedLeaders []uint32

	// Evidence is the proven misbehaviour the block records: at most
	// MaxBlockEvidence proofs of at most MaxBlockEvidenceBytes in all,
	// whose bytes count within MaxBlockBytes with the payload's. The
	// proposer fills it from its pool and voters verify it; execution
	// hands what it records to the application as misbehaviour.
	Evidence []Evidence
}

// MaxFailedLeaders bounds Block.FailedLeaders for a set of n validators:
// the most recent rounds are the ones the leader rule weighs, and a long
// outage must not make a block grow with it.
func MaxFailedLeaders(n int) int { return max(10, n) }

// Hash returns the block's identity: SHA-256 over its canonical encoding,
// which includes the chain id, every header field, the parent's certificate
// and digests of the payload (the Merkle root of its transactions, see
// TxRoot) and the evidence. It is the hash of the block's Header.
func (b *Block) Hash(chainID string) Hash {
	h := b.Header(chainID)
	return h.Hash(chainID)
}

// HashWith is Hash for a caller that holds the payload hash already; see
// HeaderWith.
func (b *Block) HashWith(chainID string, payloadHash Hash) Hash {
	h := b.HeaderWith(chainID, payloadHash)
	return h.Hash(chainID)
}

// Header returns the block without its payload and evidence: both are
// replaced by their digests, so the header has the block's hash and is
// small (a few hundred bytes plus the parent's certificate). The payload
// hash is computed once per block and payload (see memo.go).
func (b *Block) Header(chainID string) Header {
	return b.HeaderWith(chainID, b.payloadHash())
}

// HeaderWith is Header for a caller that holds the payload hash already
// (PayloadHashOf the hashes of b.Payload), so that no transaction is
// hashed again; the caller vouches that it is b's.
func (b *Block) HeaderWith(chainID string, payloadHash Hash) Header {
	return Header{
		Height: b.Height, Round: b.Round, Parent: b.Parent, QC: b.QC,
		PayloadHash: payloadHash, EvidenceHash: EvidenceHash(chainID, b.Evidence),
		Proposer: b.Proposer, Time: b.Time,
		ExecHeight: b.ExecHeight, StateRoot: b.StateRoot, FailedLeaders: b.FailedLeaders,
	}
}

// TxHashes returns the hashes of txs (TxHash of each).
func TxHashes(txs [][]byte) []Hash {
	hs := make([]Hash, len(txs))
	for i, tx := range txs {
		hs[i] = TxHash(tx)
	}
	return hs
}

// PayloadBytes returns the total size of the payload's transactions.
func (b *Block) PayloadBytes() int {
	n := 0
	for _, tx := range b.Payload {
		n += len(tx)
	}
	return n
}

// Genesis returns the genesis block of a chain: height 0, round 0, no
// parent. Its state root commits to the validator set, so two chains with
// the same id but different validators have different genesis blocks.
func Genesis(chainID string, vals *ValidatorSet) *Block {
	h := vals.Hash(chainID)
	return &Block{StateRoot: h[:]}
}

// GenesisQC returns the certificate that every validator accepts for the
// genesis block without signatures.
func GenesisQC(genesis Hash) *QC {
	return &QC{Round: 0, BlockHash: genesis}
}

// TxHash identifies a transaction: the plain SHA-256 of its bytes, so that
// anyone can compute it with standard tools.
func TxHash(tx []byte) Hash { return sha256.Sum256(tx) }
