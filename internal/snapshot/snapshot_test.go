package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var testAppHash = bytes.Repeat([]byte{0xab}, 32)

// genPairs makes n pairs with distinct keys and values of size bytes.
func genPairs(n, size int) (keys, values [][]byte) {
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range n {
		keys = append(keys, fmt.Appendf(nil, "key-%08d", i))
		v := make([]byte, size)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		values = append(values, v)
	}
	return keys, values
}

// walkOf gives the pairs to fn from one reused buffer, as a store would.
func walkOf(keys, values [][]byte) func(fn func(key, value []byte) error) error {
	return func(fn func(key, value []byte) error) error {
		var buf []byte
		for i := range keys {
			buf = append(buf[:0], values[i]...)
			if err := fn(keys[i], buf); err != nil {
				return err
			}
		}
		return nil
	}
}

// restore loads every chunk of m from dir and adds them in shuffled order.
func restore(t *testing.T, dir string, m *Meta) (keys, values [][]byte) {
	t.Helper()
	r, err := NewRestorer(m, m.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	order := rand.New(rand.NewPCG(7, 7)).Perm(len(m.Chunks))
	for _, i := range order {
		c, err := LoadChunk(dir, m.Height, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Add(i, c); err != nil {
			t.Fatalf("add chunk %d: %v", i, err)
		}
	}
	if !r.Done() || len(r.Missing(10)) != 0 {
		t.Fatalf("not done after all chunks: missing %v", r.Missing(10))
	}
	keys, values, err = r.Pairs()
	if err != nil {
		t.Fatal(err)
	}
	return keys, values
}

func equalPairs(t *testing.T, gotK, gotV, wantK, wantV [][]byte) {
	t.Helper()
	if len(gotK) != len(wantK) || len(gotV) != len(wantV) {
		t.Fatalf("got %d/%d pairs, want %d", len(gotK), len(gotV), len(wantK))
	}
	for i := range wantK {
		if !bytes.Equal(gotK[i], wantK[i]) || !bytes.Equal(gotV[i], wantV[i]) {
			t.Fatalf("pair %d differs: key %q want %q", i, gotK[i], wantK[i])
		}
	}
}

func writeAndList(t *testing.T, dir string, height uint64, keys, values [][]byte) *Meta {
	t.Helper()
	m, err := Write(dir, height, testAppHash, walkOf(keys, values))
	if err != nil {
		t.Fatal(err)
	}
	metas, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range metas {
		if l.Height == height {
			if l.Hash() != m.Hash() {
				t.Fatalf("listed meta differs from written one")
			}
			return l
		}
	}
	t.Fatalf("height %d not listed", height)
	return nil
}

func TestRoundTripManyChunks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snapshots") // made by Write
	keys, values := genPairs(3000, 1000)           // about 3 MiB
	m := writeAndList(t, dir, 42, keys, values)
	if len(m.Chunks) < 3 || m.Pairs != 3000 || m.Height != 42 || !bytes.Equal(m.AppHash, testAppHash) {
		t.Fatalf("meta: %d chunks, %d pairs, height %d", len(m.Chunks), m.Pairs, m.Height)
	}
	var total uint64
	for i := range m.Chunks {
		c, err := LoadChunk(dir, 42, i)
		if err != nil {
			t.Fatal(err)
		}
		if len(c) > ChunkBytes {
			t.Fatalf("chunk %d of %d bytes exceeds ChunkBytes", i, len(c))
		}
		total += uint64(len(c))
	}
	if total != m.Bytes {
		t.Fatalf("chunks hold %d bytes, meta says %d", total, m.Bytes)
	}
	gotK, gotV := restore(t, dir, m)
	equalPairs(t, gotK, gotV, keys, values)
}

func TestPairLargerThanChunk(t *testing.T) {
	dir := t.TempDir()
	keys, values := genPairs(3, 10)
	values[1] = bytes.Repeat([]byte{7}, ChunkBytes+100)
	m := writeAndList(t, dir, 1, keys, values)
	if len(m.Chunks) != 3 {
		t.Fatalf("%d chunks, want 3 (the large pair alone)", len(m.Chunks))
	}
	c, err := LoadChunk(dir, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := pairSize(keys[1], values[1]); len(c) != want {
		t.Fatalf("chunk 1 has %d bytes, want %d", len(c), want)
	}
	gotK, gotV := restore(t, dir, m)
	equalPairs(t, gotK, gotV, keys, values)
}

func TestEmptyState(t *testing.T) {
	dir := t.TempDir()
	m := writeAndList(t, dir, 9, nil, nil)
	if len(m.Chunks) != 1 || m.Bytes != 0 || m.Pairs != 0 {
		t.Fatalf("empty state: %d chunks, %d bytes, %d pairs", len(m.Chunks), m.Bytes, m.Pairs)
	}
	gotK, _ := restore(t, dir, m)
	if len(gotK) != 0 {
		t.Fatalf("%d pairs from an empty state", len(gotK))
	}
}

func assertNoSnapshot(t *testing.T, dir string) {
	t.Helper()
	metas, err := List(dir)
	if err != nil || len(metas) != 0 {
		t.Fatalf("List after failed Write: %d metas, %v", len(metas), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("failed Write left %d entries", len(entries))
	}
}

func TestWriteRefuses(t *testing.T) {
	walkErr := errors.New("store closed")
	cases := []struct {
		name    string
		height  uint64
		appHash []byte
		walk    func(fn func(k, v []byte) error) error
		want    error
	}{
		{"pair too large", 1, testAppHash, walkOf([][]byte{{1}}, [][]byte{make([]byte, MaxChunkBytes)}), ErrTooLarge},
		{"empty key", 1, testAppHash, walkOf([][]byte{{}}, [][]byte{{1}}), ErrMalformed},
		{"walk error", 1, testAppHash, func(func(k, v []byte) error) error { return walkErr }, walkErr},
		{"walk ignores fn error", 1, testAppHash, func(fn func(k, v []byte) error) error {
			fn(nil, nil)
			fn([]byte("k"), nil)
			return nil
		}, ErrMalformed},
		{"height 0", 0, testAppHash, walkOf(nil, nil), ErrMalformed},
		{"no app hash", 1, nil, walkOf(nil, nil), ErrMalformed},
		{"app hash too long", 1, make([]byte, 65), walkOf(nil, nil), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := Write(dir, c.height, c.appHash, c.walk)
			if !errors.Is(err, c.want) {
				t.Fatalf("Write: %v, want %v", err, c.want)
			}
			assertNoSnapshot(t, dir)
		})
	}
}

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	k1, v1 := genPairs(10, 5)
	writeAndList(t, dir, 3, k1, v1)
	k2, v2 := genPairs(20, 7)
	m := writeAndList(t, dir, 3, k2, v2)
	metas, err := List(dir)
	if err != nil || len(metas) != 1 || metas[0].Pairs != 20 {
		t.Fatalf("after replace: %d metas, %v", len(metas), err)
	}
	gotK, gotV := restore(t, dir, m)
	equalPairs(t, gotK, gotV, k2, v2)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("replace left %d entries", len(entries))
	}
}

