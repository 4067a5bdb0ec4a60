package snapshot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// metaOf describes chunks as Write would, with the pair count given.
func metaOf(pairs uint64, chunks ...[]byte) *Meta {
	m := &Meta{Height: 1, Format: Format, AppHash: testAppHash, Pairs: pairs}
	for _, c := range chunks {
		h := sha256.Sum256(c)
		m.Chunks = append(m.Chunks, h[:])
		m.Bytes += uint64(len(c))
	}
	return m
}

func chunkOf(from, n int) []byte {
	var b []byte
	for i := from; i < from+n; i++ {
		b = appendPair(b, fmt.Appendf(nil, "k%d", i), fmt.Appendf(nil, "v%d", i))
	}
	return b
}

func TestRestorerRefuses(t *testing.T) {
	c0, c1, c2 := chunkOf(0, 3), chunkOf(3, 3), chunkOf(6, 3)
	r, err := NewRestorer(metaOf(9, c0, c1, c2), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(1, c1); err != nil {
		t.Fatal(err)
	}
	missing := r.Missing(10)
	tampered := bytes.Clone(c0)
	tampered[len(tampered)-1] ^= 1
	steps := []struct {
		index int
		chunk []byte
		want  error
	}{
		{0, tampered, ErrChunkHash},
		{0, c1, ErrChunkHash},
		{1, c1, ErrChunkIndex}, // re-added
		{-1, c0, ErrChunkIndex},
		{3, c0, ErrChunkIndex},
		{0, make([]byte, MaxChunkBytes+1), ErrTooLarge},
	}
	for _, s := range steps {
		if err := r.Add(s.index, s.chunk); !errors.Is(err, s.want) {
			t.Fatalf("Add(%d): %v, want %v", s.index, err, s.want)
		}
		if got := r.Missing(10); !slices.Equal(got, missing) {
			t.Fatalf("Missing after refused Add(%d): %v, want %v", s.index, got, missing)
		}
	}
	if _, _, err := r.Pairs(); err == nil || r.Done() {
		t.Fatal("Pairs before Done succeeded")
	}
	if got := r.Missing(1); !slices.Equal(got, []int{0}) {
		t.Fatalf("Missing(1) = %v", got)
	}
	if got := r.Missing(0); len(got) != 0 {
		t.Fatalf("Missing(0) = %v", got)
	}
	for i, c := range [][]byte{c0, c2} {
		if err := r.Add(i*2, c); err != nil {
			t.Fatal(err)
		}
	}
	keys, _, err := r.Pairs()
	if err != nil || len(keys) != 9 || string(keys[8]) != "k8" {
		t.Fatalf("Pairs: %d keys, %v", len(keys), err)
	}
}

func TestRestorerMalformedChunk(t *testing.T) {
	bad := []byte{1, 'k', 5, 'v'} // hashes right, value truncated
	good := chunkOf(0, 1)
	r, err := NewRestorer(metaOf(1, good, bad), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(1, bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed chunk: %v", err)
	}
	if got := r.Missing(5); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("Missing after malformed chunk: %v", got)
	}
}

func TestRestorerMetaLies(t *testing.T) {
	c0, c1 := chunkOf(0, 2), chunkOf(2, 2)
	// Fewer pairs than the chunks hold: the second chunk is refused.
	r, _ := NewRestorer(metaOf(3, c0, c1), 1<<20)
	if err := r.Add(0, c0); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(1, c1); !errors.Is(err, ErrMalformed) {
		t.Fatalf("too many pairs: %v", err)
	}
	// More pairs than the chunks hold: Pairs refuses.
	r, _ = NewRestorer(metaOf(5, c0, c1), 1<<20)
	r.Add(0, c0)
	r.Add(1, c1)
	if _, _, err := r.Pairs(); !errors.Is(err, ErrMalformed) || !r.Done() {
		t.Fatalf("too few pairs: %v", err)
	}
	// Fewer bytes than the chunks hold: refused before the chunk is held.
	m := metaOf(4, c0, c1)
	m.Bytes = uint64(len(c0)) + 1
	r, _ = NewRestorer(m, 1<<20)
	r.Add(0, c0)
	if err := r.Add(1, c1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too many bytes: %v", err)
	}
	// More bytes than the chunks hold: Pairs refuses.
	m = metaOf(4, c0, c1)
	m.Bytes += 10
	r, _ = NewRestorer(m, 1<<20)
	r.Add(0, c0)
	r.Add(1, c1)
	if _, _, err := r.Pairs(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("too few bytes: %v", err)
	}
}

func TestNewRestorerRefuses(t *testing.T) {
	m := metaOf(2, chunkOf(0, 2))
	if _, err := NewRestorer(m, m.Bytes-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over maxBytes: %v", err)
	}
	if _, err := NewRestorer(nil, 1); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil meta: %v", err)
	}
	m.Chunks[0] = m.Chunks[0][:31]
	if _, err := NewRestorer(m, 1<<20); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad meta: %v", err)
	}
}

func TestRestorerCopiesInput(t *testing.T) {
	c := chunkOf(0, 2)
	m := metaOf(2, c)
	r, _ := NewRestorer(m, 1<<20)
	m.Chunks[0][0] ^= 1 // the caller's meta changes after
	in := bytes.Clone(c)
	if err := r.Add(0, in); err != nil {
		t.Fatal(err)
	}
	clear(in)
	keys, values, err := r.Pairs()
	if err != nil || string(keys[1]) != "k1" || string(values[1]) != "v1" {
		t.Fatalf("Pairs after the input changed: %q %q %v", keys, values, err)
	}
}

func TestRestorerConcurrentAdds(t *testing.T) {
	var chunks [][]byte
	for i := range 8 {
		chunks = append(chunks, chunkOf(i*4, 4))
	}
	r, err := NewRestorer(metaOf(32, chunks...), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2*len(chunks))
	for range 2 { // every chunk twice: one Add of each succeeds
		for i, c := range chunks {
			go func() { errs <- r.Add(i, c) }()
		}
	}
	var ok int
	for range 2 * len(chunks) {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, ErrChunkIndex) {
			t.Fatal(err)
		}
	}
	if keys, _, err := r.Pairs(); ok != len(chunks) || err != nil || len(keys) != 32 {
		t.Fatalf("%d Adds succeeded; Pairs: %d keys, %v", ok, len(keys), err)
	}
}
