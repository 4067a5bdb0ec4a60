package light

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

// MaxCertHeaders bounds a certificate's headers. A healthy chain needs
// three or four (the height, the block carrying its root a block or two
// later, and a consecutive-round pair); the bound leaves room for
// execution lag and failed rounds, and keeps what a verifier hashes and
// checks signatures of proportional to it times the validator count.
const MaxCertHeaders = 64

// Certificate proves that the block whose header is Headers[0] is committed
// and which state root its execution leaves. Headers are consecutive
// committed headers, lowest first; QC certifies the last of them. ChainID
// names the chain it was built for, so that the JSON form is
// self-describing; Verify refuses a certificate of another chain before
// checking any signature.
type Certificate struct {
	ChainID string
	Headers []chain.Header
	QC      *chain.QC
}

// Commit is what a valid certificate proves: the block at Height, with
// hash BlockHash and header Header, is committed, and the state after
// executing it has root StateRoot (the application's app hash, as a later
// committed block recorded it).
type Commit struct {
	Height    uint64
	BlockHash chain.Hash
	StateRoot []byte
	Header    chain.Header
}

// ErrNotCertified reports that a node cannot build a certificate for a
// height (yet): the height is not committed, no committed block within
// MaxCertHeaders carries its root, the commit of that carrier cannot be
// shown yet by two committed blocks of consecutive rounds, or the
// certificate would exceed its bounds. Asking again later may succeed.
var ErrNotCertified = errors.New("light: no commit certificate for this height")

// ErrInvalid is wrapped by every error of Verify: the certificate proves
// nothing. The error's text names what failed.
var ErrInvalid = errors.New("light: invalid certificate")

// What Verify refuses; each is wrapped with ErrInvalid and details.
var (
	errChainID      = errors.New("certificate of another chain")
	errHeight       = errors.New("certificate for another height")
	errLength       = errors.New("header count out of bounds")
	errField        = errors.New("field out of bounds")
	errHeightGap    = errors.New("heights not consecutive")
	errParentLink   = errors.New("parent link broken")
	errRound        = errors.New("rounds not increasing")
	errQCTarget     = errors.New("QC for another block or round")
	errNoQuorum     = errors.New("signers do not reach a quorum")
	errDupSigner    = errors.New("signer appears twice")
	errSignerOrder  = errors.New("signers not strictly increasing")
	errUnknown      = errors.New("signer is not a validator")
	errBadSig       = errors.New("invalid signature")
	errNoRoot       = errors.New("no header carries the height's state root")
	errRootConflict = errors.New("headers carry different state roots for the height")
	errNoCommit     = errors.New("no consecutive-round pair at or after the root carrier")
)

func invalid(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalid, kind, fmt.Sprintf(format, args...))
}

// Verify checks c against the genesis chain id and validator set and
// returns what it proves about height. It holds when:
//
//  1. the headers have consecutive heights starting at height, each names
//     the previous one's hash as parent and carries a QC for that hash and
//     round, c.QC certifies the last one, and every such QC holds valid
//     signatures of a quorum of vals over chainID;
//  2. some header after the first has ExecHeight == height: its StateRoot
//     is the root (every such header must agree);
//  3. two consecutive headers at or after that carrier have consecutive
//     rounds; both are certified, so the first of them is committed by the
//     two-chain rule, and with it its ancestors, the carrier and the first
//     header.
//
// Height 0 is genesis, which the genesis file describes; it has no
// certificate. Verify never panics on malformed input.
func Verify(chainID string, vals *chain.ValidatorSet, height uint64, c *Certificate) (Commit, error) {
	if vals == nil {
		return Commit{}, errors.New("light: no validator set")
	}
	if c == nil {
		return Commit{}, invalid(errLength, "no certificate")
	}
	if c.ChainID != chainID {
		return Commit{}, invalid(errChainID, "chain %q, want %q", c.ChainID, chainID)
	}
	if height == 0 {
		return Commit{}, invalid(errHeight, "height 0 is genesis, known from the genesis file")
	}
	hs := c.Headers
	// At least the height, a carrier after it and the carrier's certified
	// child, which makes the smallest consecutive-round pair.
	if len(hs) < 3 || len(hs) > MaxCertHeaders {
		return Commit{}, invalid(errLength, "%d headers, want 3 to %d", len(hs), MaxCertHeaders)
	}
	if hs[0].Height != height {
		return Commit{}, invalid(errHeight, "certificate starts at height %d, asked for %d", hs[0].Height, height)
	}
	// Bound every field before hashing: a header's hash covers all of it.
	for i := range hs {
		if err := checkShape(vals, &hs[i]); err != nil {
			return Commit{}, invalid(errField, "header %d (height %d): %v", i, hs[i].Height, err)
		}
	}
	if err := checkQCShape(vals, c.QC); err != nil {
		return Commit{}, invalid(errField, "final QC: %v", err)
	}

	hashes := make([]chain.Hash, len(hs))
	for i := range hs {
		hashes[i] = hs[i].Hash(chainID)
	}
	for i := 1; i < len(hs); i++ {
		prev, h := &hs[i-1], &hs[i]
		switch {
		case h.Height != prev.Height+1:
			return Commit{}, invalid(errHeightGap, "header %d has height %d after %d", i, h.Height, prev.Height)
		case h.Parent != hashes[i-1]:
			return Commit{}, invalid(errParentLink, "header %d (height %d) names parent %s, header below hashes to %s",
				i, h.Height, h.Parent.Short(), hashes[i-1].Short())
		case h.Round <= prev.Round:
			return Commit{}, invalid(errRound, "header %d has round %d after %d", i, h.Round, prev.Round)
		}
		if err := checkTarget(h.QC, hashes[i-1], prev.Round); err != nil {
			return Commit{}, invalid(errQCTarget, "QC in header %d (height %d): %v", i, h.Height, err)
		}
	}
	last := len(hs) - 1
	if err := checkTarget(c.QC, hashes[last], hs[last].Round); err != nil {
		return Commit{}, invalid(errQCTarget, "final QC: %v", err)
	}

	carrier := -1
	for i := 1; i < len(hs); i++ {
		if hs[i].ExecHeight != height {
			continue
		}
		if carrier < 0 {
			carrier = i
		} else if !bytes.Equal(hs[i].StateRoot, hs[carrier].StateRoot) {
			return Commit{}, invalid(errRootConflict, "headers %d and %d", carrier, i)
		}
	}
	if carrier < 0 {
		return Commit{}, invalid(errNoRoot, "height %d", height)
	}
	committed := -1
	for i := carrier; i < last; i++ {
		if hs[i+1].Round == hs[i].Round+1 {
			committed = i
			break
		}
	}
	if committed < 0 {
		return Commit{}, invalid(errNoCommit, "carrier is header %d", carrier)
	}

	// Signatures last: everything above is cheap and refuses most garbage.
	for i := 1; i < len(hs); i++ {
		if err := verifyVotes(chainID, vals, hs[i].QC); err != nil {
			return Commit{}, fmt.Errorf("%w (QC in header %d, height %d)", err, i, hs[i].Height)
		}
	}
	if err := verifyVotes(chainID, vals, c.QC); err != nil {
		return Commit{}, fmt.Errorf("%w (final QC)", err)
	}
	return Commit{
		Height:    height,
		BlockHash: hashes[0],
		StateRoot: bytes.Clone(hs[carrier].StateRoot),
		Header:    hs[0],
	}, nil
}

