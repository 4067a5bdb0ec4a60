package wire

import (
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// Limits on what a decoded value may contain.
const (
	MaxSigBytes   = 64     // an ed25519 signature
	MaxSignatures = 10_000 // signatures in one QC or TC
	MaxTxs        = 100_000
	MaxBlocks     = 1_000 // blocks in one BlockResponse, and the largest BlockRequest.Count
)

// The check functions hold the shape rules. They are applied to Go values,
// after decoding and before encoding, so that the two directions cannot
// disagree. Their errors name the offending part and are wrapped by the
// caller with the direction and message kind.

func checkSig(sig []byte) error {
	if len(sig) > MaxSigBytes {
		return fmt.Errorf("signature has %d bytes, want at most %d", len(sig), MaxSigBytes)
	}
	return nil
}

func checkQC(q *chain.QC) error {
	if q == nil {
		return errors.New("missing")
	}
	if len(q.Votes) > MaxSignatures {
		return fmt.Errorf("%d signatures, want at most %d", len(q.Votes), MaxSignatures)
	}
	for i, v := range q.Votes {
		if err := checkSig(v.Sig); err != nil {
			return fmt.Errorf("vote %d: %w", i, err)
		}
	}
	return nil
}

func checkBlock(b *chain.Block) error {
	if b == nil {
		return errors.New("missing")
	}
	if b.QC != nil || b.Height > 0 {
		if err := checkQC(b.QC); err != nil {
			return fmt.Errorf("height %d: qc: %w", b.Height, err)
		}
	}
	if len(b.Payload) > MaxTxs {
		return fmt.Errorf("%d transactions, want at most %d", len(b.Payload), MaxTxs)
	}
	if err := checkRoot(b.StateRoot); err != nil {
		return err
	}
	if len(b.Evidence) > chain.MaxBlockEvidence {
		return fmt.Errorf("%d proofs of misbehaviour, want at most %d", len(b.Evidence), chain.MaxBlockEvidence)
	}
	for i := range b.Evidence {
		if err := checkEvidence(&b.Evidence[i]); err != nil {
			return fmt.Errorf("evidence %d: %w", i, err)
		}
	}
	return nil
}

func checkRoot(root []byte) error {
	if len(root) > chain.MaxStateRoot {
		return fmt.Errorf("state root has %d bytes, want at most %d", len(root), chain.MaxStateRoot)
	}
	return nil
}

func checkVote(v *chain.Vote) error {
	if v == nil {
		return errors.New("missing")
	}
	return checkSig(v.Sig)
}

func checkTC(t *chain.TC) error {
	if t == nil {
		return errors.New("missing")
	}
	if err := checkQC(t.HighQC); err != nil {
		return fmt.Errorf("high qc: %w", err)
	}
	if len(t.Timeouts) > MaxSignatures {
		return fmt.Errorf("%d signatures, want at most %d", len(t.Timeouts), MaxSignatures)
	}
	for i, s := range t.Timeouts {
		if err := checkSig(s.Sig); err != nil {
			return fmt.Errorf("timeout %d: %w", i, err)
		}
	}
	return nil
}

func checkTimeout(t *chain.Timeout) error {
	if t == nil {
		return errors.New("missing")
	}
	if err := checkQC(t.HighQC); err != nil {
		return fmt.Errorf("high qc: %w", err)
	}
	if t.LastTC != nil {
		if err := checkTC(t.LastTC); err != nil {
			return fmt.Errorf("last tc: %w", err)
		}
	}
	return checkSig(t.Sig)
}

func checkProposal(p *chain.Proposal) error {
	if p == nil {
		return errors.New("missing")
	}
	if err := checkBlock(p.Block); err != nil {
		return fmt.Errorf("block: %w", err)
	}
	if p.TC != nil {
		if err := checkTC(p.TC); err != nil {
			return fmt.Errorf("tc: %w", err)
		}
	}
	return checkSig(p.Sig)
}

func checkBlockRequest(r *consensus.BlockRequest) error {
	if r.Count < 0 || r.Count > MaxBlocks {
		return fmt.Errorf("count %d, want 0 to %d", r.Count, MaxBlocks)
	}
	return nil
}

func checkBlockResponse(r *consensus.BlockResponse) error {
	if len(r.Blocks) == 0 || len(r.Blocks) > MaxBlocks {
		return fmt.Errorf("%d blocks, want 1 to %d", len(r.Blocks), MaxBlocks)
	}
	for i, b := range r.Blocks {
		if err := checkBlock(b); err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
	}
	return nil
}

func checkSyncRequest(r *consensus.SyncRequest) error {
	if r.From == 0 {
		return fmt.Errorf("from height 0, want at least 1")
	}
	if r.Count < 0 || r.Count > MaxBlocks {
		return fmt.Errorf("count %d, want 0 to %d", r.Count, MaxBlocks)
	}
	return nil
}

func checkSyncResponse(r *consensus.SyncResponse) error {
	if len(r.Blocks) == 0 && r.QC == nil {
		// "Pruned": nothing but where the responder's blocks begin.
		if r.Earliest < 2 {
			return fmt.Errorf("no blocks, and no earliest height above 1")
		}
		return nil
	}
	if err := checkBlockResponse(&consensus.BlockResponse{Blocks: r.Blocks}); err != nil {
		return err
	}
	if r.QC == nil {
		return fmt.Errorf("no certificate for the last block")
	}
	return checkQC(r.QC)
}

func checkTxBatch(txs [][]byte) error {
	if len(txs) == 0 || len(txs) > MaxTxs {
		return fmt.Errorf("%d transactions, want 1 to %d", len(txs), MaxTxs)
	}
	return nil
}

func checkEvidence(e *chain.Evidence) error {
	props := e.HeaderA != nil || e.HeaderB != nil
	votes := e.VoteA != nil || e.VoteB != nil
	switch e.Kind {
	case chain.DoubleProposal:
		if votes {
			return errors.New("double proposal carries votes")
		}
		if err := checkSignedHeader(e.HeaderA); err != nil {
			return fmt.Errorf("header a: %w", err)
		}
		if err := checkSignedHeader(e.HeaderB); err != nil {
			return fmt.Errorf("header b: %w", err)
		}
	case chain.DoubleVote:
		if props {
			return errors.New("double vote carries proposals")
		}
		if err := checkVote(e.VoteA); err != nil {
			return fmt.Errorf("vote a: %w", err)
		}
		if err := checkVote(e.VoteB); err != nil {
			return fmt.Errorf("vote b: %w", err)
		}
	default:
		return fmt.Errorf("unknown kind %q", e.Kind)
	}
	return nil
}

func checkSafety(s *consensus.SafetyState) error {
	if s.HighQC != nil {
		if err := checkQC(s.HighQC); err != nil {
			return fmt.Errorf("high qc: %w", err)
		}
	}
	if s.LastTimeout != nil {
		if err := checkTimeout(s.LastTimeout); err != nil {
			return fmt.Errorf("last timeout: %w", err)
		}
	}
	if s.HighTC != nil {
		if err := checkTC(s.HighTC); err != nil {
			return fmt.Errorf("high tc: %w", err)
		}
	}
	return nil
}

func checkSignedHeader(h *chain.SignedHeader) error {
	if h == nil {
		return errors.New("missing")
	}
	if h.Header.QC != nil || h.Header.Height > 0 {
		if err := checkQC(h.Header.QC); err != nil {
			return fmt.Errorf("height %d: qc: %w", h.Header.Height, err)
		}
	}
	if err := checkRoot(h.Header.StateRoot); err != nil {
		return err
	}
	return checkSig(h.Sig)
}
