package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// ErrNotEmpty: Restore on a store that already holds a chain.
var ErrNotEmpty = errors.New("store: not empty")

// Restore starts an empty store at a height, from a snapshot (state
// sync), in one fsynced transaction: blocks are the committed blocks that
// end at the snapshot's height, lowest first, each certified by the QC
// its successor carries and the last by qc; app is the application's
// state at the last height (Root, Puts; no results); safety is the
// safety state to start with. The earliest height kept is then the first
// block's. It refuses a store that holds anything committed, executed or
// signed (ErrNotEmpty), and blocks that do not form a certified chain.
// The caller has checked that chain against a commit certificate.
func (s *Store) Restore(blocks []*chain.Block, qc *chain.QC, app AppWrite, safety consensus.SafetyState) error {
	if len(blocks) == 0 || qc == nil {
		return errors.New("store: restore: no blocks or no certificate")
	}
	hashes, data, err := s.restoredChain(blocks, qc)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	safetyData, err := wire.MarshalSafety(safety)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.CommittedHeight() != 0 || s.appHeight != 0 || s.SafetyState().LastVotedRound != 0 {
		return fmt.Errorf("%w: committed height %d, executed %d", ErrNotEmpty, s.CommittedHeight(), s.appHeight)
	}
	first, last := blocks[0].Height, blocks[len(blocks)-1]
	err = s.db.Update(func(tx *bolt.Tx) error {
		for i, b := range blocks {
			if err := putBlock(tx, b.Height, hashes[i], data[i]); err != nil {
				return err
			}
			cert := qc
			if i+1 < len(blocks) {
				cert = blocks[i+1].QC
			}
			q, err := wire.MarshalQC(cert)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketCommitted).Put(heightKey(b.Height), append(bytes.Clone(hashes[i][:]), q...)); err != nil {
				return err
			}
		}
		if err := appWrite(tx, app.Puts, nil); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		for k, v := range map[string][]byte{
			string(keyTip): heightKey(last.Height), string(keyAppHeight): heightKey(last.Height),
			string(keyEarliest): heightKey(first), string(keyAppRoot): app.Root, string(keySafety): safetyData,
		} {
			if err := meta.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	s.mu.Lock()
	s.height, s.tip, s.tipHash = last.Height, last, hashes[len(hashes)-1]
	s.appHeight, s.appRoot, s.earliest = last.Height, bytes.Clone(app.Root), first
	s.safety, _ = wire.UnmarshalSafety(safetyData)
	s.mu.Unlock()
	// Nothing below the snapshot is indexed: the index starts above it.
	if err := s.idx.add(last.Height, nil, nil); err != nil {
		return fmt.Errorf("store: restore: index: %w", err)
	}
	return nil
}

// restoredChain checks that blocks form a chain, certified link by link
// and at its end by qc, and returns their hashes and encodings.
func (s *Store) restoredChain(blocks []*chain.Block, qc *chain.QC) ([]chain.Hash, [][]byte, error) {
	hashes := make([]chain.Hash, len(blocks))
	data := make([][]byte, len(blocks))
	for i, b := range blocks {
		hashes[i] = b.Hash(s.chainID)
		var err error
		if data[i], err = wire.MarshalBlock(b); err != nil {
			return nil, nil, err
		}
		if i == 0 {
			continue
		}
		if b.Height != blocks[i-1].Height+1 || b.Parent != hashes[i-1] || b.QC == nil || b.QC.BlockHash != hashes[i-1] {
			return nil, nil, fmt.Errorf("block at height %d does not extend the one below", b.Height)
		}
	}
	if qc.BlockHash != hashes[len(hashes)-1] {
		return nil, nil, errors.New("the certificate is for another block")
	}
	if blocks[0].Height == 0 {
		return nil, nil, errors.New("genesis is not restored")
	}
	return hashes, data, nil
}
