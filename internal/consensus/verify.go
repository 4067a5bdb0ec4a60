package consensus

import (
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

// verifiedCacheSize bounds the memo of certificates already verified, so
// that a QC relayed many times is checked once.
const verifiedCacheSize = 4096

var (
	errNilCert      = errors.New("missing certificate")
	errNoQuorum     = errors.New("signers do not reach a quorum")
	errSignerOrder  = errors.New("signers not strictly increasing")
	errUnknownVoter = errors.New("signer is not a validator")
	errBadSig       = errors.New("invalid signature")
)

func (c *Core) remember(d chain.Hash) {
	if len(c.verified) >= verifiedCacheSize {
		clear(c.verified)
	}
	c.verified[d] = struct{}{}
}

// verifyQC checks that qc holds valid votes of a quorum of distinct
// validators, or is the genesis certificate.
func (c *Core) verifyQC(qc *chain.QC) error {
	if qc == nil {
		return errNilCert
	}
	if qc.Round == 0 {
		if qc.BlockHash != c.genesis || len(qc.Votes) != 0 {
			return errors.New("round-0 certificate is not the genesis certificate")
		}
		return nil
	}
	d := qc.Digest()
	if _, ok := c.verified[d]; ok {
		return nil
	}
	vals := c.cfg.Validators
	msg := chain.VoteSignBytes(c.cfg.ChainID, qc.Round, qc.BlockHash)
	var power uint64
	for i, v := range qc.Votes {
		if i > 0 && v.Signer <= qc.Votes[i-1].Signer {
			return errSignerOrder
		}
		if !vals.Has(v.Signer) {
			return errUnknownVoter
		}
		power += vals.Power(v.Signer)
	}
	if !quorum.Reached(power, vals.TotalPower()) {
		return errNoQuorum
	}
	for _, v := range qc.Votes {
		if !c.cfg.Verifier.Verify(vals.Get(v.Signer).PubKey, msg, v.Sig) {
			return fmt.Errorf("vote of validator %d: %w", v.Signer, errBadSig)
		}
	}
	c.remember(d)
	return nil
}

// verifyTC checks that tc holds valid timeouts of a quorum of distinct
// validators for one round, and that its HighQC is valid and is the
// highest QC any signer reported.
func (c *Core) verifyTC(tc *chain.TC) error {
	if tc == nil || tc.HighQC == nil {
		return errNilCert
	}
	d := tc.Digest()
	if _, ok := c.verified[d]; ok {
		return nil
	}
	vals := c.cfg.Validators
	var power, maxQC uint64
	for i, s := range tc.Timeouts {
		if i > 0 && s.Signer <= tc.Timeouts[i-1].Signer {
			return errSignerOrder
		}
		if !vals.Has(s.Signer) {
			return errUnknownVoter
		}
		if s.HighQCRound >= tc.Round {
			return errors.New("timeout reports a QC from its own round or later")
		}
		power += vals.Power(s.Signer)
		maxQC = max(maxQC, s.HighQCRound)
	}
	if !quorum.Reached(power, vals.TotalPower()) {
		return errNoQuorum
	}
	if tc.HighQC.Round != maxQC {
		return fmt.Errorf("high QC of round %d, but signers reported round %d", tc.HighQC.Round, maxQC)
	}
	for _, s := range tc.Timeouts {
		msg := chain.TimeoutSignBytes(c.cfg.ChainID, tc.Round, s.HighQCRound)
		if !c.cfg.Verifier.Verify(vals.Get(s.Signer).PubKey, msg, s.Sig) {
			return fmt.Errorf("timeout of validator %d: %w", s.Signer, errBadSig)
		}
	}
	if err := c.verifyQC(tc.HighQC); err != nil {
		return fmt.Errorf("high QC: %w", err)
	}
	c.remember(d)
	return nil
}

// checkBlockShape checks what can be checked of a block without its parent
// or any signature.
func (c *Core) checkBlockShape(b *chain.Block) error {
	switch {
	case b == nil:
		return errors.New("no block")
	case b.QC == nil:
		return errors.New("block without parent certificate")
	case b.QC.BlockHash != b.Parent:
		return errors.New("parent certificate is for another block")
	case b.Round <= b.QC.Round:
		return errors.New("block round not above its certificate's round")
	case b.Height == 0:
		return errors.New("non-genesis block at height 0")
	case !c.cfg.Validators.Has(b.Proposer):
		return errUnknownVoter
	case len(b.FailedLeaders) > chain.MaxFailedLeaders(c.cfg.Validators.Len()):
		return errors.New("too many failed leaders")
	}
	return b.CheckBudget(c.cfg.MaxPayloadTxs, c.cfg.MaxPayloadBytes)
}

// verifyProposal checks a proposal fully, except for what needs its parent
// (acceptProposal checks that, with who leads): the signature verifies,
// the certificates are valid, and a block that skips rounds is justified
// by a TC.
func (c *Core) verifyProposal(p *chain.Proposal, h chain.Hash) error {
	b := p.Block
	if err := c.checkBlockShape(b); err != nil {
		return err
	}

	pub := c.cfg.Validators.Get(b.Proposer).PubKey
	if !c.cfg.Verifier.Verify(pub, chain.ProposalSignBytes(c.cfg.ChainID, b.Round, h), p.Sig) {
		return fmt.Errorf("proposal: %w", errBadSig)
	}
	if err := c.verifyQC(b.QC); err != nil {
		return fmt.Errorf("block certificate: %w", err)
	}
	if b.QC.Round+1 != b.Round {
		if p.TC == nil || p.TC.Round+1 != b.Round {
			return errors.New("block skips rounds without a timeout certificate for the previous round")
		}
	}
	if p.TC != nil {
		if err := c.verifyTC(p.TC); err != nil {
			return fmt.Errorf("proposal timeout certificate: %w", err)
		}
	}
	return nil
}

// verifyTimeout checks a timeout message: signer, signature, certificates.
func (c *Core) verifyTimeout(t *chain.Timeout) error {
	if !c.cfg.Validators.Has(t.Voter) {
		return errUnknownVoter
	}
	if t.HighQC == nil {
		return errNilCert
	}
	if t.HighQC.Round >= t.Round {
		return errors.New("timeout carries a QC from its own round or later")
	}
	msg := chain.TimeoutSignBytes(c.cfg.ChainID, t.Round, t.HighQC.Round)
	if !c.cfg.Verifier.Verify(c.cfg.Validators.Get(t.Voter).PubKey, msg, t.Sig) {
		return fmt.Errorf("timeout: %w", errBadSig)
	}
	if err := c.verifyQC(t.HighQC); err != nil {
		return fmt.Errorf("timeout high QC: %w", err)
	}
	if t.LastTC != nil {
		if err := c.verifyTC(t.LastTC); err != nil {
			return fmt.Errorf("timeout's last TC: %w", err)
		}
	}
	return nil
}

// VerifyCerts checks a QC and a TC (either may be nil) as a core of chain
// chainID with validators vals would, outside a running core: a validator
// that starts from a snapshot checks its peers' highest certificates with
// it before it trusts the rounds they show.
func VerifyCerts(chainID string, vals *chain.ValidatorSet, genesis chain.Hash, qc *chain.QC, tc *chain.TC) error {
	c := &Core{cfg: Config{ChainID: chainID, Validators: vals, Verifier: chain.Ed25519Verifier{}}, genesis: genesis, verified: map[chain.Hash]struct{}{}}
	if qc != nil {
		if err := c.verifyQC(qc); err != nil {
			return fmt.Errorf("qc of round %d: %w", qc.Round, err)
		}
	}
	if tc != nil {
		if err := c.verifyTC(tc); err != nil {
			return fmt.Errorf("tc of round %d: %w", tc.Round, err)
		}
	}
	return nil
}
