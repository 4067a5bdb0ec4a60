package node

import (
	"fmt"

	"github.com/strategos/strategos/internal/chain"
)

// Upper bounds on what a proposal adds to its payload when encoded, used
// to check at startup that the largest block this node builds or votes
// for fits the transport's frame: a message the transport cannot send
// would stall the chain silently.
const (
	entryOverhead  = 6       // protobuf tag and length of one payload entry
	headerOverhead = 1 << 10 // a block's fixed fields, a proposal's signature
	signerOverhead = 96      // one signer index and signature in a QC or TC
	// responseOverhead is what a block or sync response adds to its
	// blocks' estimated sizes, at most.
	responseOverhead = 64 << 10
)

// maxProposalBytes bounds the encoding of a proposal for n validators: its
// transactions and evidence at the block budget (which counts each proof
// at its canonical size; the encoding adds at most MaxEvidenceOverhead),
// and the QC and TC (a QC plus n timeout signatures) that it may carry.
func maxProposalBytes(n int) int {
	return maxBlockBytes + maxBlockTxs*entryOverhead + chain.MaxBlockEvidence*chain.MaxEvidenceOverhead(n) +
		headerOverhead + 3*n*signerOverhead
}

// checkBlockBudget refuses to start a node whose largest proposal would not
// fit a frame of maxFrame bytes.
func checkBlockBudget(validators, maxFrame int) error {
	if p := maxProposalBytes(validators); p > maxFrame {
		return fmt.Errorf("node: a proposal for %d validators may encode to %d bytes, over the transport's %d-byte frame", validators, p, maxFrame)
	}
	return nil
}
