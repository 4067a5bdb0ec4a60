package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
)

// Pruning deletes the oldest committed heights: their blocks (and any
// fork stored at the same height), their entries in the committed chain,
// their outcomes and their transactions' index entries. It goes in
// batches of at most MaxPruneHeights heights, each one bbolt transaction
// that also moves the earliest height in meta, so a crash leaves the
// store either before or after a whole batch. The index entries are
// deleted after that transaction, without fsync, like their writes: an
// entry left by a crash points below the earliest height and reads as
// pruned (ErrPruned), never as a wrong answer.
//
// bbolt never shrinks its file: the pages a batch frees go to its
// free list and the blocks committed next are written into them, so a
// node that keeps N blocks stops growing once it holds N (docs/operating.md
// has the measurement). Pebble gives its space back as it compacts.

// ErrPruned: the height asked for is below the earliest height this store
// keeps.
var ErrPruned = errors.New("store: pruned")

// MaxPruneHeights bounds one pruning batch, so that the write lock is held
// for a few milliseconds and commits are never stalled behind it.
const MaxPruneHeights = 64

var keyEarliest = []byte("earliest") // lowest committed height kept (absent: 1)

// EarliestHeight returns the lowest committed height the store keeps: 1
// unless it was pruned (or started from a snapshot).
func (s *Store) EarliestHeight() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return max(s.earliest, 1)
}

// PrunedError says that a height is no longer kept, and from where the
// store answers.
type PrunedError struct {
	Height, Earliest uint64
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("height %d is pruned: the earliest height kept is %d", e.Height, e.Earliest)
}

// Is makes errors.Is(err, ErrPruned) true.
func (e *PrunedError) Is(target error) bool { return target == ErrPruned }

// Pruned returns a *PrunedError if height is below the earliest height
// kept, else nil.
func (s *Store) Pruned(height uint64) error {
	if e := s.EarliestHeight(); height < e {
		return &PrunedError{Height: height, Earliest: e}
	}
	return nil
}

// Prune deletes at most MaxPruneHeights of the oldest committed heights
// below before, and returns how many it deleted (0 when nothing is left
// below before). The committed tip is never deleted: before is capped at
// the tip's height.
func (s *Store) Prune(before uint64) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	from := s.EarliestHeight()
	to := min(before, s.CommittedHeight(), from+MaxPruneHeights) // exclusive
	if to <= from {
		return 0, nil
	}
	var txs []chain.Hash
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if txs, err = pruneHeights(tx, from, to); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyEarliest, binary.BigEndian.AppendUint64(nil, to))
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune heights %d to %d: %w", from, to-1, err)
	}
	s.mu.Lock()
	s.earliest = to
	s.mu.Unlock()
	if err := s.idx.remove(txs); err != nil {
		return 0, fmt.Errorf("store: prune the index of heights %d to %d: %w", from, to-1, err)
	}
	s.idx.seen.dropBelow(to)
	return int(to - from), nil
}

// pruneHeights deletes heights [from, to) in tx and returns the hashes of
// their transactions.
func pruneHeights(tx *bolt.Tx, from, to uint64) ([]chain.Hash, error) {
	blocks, at := tx.Bucket(bucketBlocks), tx.Bucket(bucketBlockAt)
	c := blocks.Cursor()
	end := heightKey(to)
	var doomed [][]byte
	for k, _ := c.Seek(heightKey(from)); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	for _, k := range doomed {
		if len(k) != 8+len(chain.Hash{}) {
			return nil, fmt.Errorf("block key of %d bytes", len(k))
		}
		if err := at.Delete(k[8:]); err != nil {
			return nil, err
		}
		if err := blocks.Delete(k); err != nil {
			return nil, err
		}
	}
	var txs []chain.Hash
	committed, results := tx.Bucket(bucketCommitted), tx.Bucket(bucketResults)
	for h := from; h < to; h++ {
		err := forEachResult(results.Get(resultsKey(h)), func(r TxOutcome, _ uint32) {
			txs = append(txs, r.Hash)
		})
		if err != nil {
			return nil, fmt.Errorf("results of height %d: %w", h, err)
		}
		if err := results.Delete(resultsKey(h)); err != nil {
			return nil, err
		}
		if err := committed.Delete(heightKey(h)); err != nil {
			return nil, err
		}
	}
	return txs, nil
}

// remove deletes index entries, in one batch without fsync (see Prune).
func (x *txIndex) remove(hs []chain.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	b := x.db.NewBatch()
	defer b.Close()
	for _, h := range hs {
		if err := b.Delete(h[:], nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

// DiskStats says how the store's file is used: its size, and the bytes on
// its free list, which new writes fill before the file grows.
type DiskStats struct {
	FileBytes int64
	FreeBytes int64
}

// Disk returns the file's size and free bytes.
func (s *Store) Disk() DiskStats {
	st := s.db.Stats()
	var size int64
	_ = s.db.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		return nil
	})
	return DiskStats{FileBytes: size, FreeBytes: int64(st.FreePageN+st.PendingPageN) * int64(s.db.Info().PageSize)}
}
