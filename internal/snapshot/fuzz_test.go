package snapshot

import (
	"bytes"
	"errors"
	"testing"
)

func TestDecodeChunkRefuses(t *testing.T) {
	cases := map[string][]byte{
		"empty key":        {0, 1, 'v'},
		"truncated key":    {5, 'k'},
		"truncated value":  {1, 'k', 2, 'v'},
		"no value length":  {1, 'k'},
		"non-minimal":      {0x81, 0x00, 'k', 0},
		"varint overflow":  bytes.Repeat([]byte{0xff}, 11),
		"huge length":      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'k'},
		"trailing garbage": append(chunkOf(0, 1), 3),
	}
	for name, b := range cases {
		if _, _, err := decodeChunk(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := decodeChunk(make([]byte, MaxChunkBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

func TestDecodeChunkAllocs(t *testing.T) {
	b := chunkOf(0, 1000)
	allocs := testing.AllocsPerRun(10, func() { decodeChunk(b) })
	if allocs > 3 {
		t.Fatalf("decodeChunk made %v allocations, want at most 3", allocs)
	}
}

// checkDecoded asserts what decodeChunk promises of a chunk it accepts:
// sizes bounded by the input, no aliasing, and the input is the canonical
// encoding of the pairs.
func checkDecoded(t *testing.T, b []byte) {
	t.Helper()
	in := bytes.Clone(b)
	keys, values, err := decodeChunk(in)
	if err != nil {
		return
	}
	if len(keys) != len(values) || len(keys) > len(b)/minPairBytes {
		t.Fatalf("%d keys, %d values from %d bytes", len(keys), len(values), len(b))
	}
	clear(in)
	var total int
	var again []byte
	for i := range keys {
		total += len(keys[i]) + len(values[i])
		again = appendPair(again, keys[i], values[i])
	}
	if total > len(b) {
		t.Fatalf("decoded %d bytes from %d", total, len(b))
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("re-encoding differs from the input")
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add([]byte{})
	f.Add(chunkOf(0, 3))
	f.Add([]byte{1, 'k', 0})
	f.Add([]byte{0x81, 0x00, 'k', 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecoded(t, b)
		if _, _, err := decodeChunk(b); err != nil {
			return // the error path allocates only its message
		}
		if allocs := testing.AllocsPerRun(1, func() { decodeChunk(b) }); allocs > 3 {
			t.Fatalf("%v allocations decoding %d bytes", allocs, len(b))
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	good, _ := validMeta().Marshal()
	f.Add(good)
	f.Add([]byte(`{"height":1,"format":1,"app_hash":"qw==","pairs":0,"bytes":0,"chunks":["` +
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" + `"]}`))
	f.Add([]byte(`{"height":3,"format":2,"app_hash":"qw==","pairs":0,"bytes":4,"chunks":["` +
		"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" + `"],"abci":{"format":7,"hash":"aGk=","metadata":null}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"chunks":[null]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		if err := m.validate(); err != nil {
			t.Fatalf("decoded meta does not validate: %v", err)
		}
		enc, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeMeta(enc)
		if err != nil {
			t.Fatalf("canonical encoding does not decode: %v", err)
		}
		if again.Hash() != m.Hash() {
			t.Fatal("hash changed over a round trip")
		}
		if _, err := NewRestorer(m, m.Bytes); err != nil {
			t.Fatalf("NewRestorer refuses a decoded meta: %v", err)
		}
	})
}
