package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The snapshot formats: Format, key/value pairs that the node exports
// from an in-process application (Write); FormatABCI, the chunks of a
// snapshot an ABCI application took itself, copied as they are
// (WriteChunks), restored by giving them back to the application.
const (
	Format     = 1
	FormatABCI = 2
)

// Bounds on what an ABCI application's snapshot brings into a meta.
const (
	MaxABCIHash     = 256
	MaxABCIMetadata = 64 << 10
)

const (
	// ChunkBytes is the size a chunk is cut at.
	ChunkBytes = 1 << 20
	// MaxChunkBytes bounds a chunk that is decoded or loaded (a single
	// pair larger than ChunkBytes gets a chunk of its own); a pair whose
	// encoding exceeds MaxChunkBytes cannot be snapshotted.
	MaxChunkBytes = 2 << 20
	// MaxChunks bounds a snapshot's chunk count: 64 GiB of state at most.
	MaxChunks = 1 << 16
	// MaxMetaBytes bounds an encoded Meta: a chunk hash takes 47 bytes of
	// JSON (44 of base64, two quotes and a comma), counted as 48, and 4 KiB
	// is ample for the rest (at most about 250 bytes).
	MaxMetaBytes = MaxChunks*48 + 4096 + 2*(MaxABCIHash+MaxABCIMetadata)
)

const (
	maxAppHash   = 64
	minPairBytes = 3 // a one-byte length, a one-byte key and a one-byte length
)

// Errors for errors.Is.
var (
	ErrChunkHash  = errors.New("snapshot: chunk hash mismatch")
	ErrChunkIndex = errors.New("snapshot: chunk index out of range or already added")
	ErrMalformed  = errors.New("snapshot: malformed")
	ErrTooLarge   = errors.New("snapshot: too large")
)

// Meta describes a snapshot.
type Meta struct {
	Height  uint64   `json:"height"`
	Format  uint32   `json:"format"`
	AppHash []byte   `json:"app_hash"` // the application's hash of the state at Height
	Pairs   uint64   `json:"pairs"`
	Bytes   uint64   `json:"bytes"`  // total chunk bytes
	Chunks  [][]byte `json:"chunks"` // SHA-256 of each chunk, in order (32 bytes each)
	// ABCI is, for FormatABCI, the application's description of its
	// snapshot, which is given back to it on restore.
	ABCI *ABCIMeta `json:"abci,omitempty"`
}

// ABCIMeta is what an ABCI application said of its snapshot.
type ABCIMeta struct {
	Format   uint32 `json:"format"`
	Hash     []byte `json:"hash"`
	Metadata []byte `json:"metadata"`
}

// Hash is the SHA-256 of m.Marshal(); it identifies a snapshot across
// peers. (Marshal cannot fail for a Meta: it holds no maps or interfaces.)
func (m *Meta) Hash() [32]byte {
	b, _ := m.Marshal()
	return sha256.Sum256(b)
}

// Marshal encodes m as JSON, canonically: the same Meta always gives the
// same bytes.
func (m *Meta) Marshal() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("snapshot: encode meta: %w", err)
	}
	return b, nil
}

// DecodeMeta decodes and checks an encoded Meta. It refuses more than
// MaxMetaBytes, unknown fields, trailing data, a format other than Format,
// height 0, an app hash empty or longer than 64 bytes, no chunks, more
// than MaxChunks, a chunk hash that is not 32 bytes, and byte or pair
// counts that the chunks cannot hold.
func DecodeMeta(b []byte) (*Meta, error) {
	if len(b) > MaxMetaBytes {
		return nil, fmt.Errorf("%w: meta of %d bytes, at most %d", ErrTooLarge, len(b), MaxMetaBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Meta
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: meta: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: meta: data after the object", ErrMalformed)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// validate checks what DecodeMeta promises of a Meta.
func (m *Meta) validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	if len(m.Chunks) == 0 {
		return fmt.Errorf("%w: meta of height %d has no chunks", ErrMalformed, m.Height)
	}
	if len(m.Chunks) > MaxChunks {
		return fmt.Errorf("%w: meta of height %d has %d chunks, at most %d", ErrTooLarge, m.Height, len(m.Chunks), MaxChunks)
	}
	for i, h := range m.Chunks {
		if len(h) != sha256.Size {
			return fmt.Errorf("%w: meta of height %d: hash of chunk %d has %d bytes, want %d", ErrMalformed, m.Height, i, len(h), sha256.Size)
		}
	}
	if most := uint64(len(m.Chunks)) * MaxChunkBytes; m.Bytes > most {
		return fmt.Errorf("%w: meta of height %d: %d bytes in %d chunks (at most %d)", ErrMalformed, m.Height, m.Bytes, len(m.Chunks), most)
	}
	if m.Pairs > m.Bytes/minPairBytes {
		return fmt.Errorf("%w: meta of height %d: %d pairs cannot fit in %d bytes", ErrMalformed, m.Height, m.Pairs, m.Bytes)
	}
	return nil
}

// validateHeader checks the fields Write is given.
func (m *Meta) validateHeader() error {
	switch {
	case m.Format != Format && m.Format != FormatABCI:
		return fmt.Errorf("%w: meta format %d, want %d or %d", ErrMalformed, m.Format, Format, FormatABCI)
	case (m.Format == FormatABCI) != (m.ABCI != nil):
		return fmt.Errorf("%w: meta of format %d with abci part %v", ErrMalformed, m.Format, m.ABCI != nil)
	case m.ABCI != nil && (len(m.ABCI.Hash) > MaxABCIHash || len(m.ABCI.Metadata) > MaxABCIMetadata):
		return fmt.Errorf("%w: meta of height %d: abci hash or metadata too large", ErrTooLarge, m.Height)
	case m.Format == FormatABCI && m.Pairs != 0:
		return fmt.Errorf("%w: meta of format %d counts pairs", ErrMalformed, m.Format)
	case m.Height == 0:
		return fmt.Errorf("%w: meta of height 0", ErrMalformed)
	case len(m.AppHash) == 0 || len(m.AppHash) > maxAppHash:
		return fmt.Errorf("%w: meta of height %d: app hash of %d bytes, want 1 to %d", ErrMalformed, m.Height, len(m.AppHash), maxAppHash)
	}
	return nil
}
