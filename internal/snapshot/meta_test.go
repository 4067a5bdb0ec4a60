package snapshot

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func validMeta() *Meta {
	return metaOf(2, chunkOf(0, 1), chunkOf(1, 1))
}

func TestMetaRoundTrip(t *testing.T) {
	m := validMeta()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if d.Hash() != m.Hash() {
		t.Fatal("hash changed over a round trip")
	}
	// Whitespace does not change the hash: it is of the canonical encoding.
	spaced := strings.ReplaceAll(string(b), ",", ", ")
	if d, err = DecodeMeta([]byte(spaced)); err != nil || d.Hash() != m.Hash() {
		t.Fatalf("spaced meta: %v", err)
	}
}

func TestLargestMetaFits(t *testing.T) {
	m := &Meta{Height: math.MaxUint64, Format: Format, AppHash: make([]byte, maxAppHash),
		Pairs: math.MaxUint64, Bytes: math.MaxUint64, Chunks: make([][]byte, MaxChunks)}
	for i := range m.Chunks {
		m.Chunks[i] = bytes.Repeat([]byte{0xff}, 32)
	}
	b, _ := m.Marshal()
	if len(b) > MaxMetaBytes {
		t.Fatalf("largest meta encodes to %d bytes, MaxMetaBytes is %d", len(b), MaxMetaBytes)
	}
}

func TestDecodeMetaRefuses(t *testing.T) {
	encode := func(change func(*Meta)) []byte {
		m := validMeta()
		change(m)
		b, _ := m.Marshal()
		return b
	}
	tooMany := func(m *Meta) {
		for len(m.Chunks) <= MaxChunks {
			m.Chunks = append(m.Chunks, m.Chunks[0])
		}
	}
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"too large", append(encode(func(*Meta) {}), bytes.Repeat([]byte(" "), MaxMetaBytes)...), ErrTooLarge},
		{"not json", []byte("meta"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"trailing data", append(encode(func(*Meta) {}), "{}"...), ErrMalformed},
		{"unknown field", []byte(strings.Replace(string(encode(func(*Meta) {})), "{", `{"extra":1,`, 1)), ErrMalformed},
		{"wrong format", encode(func(m *Meta) { m.Format = 2 }), ErrMalformed},
		{"height 0", encode(func(m *Meta) { m.Height = 0 }), ErrMalformed},
		{"app hash empty", encode(func(m *Meta) { m.AppHash = nil }), ErrMalformed},
		{"app hash too long", encode(func(m *Meta) { m.AppHash = make([]byte, 65) }), ErrMalformed},
		{"no chunks", encode(func(m *Meta) { m.Chunks = nil }), ErrMalformed},
		{"too many chunks", encode(tooMany), ErrTooLarge},
		{"short chunk hash", encode(func(m *Meta) { m.Chunks[1] = m.Chunks[1][:31] }), ErrMalformed},
		{"long chunk hash", encode(func(m *Meta) { m.Chunks[0] = append(m.Chunks[0], 0) }), ErrMalformed},
		{"bytes beyond chunks", encode(func(m *Meta) { m.Bytes = 2*MaxChunkBytes + 1 }), ErrMalformed},
		{"pairs beyond bytes", encode(func(m *Meta) { m.Pairs = m.Bytes/3 + 1 }), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := DecodeMeta(c.b); !errors.Is(err, c.want) {
				t.Fatalf("DecodeMeta: %v, want %v", err, c.want)
			}
		})
	}
}
