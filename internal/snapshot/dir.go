package snapshot

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// List returns the metas of the complete snapshots in dir, highest height
// first. Leftover temporary directories are ignored and removed (those of
// Writes and Prunes under way in this process are left alone). A snapshot
// directory whose meta.json is absent, does not decode or names another
// height is ignored; other read errors are returned. A dir that does not
// exist gives an empty list.
func List(dir string) ([]*Meta, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: list: %w", err)
	}
	var metas []*Meta
	var leftovers []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			leftovers = append(leftovers, e.Name())
			continue
		}
		h, ok := parseHeight(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		m, err := readMeta(dir, h)
		if err != nil {
			return nil, fmt.Errorf("snapshot: list: %w", err)
		}
		if m != nil {
			metas = append(metas, m)
		}
	}
	removeLeftovers(dir, leftovers)
	slices.SortFunc(metas, func(a, b *Meta) int { return cmp.Compare(b.Height, a.Height) })
	return metas, nil
}

// parseHeight reads a snapshot directory's name: a height in decimal
// without leading zeros.
func parseHeight(name string) (uint64, bool) {
	h, err := strconv.ParseUint(name, 10, 64)
	return h, err == nil && h > 0 && heightName(h) == name
}

// readMeta reads the meta of snapshot h, or nil if it is absent or bad.
func readMeta(dir string, h uint64) (*Meta, error) {
	b, err := readBounded(filepath.Join(dir, heightName(h), metaFile), MaxMetaBytes)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrTooLarge) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := DecodeMeta(b)
	if err != nil || m.Height != h {
		return nil, nil
	}
	return m, nil
}

// readBounded reads the file at path, refusing one over limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s exceeds %d bytes", ErrTooLarge, path, limit)
	}
	return b, nil
}

// removeLeftovers removes the named temporary directories that no Write
// or Prune of this process is using. Failures are ignored: the
// directories stay ignored, and the next List tries again.
func removeLeftovers(dir string, names []string) {
	active.Lock()
	defer active.Unlock()
	for _, name := range names {
		if !active.names[strings.TrimSuffix(name, oldSuffix)] {
			os.RemoveAll(filepath.Join(dir, name))
		}
	}
}

// LoadChunk reads chunk index of the snapshot of height. It returns an
// error wrapping fs.ErrNotExist for an unknown height, ErrChunkIndex for
// an unknown index and ErrTooLarge for a chunk file over MaxChunkBytes. It
// does not check the chunk against the meta: the receiver does.
func LoadChunk(dir string, height uint64, index int) ([]byte, error) {
	if index < 0 || index >= MaxChunks {
		return nil, fmt.Errorf("%w: chunk %d of height %d", ErrChunkIndex, index, height)
	}
	sdir := filepath.Join(dir, heightName(height))
	if _, err := os.Stat(filepath.Join(sdir, metaFile)); err != nil {
		return nil, fmt.Errorf("snapshot: load chunk %d: no snapshot of height %d: %w", index, height, err)
	}
	b, err := readBounded(filepath.Join(sdir, chunkName(index)), MaxChunkBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: chunk %d of height %d", ErrChunkIndex, index, height)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: load chunk %d of height %d: %w", index, height, err)
	}
	return b, nil
}

// Prune deletes all but the keep highest snapshots. Each is renamed to a
// temporary name before its files go, so a crash never leaves part of one
// listed.
func Prune(dir string, keep int) error { return PruneExcept(dir, keep, 0, nil) }

// PruneExcept is Prune that also keeps up to extra of the snapshots inUse
// reports, the highest first, such as one a peer is fetching.
func PruneExcept(dir string, keep, extra int, inUse func(height uint64) bool) error {
	if keep < 0 {
		return fmt.Errorf("snapshot: prune: keep %d < 0", keep)
	}
	metas, err := List(dir)
	if err != nil {
		return fmt.Errorf("snapshot: prune: %w", err)
	}
	for _, m := range metas[min(keep, len(metas)):] {
		if extra > 0 && inUse != nil && inUse(m.Height) {
			extra--
			continue
		}
		if err := remove(dir, m.Height); err != nil {
			return fmt.Errorf("snapshot: prune height %d: %w", m.Height, err)
		}
	}
	return nil
}

// remove deletes snapshot h: a rename to a temporary directory, durable
// before the files are deleted.
func remove(dir string, h uint64) error {
	tmp, err := makeTemp(dir, tmpPrefix+"prune-"+heightName(h)+"-")
	if err != nil {
		return err
	}
	defer release(tmp)
	gone := filepath.Join(tmp, heightName(h))
	installMu.Lock()
	err = os.Rename(filepath.Join(dir, heightName(h)), gone)
	installMu.Unlock()
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return os.RemoveAll(tmp)
}
