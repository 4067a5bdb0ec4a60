package store

import (
	"bytes"
	"encoding/binary"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
)

// Fork collection. Persist stores every verified block whose parent is
// known, and a leader can sign any number of conflicting blocks for one
// round: one Byzantine leader re-signing 1 MiB variants wrote 518 MB to
// each honest node in 15 s, and nothing uncommitted was ever removed.
//
// A block at a committed height that is not the committed block there can
// never be committed (a committed block is never replaced), so it is
// garbage. Everything above the committed height is kept: the core
// reloads its uncommitted branch from storage after a restart, and peers
// fetch uncertified blocks by hash. Collection runs inside the commit's own
// write, sweeping the heights committed since the last sweep (recorded in
// meta, so an old store is cleaned progressively), at most
// maxSweepHeights heights and maxSweepBlocks deletions per write so that
// no commit ever pays for a whole history. Persist, for its part, never
// stores a block at or below the committed height: it could never be
// committed.

var keySwept = []byte("forks-swept") // meta: heights up to this one are swept

const (
	maxSweepHeights = 64
	maxSweepBlocks  = 4096
)

// forkStats counts what fork collection did, for metrics.
type forkStats struct {
	deleted      atomic.Uint64 // fork blocks deleted at committed heights
	deletedBytes atomic.Uint64
	refused      atomic.Uint64 // blocks at or below the committed height not stored
}

// ForkStats reports how many uncommittable blocks were deleted (count and
// encoded bytes) and how many were never stored, since Open.
func (s *Store) ForkStats() (deleted, deletedBytes, refused uint64) {
	return s.forks.deleted.Load(), s.forks.deletedBytes.Load(), s.forks.refused.Load()
}

// ForkSweptHeight returns the height up to which fork collection has run.
func (s *Store) ForkSweptHeight() uint64 {
	var h uint64
	_ = s.db.View(func(tx *bolt.Tx) error {
		var err error
		h, err = getU64(tx.Bucket(bucketMeta), keySwept)
		return err
	})
	return h
}

// collectForks deletes, in tx, the blocks at committed heights above the
// last sweep and up to tip that are not the committed block of their
// height, within the per-write bounds, and records how far it got. tx must
// already hold the committed index up to tip.
func (s *Store) collectForks(tx *bolt.Tx, tip uint64) error {
	meta := tx.Bucket(bucketMeta)
	swept, err := getU64(meta, keySwept)
	if err != nil || swept >= tip {
		return err
	}
	blocks, at, committed := tx.Bucket(bucketBlocks), tx.Bucket(bucketBlockAt), tx.Bucket(bucketCommitted)
	budget := maxSweepBlocks
	h := swept
	for h < tip && h-swept < maxSweepHeights {
		next := h + 1
		v := committed.Get(heightKey(next))
		if len(v) < len(chain.Hash{}) {
			break // not committed here (cannot happen below the tip): stop
		}
		keep := v[:len(chain.Hash{})]
		prefix := heightKey(next)
		var doomed [][]byte
		var sizes []int
		c := blocks.Cursor()
		for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
			if bytes.Equal(k[len(prefix):], keep) {
				continue
			}
			doomed = append(doomed, bytes.Clone(k))
			sizes = append(sizes, len(val))
		}
		done := len(doomed) <= budget
		if !done { // the rest of this height in the next write
			doomed = doomed[:budget]
		}
		// Deleted after the scan: deleting under a bbolt cursor can skip
		// the key that follows.
		var size uint64
		for i, k := range doomed {
			size += uint64(sizes[i])
			if err := blocks.Delete(k); err != nil {
				return err
			}
			if err := at.Delete(k[len(prefix):]); err != nil {
				return err
			}
		}
		budget -= len(doomed)
		s.forks.deleted.Add(uint64(len(doomed)))
		s.forks.deletedBytes.Add(size)
		if !done {
			break
		}
		h = next
	}
	if h == swept {
		return nil
	}
	return meta.Put(keySwept, binary.BigEndian.AppendUint64(nil, h))
}
