package light

import (
	"encoding/json"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
)

// BlockSource is the committed chain a certificate is built from;
// *store.Store satisfies it. CommittedBlock returns the block committed at
// height, its hash and the QC that certified it; ok is false above the
// committed height, at height 0 and on a read error.
type BlockSource interface {
	CommittedHeight() uint64
	CommittedBlock(height uint64) (b *chain.Block, h chain.Hash, qc *chain.QC, ok bool)
}

// Build makes the shortest certificate for height that src's committed
// chain allows: the headers from height up to the first pair of
// consecutive rounds at or after the first block carrying height's state
// root, and the stored QC of the pair's upper block. It returns an error
// wrapping ErrNotCertified when no such run of at most MaxCertHeaders
// committed blocks exists yet, or when the certificate would exceed
// MaxCertificateBytes; another error when a committed block below the tip
// cannot be read or does not match its recorded hash.
//
// Build checks no signature: what it reads was verified before it was
// committed, and the client verifies anyway.
func Build(src BlockSource, chainID string, height uint64) (*Certificate, error) {
	if height == 0 {
		return nil, fmt.Errorf("%w: height 0 is genesis, known from the genesis file", ErrNotCertified)
	}
	tip := src.CommittedHeight()
	if height > tip {
		return nil, fmt.Errorf("%w: height %d above the committed height %d", ErrNotCertified, height, tip)
	}
	c := &Certificate{ChainID: chainID}
	carrier := -1
	for h := height; h <= tip && len(c.Headers) < MaxCertHeaders; h++ {
		b, hash, qc, ok := src.CommittedBlock(h)
		if !ok || b == nil {
			return nil, fmt.Errorf("light: committed block at height %d unreadable", h)
		}
		hd := b.Header(chainID)
		if b.Height != h || hd.Hash(chainID) != hash || qc == nil || qc.BlockHash != hash {
			return nil, fmt.Errorf("light: committed block at height %d does not match its index", h)
		}
		i := len(c.Headers)
		c.Headers = append(c.Headers, hd)
		if carrier < 0 && i > 0 && hd.ExecHeight == height {
			carrier = i
		}
		// The pair is (i-1, i): its lower block must be the carrier or
		// above it, so that committing it commits the carrier.
		if carrier >= 0 && i-1 >= carrier && hd.Round == c.Headers[i-1].Round+1 {
			c.QC = qc
			if n := encodedSize(c); n > MaxCertificateBytes {
				return nil, fmt.Errorf("%w: certificate of %d bytes, at most %d", ErrNotCertified, n, MaxCertificateBytes)
			}
			return c, nil
		}
	}
	if carrier < 0 {
		return nil, fmt.Errorf("%w: no committed block up to height %d carries the state root of height %d",
			ErrNotCertified, height+uint64(len(c.Headers))-1, height)
	}
	return nil, fmt.Errorf("%w: no two committed blocks of consecutive rounds from height %d to %d",
		ErrNotCertified, c.Headers[carrier].Height, c.Headers[len(c.Headers)-1].Height)
}

// encodedSize returns the length of c's JSON form, or a size above the
// bound if it cannot be encoded.
func encodedSize(c *Certificate) int {
	b, err := json.Marshal(c)
	if err != nil {
		return MaxCertificateBytes + 1
	}
	return len(b)
}