func TestListIgnoresLeftovers(t *testing.T) {
	dir := t.TempDir()
	k, v := genPairs(5, 5)
	m := writeAndList(t, dir, 5, k, v)
	// A crash mid-Write: a full copy of a snapshot under a temporary name.
	leftover := filepath.Join(dir, tmpPrefix+"6-123")
	if err := os.CopyFS(leftover, os.DirFS(filepath.Join(dir, "5"))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"7", "007", "x"} { // no meta.json; not a height
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A meta naming another height than its directory.
	if err := os.CopyFS(filepath.Join(dir, "8"), os.DirFS(filepath.Join(dir, "5"))); err != nil {
		t.Fatal(err)
	}
	metas, err := List(dir)
	if err != nil || len(metas) != 1 || metas[0].Hash() != m.Hash() {
		t.Fatalf("List: %d metas, %v", len(metas), err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leftover not removed: %v", err)
	}
}

func TestListActiveTempKept(t *testing.T) {
	dir := t.TempDir()
	tmp, err := makeTemp(dir, tmpPrefix+"1-")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := List(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("List removed an active temporary directory: %v", err)
	}
	release(tmp)
	List(dir)
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("released temporary directory not removed: %v", err)
	}
}

func TestListMissingDir(t *testing.T) {
	metas, err := List(filepath.Join(t.TempDir(), "none"))
	if err != nil || len(metas) != 0 {
		t.Fatalf("List of a missing dir: %d metas, %v", len(metas), err)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	k, v := genPairs(3, 3)
	for _, h := range []uint64{4, 1, 5, 3, 2} {
		writeAndList(t, dir, h, k, v)
	}
	heights := func() (hs []uint64) {
		metas, err := List(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			hs = append(hs, m.Height)
		}
		return hs
	}
	if got := fmt.Sprint(heights()); got != "[5 4 3 2 1]" {
		t.Fatalf("List order %s", got)
	}
	// Snapshots in use are kept beyond keep, up to extra of them.
	inUse := func(h uint64) bool { return h <= 2 }
	if err := PruneExcept(dir, 2, 1, inUse); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(heights()); got != "[5 4 2]" {
		t.Fatalf("after PruneExcept(2, 1, heights 1 and 2 in use): %s", got)
	}
	if err := Prune(dir, 2); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(heights()); got != "[5 4]" {
		t.Fatalf("after Prune(2): %s", got)
	}
	if err := Prune(dir, 5); err != nil {
		t.Fatal(err)
	}
	if err := Prune(dir, -1); err == nil {
		t.Fatal("Prune(-1) succeeded")
	}
	if err := Prune(dir, 0); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("Prune(0) left %d entries", len(entries))
	}
}

func TestLoadChunkErrors(t *testing.T) {
	dir := t.TempDir()
	k, v := genPairs(3, 3)
	writeAndList(t, dir, 2, k, v)
	if _, err := LoadChunk(dir, 3, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unknown height: %v", err)
	}
	for _, i := range []int{-1, 1, MaxChunks} {
		if _, err := LoadChunk(dir, 2, i); !errors.Is(err, ErrChunkIndex) {
			t.Fatalf("index %d: %v", i, err)
		}
	}
}

// An ABCI application's chunks are stored as they are, listed with their
// description, and restored only when each matches its hash.
func TestWriteChunksRoundTrip(t *testing.T) {
	dir := t.TempDir()
	chunks := [][]byte{[]byte("first chunk"), bytes.Repeat([]byte{7}, 1000), []byte("last")}
	abci := ABCIMeta{Format: 9, Hash: []byte("app's hash"), Metadata: []byte("app's metadata")}
	m, err := WriteChunks(dir, 30, []byte("root"), abci, len(chunks), func(i int) ([]byte, error) { return chunks[i], nil })
	if err != nil {
		t.Fatal(err)
	}
	metas, err := List(dir)
	if err != nil || len(metas) != 1 || metas[0].Hash() != m.Hash() || metas[0].ABCI == nil || metas[0].ABCI.Format != 9 {
		t.Fatalf("listed %+v, %v", metas, err)
	}
	b, _ := m.Marshal()
	got, err := DecodeMeta(b)
	if err != nil || got.Hash() != m.Hash() {
		t.Fatalf("meta round trip: %v", err)
	}
	r, err := NewRestorer(got, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(1, append([]byte{8}, chunks[1][1:]...)); !errors.Is(err, ErrChunkHash) {
		t.Fatalf("a changed chunk: %v, want ErrChunkHash", err)
	}
	for i := range chunks {
		c, err := LoadChunk(dir, 30, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Add(i, c); err != nil {
			t.Fatal(err)
		}
	}
	out, err := r.Chunks()
	if err != nil || len(out) != len(chunks) {
		t.Fatalf("chunks: %d, %v", len(out), err)
	}
	for i := range chunks {
		if !bytes.Equal(out[i], chunks[i]) {
			t.Fatalf("chunk %d restored as %q", i, out[i])
		}
	}
	if _, err := WriteChunks(dir, 40, []byte("root"), abci, 1, func(int) ([]byte, error) { return nil, nil }); err == nil {
		t.Fatal("an empty chunk was written")
	}
	bad := *m
	bad.ABCI = nil
	b, _ = bad.Marshal()
	if _, err := DecodeMeta(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an ABCI meta without its abci part: %v", err)
	}
}
