package snapshot

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"
)

// Restorer collects the chunks of one snapshot, in any order, each checked
// against the Meta. It is safe for concurrent use, so chunks may be added
// as they arrive from several peers.
type Restorer struct {
	meta Meta // a deep copy: the caller's Meta may change

	mu     sync.Mutex
	chunks [][]byte // copies of the added chunks
	have   []bool
	added  int
	pairs  uint64
	bytes  uint64
}

// NewRestorer starts restoring the snapshot m describes, holding at most
// maxBytes of chunk data: it refuses a Meta that does not validate (as
// DecodeMeta checks) and one whose Bytes exceed maxBytes (ErrTooLarge).
func NewRestorer(m *Meta, maxBytes uint64) (*Restorer, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: restore: no meta", ErrMalformed)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("snapshot: restore: %w", err)
	}
	if m.Bytes > maxBytes {
		return nil, fmt.Errorf("%w: restore height %d: %d bytes, at most %d allowed", ErrTooLarge, m.Height, m.Bytes, maxBytes)
	}
	c := *m
	c.AppHash = bytes.Clone(m.AppHash)
	if m.ABCI != nil {
		a := *m.ABCI
		a.Hash, a.Metadata = bytes.Clone(a.Hash), bytes.Clone(a.Metadata)
		c.ABCI = &a
	}
	c.Chunks = make([][]byte, len(m.Chunks))
	for i, h := range m.Chunks {
		c.Chunks[i] = bytes.Clone(h)
	}
	return &Restorer{meta: c, chunks: make([][]byte, len(c.Chunks)), have: make([]bool, len(c.Chunks))}, nil
}

// Add checks chunk index against its hash and decodes it; on any error
// nothing changes. It returns ErrChunkIndex for an index out of range or
// already added, ErrTooLarge for a chunk over MaxChunkBytes or one that
// would take the total past the Meta's Bytes, ErrChunkHash for a hash
// mismatch, and ErrMalformed for a chunk that hashes right but does not
// decode or would take the pair count past the Meta's Pairs. The chunk is
// copied; the caller may reuse it.
func (r *Restorer) Add(index int, chunk []byte) error {
	if err := r.check(index, chunk); err != nil {
		return err
	}
	pairs := 0
	if r.meta.Format == Format {
		var err error
		if pairs, _, err = eachPair(chunk, nil); err != nil {
			return fmt.Errorf("snapshot: chunk %d of height %d: %w", index, r.meta.Height, err)
		}
	}
	cp := bytes.Clone(chunk)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fits(index, len(cp), pairs); err != nil {
		return err
	}
	r.chunks[index], r.have[index] = cp, true
	r.added++
	r.bytes += uint64(len(cp))
	r.pairs += uint64(pairs)
	return nil
}

// check refuses a chunk by index, size and hash, cheapest first.
func (r *Restorer) check(index int, chunk []byte) error {
	if index < 0 || index >= len(r.meta.Chunks) {
		return fmt.Errorf("%w: chunk %d of %d", ErrChunkIndex, index, len(r.meta.Chunks))
	}
	if len(chunk) > MaxChunkBytes {
		return fmt.Errorf("%w: chunk %d of %d bytes, at most %d", ErrTooLarge, index, len(chunk), MaxChunkBytes)
	}
	r.mu.Lock()
	added := r.have[index]
	r.mu.Unlock()
	if added {
		return fmt.Errorf("%w: chunk %d already added", ErrChunkIndex, index)
	}
	if sum := sha256.Sum256(chunk); !bytes.Equal(sum[:], r.meta.Chunks[index]) {
		return fmt.Errorf("%w: chunk %d of height %d", ErrChunkHash, index, r.meta.Height)
	}
	return nil
}

// fits checks, with r.mu held, that a decoded chunk may be added.
func (r *Restorer) fits(index, size, pairs int) error {
	switch {
	case r.have[index]:
		return fmt.Errorf("%w: chunk %d already added", ErrChunkIndex, index)
	case r.bytes+uint64(size) > r.meta.Bytes:
		return fmt.Errorf("%w: chunk %d takes the snapshot past the %d bytes of its meta", ErrTooLarge, index, r.meta.Bytes)
	case r.pairs+uint64(pairs) > r.meta.Pairs:
		return fmt.Errorf("%w: chunk %d takes the snapshot past the %d pairs of its meta", ErrMalformed, index, r.meta.Pairs)
	}
	return nil
}

// Missing returns the indexes not yet added, ascending, at most n of them
// (none for n <= 0).
func (r *Restorer) Missing(n int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i, ok := range r.have {
		if len(out) >= n {
			break
		}
		if !ok {
			out = append(out, i)
		}
	}
	return out
}

// Done reports whether every chunk has been added.
func (r *Restorer) Done() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.added == len(r.have)
}

// Chunks returns the chunks in order once Done, for a snapshot of
// FormatABCI (the slices are the Restorer's copies).
func (r *Restorer) Chunks() ([][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.complete(); err != nil {
		return nil, err
	}
	return append([][]byte(nil), r.chunks...), nil
}

// complete checks, with r.mu held, that every chunk is in and the counts
// are the meta's.
func (r *Restorer) complete() error {
	switch {
	case r.added != len(r.have):
		return fmt.Errorf("snapshot: restore height %d incomplete: %d of %d chunks", r.meta.Height, r.added, len(r.have))
	case r.pairs != r.meta.Pairs:
		return fmt.Errorf("%w: snapshot of height %d has %d pairs, its meta says %d", ErrMalformed, r.meta.Height, r.pairs, r.meta.Pairs)
	case r.bytes != r.meta.Bytes:
		return fmt.Errorf("%w: snapshot of height %d has %d bytes, its meta says %d", ErrMalformed, r.meta.Height, r.bytes, r.meta.Bytes)
	}
	return nil
}

// Pairs returns all pairs in snapshot order once Done. It errors before
// then, and with ErrMalformed if the chunks hold other than the Meta's
// Pairs and Bytes. The slices share the Restorer's copies of the chunks
// (never the caller's) and are capped, so appending to one does not
// overwrite another.
func (r *Restorer) Pairs() (keys, values [][]byte, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.complete(); err != nil {
		return nil, nil, err
	}
	keys, values = make([][]byte, 0, r.pairs), make([][]byte, 0, r.pairs)
	for _, c := range r.chunks {
		eachPair(c, func(k, v []byte) { // checked in Add
			keys = append(keys, k)
			values = append(values, v)
		})
	}
	return keys, values, nil
}