// checkShape bounds what a header holds, so that hashing it and checking
// its QC cost at most a known amount; the first header's QC (for the
// parent below the certificate, possibly the unsigned genesis QC) is
// bounded but not verified, as it proves nothing here.
func checkShape(vals *chain.ValidatorSet, h *chain.Header) error {
	switch {
	case len(h.StateRoot) > chain.MaxStateRoot:
		return fmt.Errorf("state root of %d bytes, at most %d", len(h.StateRoot), chain.MaxStateRoot)
	case len(h.FailedLeaders) > chain.MaxFailedLeaders(vals.Len()):
		return fmt.Errorf("%d failed leaders, at most %d", len(h.FailedLeaders), chain.MaxFailedLeaders(vals.Len()))
	case !vals.Has(h.Proposer):
		return fmt.Errorf("proposer %d is not a validator", h.Proposer)
	case h.Height == 0:
		return errors.New("genesis header")
	}
	return checkQCShape(vals, h.QC)
}

// checkQCShape bounds a QC: at most one vote per validator, each
// signature no longer than an ed25519 signature.
func checkQCShape(vals *chain.ValidatorSet, qc *chain.QC) error {
	if qc == nil {
		return errors.New("missing QC")
	}
	if len(qc.Votes) > vals.Len() {
		return fmt.Errorf("QC with %d votes, %d validators", len(qc.Votes), vals.Len())
	}
	for _, v := range qc.Votes {
		if len(v.Sig) > ed25519.SignatureSize {
			return fmt.Errorf("signature of %d bytes, at most %d", len(v.Sig), ed25519.SignatureSize)
		}
	}
	return nil
}

func checkTarget(qc *chain.QC, h chain.Hash, round uint64) error {
	if qc.BlockHash != h {
		return fmt.Errorf("certifies block %s, want %s", qc.BlockHash.Short(), h.Short())
	}
	if qc.Round != round {
		return fmt.Errorf("of round %d, want %d", qc.Round, round)
	}
	return nil
}

// verifyVotes checks, as consensus does for a QC it receives, that qc holds
// valid signatures over VoteSignBytes(chainID, round, block) of distinct
// validators, listed in increasing order, with more than two thirds of the
// power. The unsigned genesis QC, which consensus accepts by its hash,
// has no place here: only the first header's QC can certify genesis, and
// that one is never verified.
func verifyVotes(chainID string, vals *chain.ValidatorSet, qc *chain.QC) error {
	var power uint64
	for i, v := range qc.Votes {
		if i > 0 {
			switch prev := qc.Votes[i-1].Signer; {
			case v.Signer == prev:
				return invalid(errDupSigner, "validator %d", v.Signer)
			case v.Signer < prev:
				return invalid(errSignerOrder, "validator %d after %d", v.Signer, prev)
			}
		}
		if !vals.Has(v.Signer) {
			return invalid(errUnknown, "index %d, %d validators", v.Signer, vals.Len())
		}
		power += vals.Power(v.Signer)
	}
	if !quorum.Reached(power, vals.TotalPower()) {
		return invalid(errNoQuorum, "power %d of %d", power, vals.TotalPower())
	}
	msg := chain.VoteSignBytes(chainID, qc.Round, qc.BlockHash)
	for _, v := range qc.Votes {
		if !(chain.Ed25519Verifier{}).Verify(vals.Get(v.Signer).PubKey, msg, v.Sig) {
			return invalid(errBadSig, "vote of validator %d", v.Signer)
		}
	}
	return nil
}
