package snapshot

import (
	"encoding/binary"
	"fmt"
)

// uvarintLen is the length of x's minimal uvarint encoding.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

// pairSize is the length of a pair's encoding.
func pairSize(key, value []byte) int {
	return uvarintLen(uint64(len(key))) + len(key) + uvarintLen(uint64(len(value))) + len(value)
}

// appendPair appends the encoding of a pair to b.
func appendPair(b, key, value []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// field reads the length-prefixed field at b[off:] and returns where its
// bytes start and end. The length is checked against the bytes left
// before anything uses it.
func field(b []byte, off int) (start, end int, err error) {
	x, n := binary.Uvarint(b[off:])
	if n <= 0 {
		return 0, 0, fmt.Errorf("%w: chunk: bad length at offset %d", ErrMalformed, off)
	}
	if n != uvarintLen(x) {
		return 0, 0, fmt.Errorf("%w: chunk: non-minimal length at offset %d", ErrMalformed, off)
	}
	start = off + n
	if x > uint64(len(b)-start) {
		return 0, 0, fmt.Errorf("%w: chunk: length %d at offset %d exceeds the %d bytes left", ErrMalformed, x, off, len(b)-start)
	}
	return start, start + int(x), nil
}

// eachPair checks the encoding of chunk b and returns its pair count and
// the total length of its keys and values. If fn is not nil it is called
// with each pair, as subslices of b, until the first error; eachPair
// itself allocates nothing but its error.
func eachPair(b []byte, fn func(key, value []byte)) (pairs, payload int, err error) {
	if len(b) > MaxChunkBytes {
		return 0, 0, fmt.Errorf("%w: chunk of %d bytes, at most %d", ErrTooLarge, len(b), MaxChunkBytes)
	}
	for off := 0; off < len(b); pairs++ {
		ks, ke, err := field(b, off)
		if err != nil {
			return 0, 0, err
		}
		if ke == ks {
			return 0, 0, fmt.Errorf("%w: chunk: empty key at offset %d", ErrMalformed, off)
		}
		if ke == len(b) {
			return 0, 0, fmt.Errorf("%w: chunk: key at offset %d has no value", ErrMalformed, off)
		}
		vs, ve, err := field(b, ke)
		if err != nil {
			return 0, 0, err
		}
		if fn != nil {
			fn(b[ks:ke:ke], b[vs:ve:ve])
		}
		payload += ke - ks + ve - vs
		off = ve
	}
	return pairs, payload, nil
}

// decodeChunk decodes chunk b into copies of its pairs, which do not alias
// b. It checks the whole chunk first, then allocates exactly: one buffer
// of the keys' and values' total length (less than len(b)) and the two
// slices of pair count entries (at most len(b)/3).
func decodeChunk(b []byte) (keys, values [][]byte, err error) {
	n, payload, err := eachPair(b, nil)
	if err != nil {
		return nil, nil, err
	}
	buf := make([]byte, 0, payload)
	keys, values = make([][]byte, 0, n), make([][]byte, 0, n)
	cut := func(p []byte) []byte {
		buf = append(buf, p...)
		return buf[len(buf)-len(p) : len(buf) : len(buf)]
	}
	eachPair(b, func(key, value []byte) {
		keys = append(keys, cut(key))
		values = append(values, cut(value))
	})
	return keys, values, nil
}
