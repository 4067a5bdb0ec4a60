package light

import (
	"encoding/json"
	"fmt"
	"sync"

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
	headers, _ := src.(HeaderSource)
	for h := height; h <= tip && len(c.Headers) < MaxCertHeaders; h++ {
		var hd chain.Header
		var qc *chain.QC
		var err error
		if headers != nil {
			hd, qc, err = headers.CommittedHeader(h)
		} else {
			hd, qc, err = headerAt(src, chainID, h)
		}
		if err != nil {
			return nil, err
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

// HeaderSource is a BlockSource that also gives committed headers, for
// example from a cache (see HeaderCache): a header costs a read and a hash
// of its block's whole payload otherwise.
type HeaderSource interface {
	BlockSource
	CommittedHeader(height uint64) (chain.Header, *chain.QC, error)
}

// headerAt reads the committed block at h and returns its header and the
// QC that certified it, checked against the stored hash.
func headerAt(src BlockSource, chainID string, h uint64) (chain.Header, *chain.QC, error) {
	b, hash, qc, ok := src.CommittedBlock(h)
	if !ok || b == nil {
		return chain.Header{}, nil, fmt.Errorf("light: committed block at height %d unreadable", h)
	}
	hd := b.Header(chainID)
	if b.Height != h || hd.Hash(chainID) != hash || qc == nil || qc.BlockHash != hash {
		return chain.Header{}, nil, fmt.Errorf("light: committed block at height %d does not match its index", h)
	}
	return hd, qc, nil
}

// HeaderCache is a HeaderSource over a BlockSource that keeps the last
// size headers it read: certificates of nearby heights share most of
// their headers, and a request for a height that never gets a
// certificate would otherwise read and hash up to MaxCertHeaders full
// blocks each time. Committed headers never change, so a cached one is
// always right. Safe for concurrent use.
type HeaderCache struct {
	BlockSource
	chainID string
	cache   *fifo[cachedHeader]
}

type cachedHeader struct {
	h  chain.Header
	qc *chain.QC
}

// NewHeaderCache returns a cache of size headers over src.
func NewHeaderCache(src BlockSource, chainID string, size int) *HeaderCache {
	return &HeaderCache{BlockSource: src, chainID: chainID, cache: newFIFO[cachedHeader](size)}
}

// CommittedHeader implements HeaderSource.
func (c *HeaderCache) CommittedHeader(height uint64) (chain.Header, *chain.QC, error) {
	if it, ok := c.cache.get(height); ok {
		return it.h, it.qc, nil
	}
	h, qc, err := headerAt(c.BlockSource, c.chainID, height)
	if err == nil {
		c.cache.put(height, cachedHeader{h, qc})
	}
	return h, qc, err
}

// Certifier builds certificates over a committed chain and checks them
// before handing them out, so that a node never serves one a light
// client would refuse; it keeps the last ones it checked, since checking
// costs a quorum's signatures and clients ask for the same recent
// heights. Safe for concurrent use.
type Certifier struct {
	headers *HeaderCache
	chainID string
	vals    *chain.ValidatorSet
	checked *fifo[certified]
}

type certified struct {
	c  *Certificate
	cm Commit
}

// NewCertifier returns a certifier over src that keeps size headers and
// size checked certificates.
func NewCertifier(src BlockSource, chainID string, vals *chain.ValidatorSet, size int) *Certifier {
	return &Certifier{headers: NewHeaderCache(src, chainID, size), chainID: chainID, vals: vals, checked: newFIFO[certified](size)}
}

// Certify returns the certificate of height and what it proves. Errors
// are Build's (ErrNotCertified: not yet, or never), or a certificate
// built from the store that does not verify.
func (c *Certifier) Certify(height uint64) (*Certificate, Commit, error) {
	if it, ok := c.checked.get(height); ok {
		return it.c, it.cm, nil
	}
	cert, err := Build(c.headers, c.chainID, height)
	if err != nil {
		return nil, Commit{}, err
	}
	cm, err := Verify(c.chainID, c.vals, height, cert)
	if err != nil {
		return nil, Commit{}, fmt.Errorf("the certificate built for height %d does not verify: %w", height, err)
	}
	c.checked.put(height, certified{cert, cm})
	return cert, cm, nil
}

// fifo is a map of at most size entries by height, the oldest inserted
// evicted first. Safe for concurrent use.
type fifo[V any] struct {
	size int

	mu    sync.Mutex
	items map[uint64]V
	order []uint64 // insertion order
}

func newFIFO[V any](size int) *fifo[V] {
	return &fifo[V]{size: max(size, 1), items: make(map[uint64]V)}
}

func (f *fifo[V]) get(k uint64) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.items[k]
	return v, ok
}

func (f *fifo[V]) put(k uint64, v V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.items[k]; ok {
		return
	}
	if len(f.order) >= f.size {
		delete(f.items, f.order[0])
		f.order = f.order[1:]
	}
	f.items[k] = v
	f.order = append(f.order, k)
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
