package store

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// Persist durably writes new blocks and, if safety is not nil, the safety
// state, in one fsynced transaction. The runtime calls it with a Ready's
// Blocks and Safety before sending that Ready's messages. Blocks already
// stored are skipped. A safety state whose last voted round or high QC
// round is below the persisted one is refused with ErrSafetyRegression:
// writing it could let the validator sign twice in a round.
func (s *Store) Persist(blocks []*chain.Block, safety *consensus.SafetyState) error {
	if len(blocks) == 0 && safety == nil {
		return nil
	}
	type entry struct {
		hash   chain.Hash
		height uint64
		data   []byte
	}
	entries := make([]entry, len(blocks))
	for i, b := range blocks {
		data, err := wire.MarshalBlock(b)
		if err != nil {
			return fmt.Errorf("store: persist: %w", err)
		}
		entries[i] = entry{b.Hash(s.chainID), b.Height, data}
	}
	var safetyData []byte
	var next consensus.SafetyState
	if safety != nil {
		var err error
		if safetyData, err = wire.MarshalSafety(*safety); err != nil {
			return fmt.Errorf("store: persist: %w", err)
		}
		// Keep a private copy, exactly as a reopen would read it.
		if next, err = wire.UnmarshalSafety(safetyData); err != nil {
			return fmt.Errorf("store: persist: %w", err)
		}
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	if safety != nil {
		if err := checkSafetyOrder(s.SafetyState(), next); err != nil {
			return err
		}
	}
	committed := s.CommittedHeight()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, e := range entries {
			if e.height <= committed {
				// At or below the committed height: stored already if it
				// is the committed block, else it can never be committed.
				s.forks.refused.Add(1)
				continue
			}
			if err := putBlock(tx, e.height, e.hash, e.data); err != nil {
				return err
			}
		}
		if safetyData == nil {
			return nil
		}
		return tx.Bucket(bucketMeta).Put(keySafety, safetyData)
	})
	if err != nil {
		return fmt.Errorf("store: persist: %w", err)
	}
	if safety != nil {
		s.mu.Lock()
		s.safety = next
		s.mu.Unlock()
	}
	return nil
}

func checkSafetyOrder(old, next consensus.SafetyState) error {
	if next.LastVotedRound < old.LastVotedRound {
		return fmt.Errorf("%w: last voted round %d, persisted %d", ErrSafetyRegression, next.LastVotedRound, old.LastVotedRound)
	}
	if old.HighQC != nil && (next.HighQC == nil || next.HighQC.Round < old.HighQC.Round) {
		return fmt.Errorf("%w: high qc lower than the persisted one of round %d", ErrSafetyRegression, old.HighQC.Round)
	}
	return nil
}

// Commit extends the committed chain with cs, in height order, in one
// fsynced transaction: it stores each block (if absent), indexes it by
// height with the QC that certified it, and advances the tip. It refuses
// the whole batch, with ErrCommitOrder, if a commit's height is not the
// tip's plus one or its block's parent is not the committed block below it
// (genesis for height 1): a committed block is never lost or replaced. A
// commit must carry its block and a QC for that block's hash.
func (s *Store) Commit(cs []consensus.Commit) error {
	return s.commit(cs, nil)
}

// AppWrite is what executing a committed block changes in the
// application area (see AppCommit).
type AppWrite struct {
	Root    []byte // the application's hash of the state
	Puts    map[string][]byte
	Deletes []string
	// Results are the outcomes of the block's transactions, for the
	// transaction index (TxOutcome, TxHeights). A transaction appears
	// once in the whole ledger: the caller leaves out repeats.
	Results []TxOutcome
}

// CommitExecuted commits one block, as Commit does, together with the
// state its execution produced, as AppCommit does, in one durable write:
// one fsync where the two took two. The application must have executed
// every block below it.
func (s *Store) CommitExecuted(c consensus.Commit, w AppWrite) error {
	return s.commit([]consensus.Commit{c}, &w)
}

func (s *Store) commit(cs []consensus.Commit, app *AppWrite) error {
	if len(cs) == 0 {
		return nil
	}
	type entry struct {
		c     consensus.Commit
		index []byte // hash + QC
	}
	entries := make([]entry, len(cs))
	for i, c := range cs {
		if c.Block == nil || c.QC == nil {
			return fmt.Errorf("store: commit %d: block or qc missing", i)
		}
		if h := c.Block.Hash(s.chainID); h != c.Hash || c.QC.BlockHash != h {
			return fmt.Errorf("store: commit at height %d: hash %s, block hashes to %s, qc certifies %s",
				c.Block.Height, c.Hash.Short(), h.Short(), c.QC.BlockHash.Short())
		}
		qc, err := wire.MarshalQC(c.QC)
		if err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		index := append(append(make([]byte, 0, len(c.Hash)+len(qc)), c.Hash[:]...), qc...)
		entries[i] = entry{c: c, index: index}
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	height, parent := s.height, s.tipHash
	s.mu.RUnlock()
	if height == 0 {
		parent = s.genesis
	}
	for _, e := range entries {
		b := e.c.Block
		if b.Height != height+1 {
			return fmt.Errorf("%w: height %d after tip %d", ErrCommitOrder, b.Height, height)
		}
		if b.Parent != parent {
			return fmt.Errorf("%w: block at height %d has parent %s, committed block below is %s",
				ErrCommitOrder, b.Height, b.Parent.Short(), parent.Short())
		}
		height, parent = b.Height, e.c.Hash
	}
	s.mu.RLock()
	appHeight := s.appHeight
	s.mu.RUnlock()
	var results []byte
	var offs []uint32
	if app != nil {
		if height != appHeight+1 {
			return fmt.Errorf("%w: height %d after %d", ErrAppOrder, height, appHeight)
		}
		results, offs = encodeResults(app.Results)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		cb := tx.Bucket(bucketCommitted)
		for _, e := range entries {
			// Persist stored the block already, in the usual case.
			if tx.Bucket(bucketBlockAt).Get(e.c.Hash[:]) == nil {
				block, err := wire.MarshalBlock(e.c.Block)
				if err != nil {
					return err
				}
				if err := putBlock(tx, e.c.Block.Height, e.c.Hash, block); err != nil {
					return err
				}
			}
			if err := cb.Put(heightKey(e.c.Block.Height), e.index); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyTip, binary.BigEndian.AppendUint64(nil, height)); err != nil {
			return err
		}
		if err := s.collectForks(tx, height); err != nil {
			return err
		}
		if app == nil {
			return nil
		}
		if err := appWrite(tx, app.Puts, app.Deletes); err != nil {
			return err
		}
		if err := tx.Bucket(bucketResults).Put(resultsKey(height), results); err != nil {
			return err
		}
		if err := meta.Put(keyAppHeight, binary.BigEndian.AppendUint64(nil, height)); err != nil {
			return err
		}
		return meta.Put(keyAppRoot, app.Root)
	})
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	last := entries[len(entries)-1].c
	s.mu.Lock()
	s.height, s.tip, s.tipHash = height, last.Block, last.Hash
	if app != nil {
		s.appHeight, s.appRoot = height, bytes.Clone(app.Root)
	}
	s.mu.Unlock()
	if app != nil {
		if err := s.idx.add(height, app.Results, offs); err != nil {
			return fmt.Errorf("store: index height %d: %w", height, err)
		}
	}
	return nil
}
