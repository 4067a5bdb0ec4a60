package snapshot

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

const (
	metaFile   = "meta.json"
	tmpPrefix  = ".tmp-"
	oldSuffix  = "-old"
	dirPerm    = 0o755
	filePerm   = 0o644
	chunkNameF = "chunk-%05d"
)

// installMu serializes the renames that put snapshots in place, so that
// two Writes of one height in this process do not interleave them.
var installMu sync.Mutex

// active holds the names of the temporary directories that Writes and
// Prunes of this process are using, which List must not remove as
// leftovers. Its lock is held while such a directory is made and while
// List removes leftovers.
var active = struct {
	sync.Mutex
	names map[string]bool
}{names: map[string]bool{}}

func heightName(h uint64) string { return strconv.FormatUint(h, 10) }

func chunkName(i int) string { return fmt.Sprintf(chunkNameF, i) }

// Write writes the snapshot of height to dir/<height>/ (chunk files and
// meta.json) from the pairs that walk gives, cutting chunks at ChunkBytes.
// It writes into a temporary directory and renames it into place (fsyncing
// files and directories), so a crash never leaves a partial snapshot that
// List returns. walk is called once; fn copies what it is given, so walk
// may reuse its buffers, and walk should stop and return fn's error. An
// existing complete snapshot of that height is replaced. Keys must not be
// empty, and a pair whose encoding exceeds MaxChunkBytes is refused with
// ErrTooLarge, as is a state that needs more than MaxChunks chunks.
func Write(dir string, height uint64, appHash []byte, walk func(fn func(key, value []byte) error) error) (*Meta, error) {
	m := &Meta{Height: height, Format: Format, AppHash: append([]byte(nil), appHash...)}
	return done(m, write(dir, m, func(tmp string) error { return writeChunks(tmp, m, walk) }))
}

// done returns m, or nil with err.
func done(m *Meta, err error) (*Meta, error) {
	if err != nil {
		return nil, err
	}
	return m, nil
}

// WriteChunks writes, as Write does, the snapshot of height that an ABCI
// application took itself: n chunks, each given by load, stored as they
// are. A chunk over MaxChunkBytes, or empty, is refused.
func WriteChunks(dir string, height uint64, appHash []byte, abci ABCIMeta, n int, load func(i int) ([]byte, error)) (*Meta, error) {
	m := &Meta{Height: height, Format: FormatABCI, AppHash: bytes.Clone(appHash), ABCI: &abci}
	if n <= 0 || n > MaxChunks {
		return nil, fmt.Errorf("%w: snapshot write: %d chunks, want 1 to %d", ErrMalformed, n, MaxChunks)
	}
	return done(m, write(dir, m, func(tmp string) error {
		w := &chunkWriter{dir: tmp, meta: m}
		for i := range n {
			var err error
			if w.buf, err = load(i); err != nil {
				return fmt.Errorf("chunk %d: %w", i, err)
			}
			if len(w.buf) == 0 || len(w.buf) > MaxChunkBytes {
				return fmt.Errorf("%w: chunk %d of %d bytes, want 1 to %d", ErrTooLarge, i, len(w.buf), MaxChunkBytes)
			}
			if err := w.flush(); err != nil {
				return err
			}
		}
		return nil
	}))
}

// write writes snapshot m: fill writes its chunks into a temporary
// directory, which gets the meta and is renamed into place.
func write(dir string, m *Meta, fill func(tmp string) error) error {
	if err := m.validateHeader(); err != nil {
		return fmt.Errorf("snapshot: write: %w", err)
	}
	tmp, err := makeTemp(dir, tmpPrefix+heightName(m.Height)+"-")
	if err != nil {
		return fmt.Errorf("snapshot: write height %d: %w", m.Height, err)
	}
	defer release(tmp)
	err = fill(tmp)
	if err == nil {
		err = writeMeta(tmp, m)
	}
	if err == nil {
		err = install(dir, tmp, m.Height)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("snapshot: write height %d: %w", m.Height, err)
	}
	return nil
}

// makeTemp makes dir if need be and a temporary directory in it, and
// marks the directory active (and its -old sibling) until release.
func makeTemp(dir, pattern string) (string, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return "", err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return "", err
		}
	}
	active.Lock()
	defer active.Unlock()
	tmp, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	active.names[filepath.Base(tmp)] = true
	return tmp, nil
}

func release(tmp string) {
	active.Lock()
	defer active.Unlock()
	delete(active.names, filepath.Base(tmp))
}

// chunkWriter cuts the pairs it is given into chunk files.
type chunkWriter struct {
	dir  string
	meta *Meta
	buf  []byte
	err  error
}

func writeChunks(dir string, m *Meta, walk func(fn func(key, value []byte) error) error) error {
	w := &chunkWriter{dir: dir, meta: m, buf: make([]byte, 0, ChunkBytes)}
	err := walk(w.add)
	if w.err != nil {
		return w.err
	}
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	if len(w.buf) > 0 || len(m.Chunks) == 0 {
		return w.flush()
	}
	return nil
}

// add appends a pair to the chunk being cut, first writing that chunk out
// if the pair would take it past ChunkBytes. The first error sticks.
func (w *chunkWriter) add(key, value []byte) error {
	if w.err != nil {
		return w.err
	}
	if len(key) == 0 {
		w.err = fmt.Errorf("%w: pair %d has an empty key", ErrMalformed, w.meta.Pairs)
		return w.err
	}
	size := pairSize(key, value)
	if size > MaxChunkBytes {
		w.err = fmt.Errorf("%w: pair %d encodes to %d bytes, at most %d", ErrTooLarge, w.meta.Pairs, size, MaxChunkBytes)
		return w.err
	}
	if len(w.buf) > 0 && len(w.buf)+size > ChunkBytes {
		if w.err = w.flush(); w.err != nil {
			return w.err
		}
	}
	w.buf = appendPair(w.buf, key, value)
	w.meta.Pairs++
	return nil
}

// flush writes the chunk being cut to its file and records its hash.
func (w *chunkWriter) flush() error {
	i := len(w.meta.Chunks)
	if i >= MaxChunks {
		return fmt.Errorf("%w: state needs more than %d chunks", ErrTooLarge, MaxChunks)
	}
	if err := writeFile(filepath.Join(w.dir, chunkName(i)), w.buf); err != nil {
		return err
	}
	sum := sha256.Sum256(w.buf)
	w.meta.Chunks = append(w.meta.Chunks, sum[:])
	w.meta.Bytes += uint64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

func writeMeta(dir string, m *Meta) error {
	if err := m.validate(); err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, metaFile), b); err != nil {
		return err
	}
	return syncDir(dir)
}

// install renames the complete snapshot in tmp to dir/<height>, moving an
// existing one aside first (a crash between the renames leaves neither
// listed, never a partial one) and removing it after.
func install(dir, tmp string, height uint64) error {
	installMu.Lock()
	defer installMu.Unlock()
	final := filepath.Join(dir, heightName(height))
	old := ""
	if _, err := os.Lstat(final); err == nil {
		old = tmp + oldSuffix
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("move old snapshot aside: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		return fmt.Errorf("install: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if old != "" {
		os.RemoveAll(old) // a failure leaves a leftover that List removes
	}
	return nil
}

// writeFile creates path (which must not exist) holding b, fsynced.
func writeFile(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs directory dir, so that the entries made in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
