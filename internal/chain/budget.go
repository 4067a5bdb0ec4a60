package chain

import (
	"errors"
	"fmt"
)

// The block budget: the most transactions, evidence and bytes one block
// carries. It is one place for consensus (which refuses to vote for more),
// the node (which builds blocks up to it and checks at startup that such a
// block fits the transport's frame) and the wire decoder.
const (
	MaxBlockTxs = 10_000
	// MaxBlockBytes bounds the bytes of a block's transactions and
	// evidence (EvidenceSize of each proof) together.
	MaxBlockBytes = 3 << 20
	// MaxBlockEvidence is the most proofs of misbehaviour one block
	// records, and MaxBlockEvidenceBytes their most bytes: a double
	// proposal is two headers with their certificates, about 160 bytes
	// per validator, so four fit for up to some 1,600 validators.
	MaxBlockEvidence      = 4
	MaxBlockEvidenceBytes = 1 << 20
	// MaxStateRoot bounds a block's state root: the application's app
	// hash, of any length up to this (CometBFT's kvstore: 8 bytes).
	MaxStateRoot = 64
)

// EncodingOverhead bounds what an encoding of e for the wire or disk
// (package wire) adds to its Size: tags and lengths, at most
// evidenceTagBytes, and a varint up to a byte longer than the fixed-width
// canonical integer for each failed leader its headers name. Runtimes add
// it per proof when they bound a block's encoded size against a frame.
func (e Evidence) EncodingOverhead() int {
	n := evidenceTagBytes
	for _, h := range []*SignedHeader{e.HeaderA, e.HeaderB} {
		if h != nil {
			n += len(h.Header.FailedLeaders)
		}
	}
	return n
}

// MaxEvidenceOverhead bounds EncodingOverhead for a proof that a set of n
// validators accepts, whose headers name at most MaxFailedLeaders(n)
// failed leaders each (as the wire decoder enforces).
func MaxEvidenceOverhead(n int) int { return evidenceTagBytes + 2*MaxFailedLeaders(n) }

// evidenceTagBytes bounds the tags and lengths of one encoded proof.
const evidenceTagBytes = 1 << 10

// ErrOverBudget is a block over the block budget.
var ErrOverBudget = errors.New("chain: block over budget")

// CheckBudget checks b against a budget of at most maxTxs transactions and
// maxBytes bytes of transactions and evidence together, and the evidence
// and state root against their own bounds. A wire decoder refuses a state
// root or an evidence count over the bounds before this; consensus calls
// it on every proposal with its configured budget.
func (b *Block) CheckBudget(maxTxs, maxBytes int) error {
	if len(b.StateRoot) > MaxStateRoot {
		return fmt.Errorf("%w: state root of %d bytes, at most %d", ErrOverBudget, len(b.StateRoot), MaxStateRoot)
	}
	if len(b.Evidence) > MaxBlockEvidence {
		return fmt.Errorf("%w: %d proofs of misbehaviour, at most %d", ErrOverBudget, len(b.Evidence), MaxBlockEvidence)
	}
	if len(b.Payload) > maxTxs {
		return fmt.Errorf("%w: %d transactions, at most %d", ErrOverBudget, len(b.Payload), maxTxs)
	}
	ev := b.EvidenceBytes()
	if ev > MaxBlockEvidenceBytes {
		return fmt.Errorf("%w: evidence of %d bytes, at most %d", ErrOverBudget, ev, MaxBlockEvidenceBytes)
	}
	if n := b.PayloadBytes() + ev; n > maxBytes {
		return fmt.Errorf("%w: %d bytes of transactions and evidence, at most %d", ErrOverBudget, n, maxBytes)
	}
	return nil
}
