package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The application area is a flat key/value space for the ledger's state.
//
// Execution lags consensus (a block carries the state root of an earlier
// committed height), so the application writes separately from Commit:
// AppCommit applies the writes of executing the committed block at height
// and records (height, root) in the same transaction. After a crash the
// state is exactly that of AppHeight, and the runtime re-executes the
// committed blocks above it. AppPut writes outside that sequence, for
// example the genesis state.

// AppPut applies deletes and then puts to the application area in one
// fsynced transaction. Keys must not be empty.
func (s *Store) AppPut(puts map[string][]byte, deletes []string) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	err := s.db.Update(func(tx *bolt.Tx) error { return appWrite(tx, puts, deletes) })
	if err != nil {
		return fmt.Errorf("store: app put: %w", err)
	}
	return nil
}

// AppCommit applies deletes and then puts, and records height and root as
// the executed state, in one fsynced transaction. height must be the
// previous AppCommit's plus one (1 at first) and at most the committed
// height; otherwise it fails with ErrAppOrder.
func (s *Store) AppCommit(height uint64, root []byte, puts map[string][]byte, deletes []string) error {
	return s.AppCommitWith(height, AppWrite{Root: root, Puts: puts, Deletes: deletes})
}

// AppCommitWith is AppCommit that also records the block's transaction
// outcomes (see AppWrite).
func (s *Store) AppCommitWith(height uint64, w AppWrite) error {
	root, puts, deletes := w.Root, w.Puts, w.Deletes
	results, offs := encodeResults(w.Results)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	prev, committed := s.appHeight, s.height
	s.mu.RUnlock()
	if height != prev+1 || height > committed {
		return fmt.Errorf("%w: height %d after %d, committed %d", ErrAppOrder, height, prev, committed)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := appWrite(tx, puts, deletes); err != nil {
			return err
		}
		if err := tx.Bucket(bucketResults).Put(resultsKey(height), results); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyAppHeight, binary.BigEndian.AppendUint64(nil, height)); err != nil {
			return err
		}
		return meta.Put(keyAppRoot, root)
	})
	if err != nil {
		return fmt.Errorf("store: app commit: %w", err)
	}
	s.mu.Lock()
	s.appHeight, s.appRoot = height, bytes.Clone(root)
	s.mu.Unlock()
	if err := s.idx.add(height, w.Results, offs); err != nil {
		return fmt.Errorf("store: index height %d: %w", height, err)
	}
	return nil
}

// AppGenesis records root, the application's hash of its genesis state
// (InitChain's), as the executed state at height 0. It fails once a
// block is executed.
func (s *Store) AppGenesis(root []byte) error {
	if len(root) > maxRoot {
		return fmt.Errorf("store: genesis app hash of %d bytes, at most %d", len(root), maxRoot)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	h := s.appHeight
	s.mu.RUnlock()
	if h != 0 {
		return fmt.Errorf("%w: genesis app hash after height %d", ErrAppOrder, h)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyAppRoot, root) }); err != nil {
		return fmt.Errorf("store: app genesis: %w", err)
	}
	s.mu.Lock()
	s.appRoot = bytes.Clone(root)
	s.mu.Unlock()
	return nil
}

// AppState returns the height and state root of the last AppCommit (of
// AppGenesis before any).
func (s *Store) AppState() (height uint64, root []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.appHeight, s.appRoot
}

// AppGet returns the value of key in the application area, and whether
// it is there; a read error is an error, never "absent".
func (s *Store) AppGet(key string) ([]byte, bool, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if x := tx.Bucket(bucketApp).Get([]byte(key)); x != nil {
			v = append([]byte{}, x...) // x lives only as long as tx
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("store: app get %q: %w", key, err)
	}
	return v, v != nil, nil
}

func appWrite(tx *bolt.Tx, puts map[string][]byte, deletes []string) error {
	b := tx.Bucket(bucketApp)
	for _, k := range deletes {
		if k == "" {
			return errors.New("empty key")
		}
		if err := b.Delete([]byte(k)); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(puts))
	for k := range puts {
		keys = append(keys, k)
	}
	slices.Sort(keys) // in key order, which the B+tree prefers
	for _, k := range keys {
		if k == "" {
			return errors.New("empty key")
		}
		if err := b.Put([]byte(k), puts[k]); err != nil {
			return err
		}
	}
	return nil
}

// AppScan calls fn for every key of the application area that starts
// with prefix, in key order, within one read transaction: an application
// rebuilds what it derives from its whole state (its Merkle tree) at
// startup. key and value are valid only during the call. A read error,
// or fn's, stops the scan and is returned.
func (s *Store) AppScan(prefix string, fn func(key, value []byte) error) error {
	p := []byte(prefix)
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketApp).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: app scan %q: %w", prefix, err)
	}
	return nil
}
