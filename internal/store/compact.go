package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Compaction gives back what pruning freed. bbolt reuses freed pages but
// never shrinks its file, so a store that once held far more than it keeps
// (retain_blocks lowered, or set on an old node) stays at its old size.
// When the store opens and more than half of a file of at least
// compactMinBytes is free, it is copied, live pages only, to a new file
// that replaces it by rename: a crash leaves either file whole, and a
// leftover copy is deleted on the next open.

// compactMinBytes: below it a sparse file is not worth the copy.
const compactMinBytes = 64 << 20

// compactTxBytes bounds each write transaction of the copy.
const compactTxBytes = 64 << 20

func compactPath(path string) string { return path + ".compact" }

// compactIfSparse compacts the file at path if it is mostly free, and
// reports the sizes before and after (equal when it did nothing).
func compactIfSparse(path string, opts *bolt.Options) (before, after int64, err error) {
	if err := os.Remove(compactPath(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	if fi.Size() < compactMinBytes {
		return fi.Size(), fi.Size(), nil
	}
	src, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		return 0, 0, err
	}
	defer src.Close()
	st := src.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(src.Info().PageSize)
	if free*2 < fi.Size() {
		return fi.Size(), fi.Size(), nil
	}
	if err := copyCompact(src, compactPath(path), opts); err != nil {
		os.Remove(compactPath(path))
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	src.Close()
	if err := os.Rename(compactPath(path), path); err != nil {
		return 0, 0, err
	}
	if err := syncDir(path); err != nil {
		return 0, 0, err
	}
	nfi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), nfi.Size(), nil
}

func copyCompact(src *bolt.DB, to string, opts *bolt.Options) error {
	dst, err := bolt.Open(to, 0o600, opts)
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, src, compactTxBytes); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// syncDir fsyncs the directory holding path, so that a rename in it is
// durable.
func syncDir(path string) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
