package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// encodingVersion is the first byte of every canonical encoding. Bump it
// whenever a field is added or reordered, so old and new encodings never
// collide. Version 2: a block's state root is length-prefixed (it was 32
// bytes), its failed leaders always counted, and its evidence digested.
// Version 3: a block's payload hash is the Merkle root of its transactions
// (TxRoot), no longer a linear digest of their encoding.
const encodingVersion = 3

// Domain tags separate the kinds of signed messages, so that a signature
// over one kind can never be replayed as another.
const (
	domainBlock    = "strategos/block"
	domainVote     = "strategos/vote"
	domainTimeout  = "strategos/timeout"
	domainProposal = "strategos/proposal"
	domainEvidence = "strategos/evidence"
	domainValSet   = "strategos/validators"
)

// Hash is a SHA-256 digest.
type Hash [32]byte

// String returns the lowercase hex form of h.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short returns the first eight hex digits of h, for logs and traces.
func (h Hash) Short() string { return hex.EncodeToString(h[:4]) }

// IsZero reports whether h is the all-zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// ParseHash parses a 64-digit hex string.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("chain: parse hash: %w", err)
	}
	if len(b) != len(h) {
		return h, fmt.Errorf("chain: parse hash: want %d bytes, got %d", len(h), len(b))
	}
	copy(h[:], b)
	return h, nil
}

// encoder builds a canonical encoding: fixed-width big-endian integers and
// length-prefixed byte strings, so that no two distinct values share an
// encoding.
type encoder struct{ buf []byte }

func newEncoder(domain, chainID string) *encoder {
	e := &encoder{buf: make([]byte, 0, 128)}
	e.buf = append(e.buf, encodingVersion)
	e.str(domain)
	e.str(chainID)
	return e
}

func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) hash(h Hash)  { e.buf = append(e.buf, h[:]...) }

func (e *encoder) bytes(b []byte) {
	e.u64(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) sum() Hash { return sha256.Sum256(e.buf) }
