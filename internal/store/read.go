package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// SafetyState returns the last persisted safety state, or the zero state.
// It is served from memory and cannot fail. The result shares its QC and
// timeout with the store: treat it as read-only.
func (s *Store) SafetyState() consensus.SafetyState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.safety
}

// CommittedTip returns the highest committed block, or nil if only genesis
// is committed. It is served from memory and cannot fail; the block is
// shared with the store and must not be modified.
func (s *Store) CommittedTip() *chain.Block {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tip
}

// CommittedHeight returns the height of the committed tip (0: genesis).
func (s *Store) CommittedHeight() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.height
}

// CommittedBlock returns the block committed at height, its hash and the QC
// that certified it. ok is false above the tip, at height 0 (genesis is not
// stored), below EarliestHeight (pruned) and after a read error, which
// Err then reports.
func (s *Store) CommittedBlock(height uint64) (b *chain.Block, h chain.Hash, qc *chain.QC, ok bool) {
	if height == 0 || height > s.CommittedHeight() || height < s.EarliestHeight() {
		return nil, h, nil, false
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		b, h, qc, err = committedAt(tx, height)
		return err
	})
	if err != nil {
		s.noteReadErr(fmt.Errorf("store: read committed block: %w", err))
		return nil, chain.Hash{}, nil, false
	}
	return b, h, qc, true
}

// Block returns a stored block by hash. A read error reports the block as
// absent and is kept for Err.
func (s *Store) Block(h chain.Hash) (*chain.Block, bool) {
	var b *chain.Block
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketBlockAt).Get(h[:]) == nil {
			return nil
		}
		var err error
		b, err = blockAt(tx, h)
		return err
	})
	if err != nil {
		s.noteReadErr(fmt.Errorf("store: read block: %w", err))
		return nil, false
	}
	return b, b != nil
}
