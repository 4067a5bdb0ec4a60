package store

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/strategos/strategos/internal/chain"
)

// seenFilter is a Bloom filter over the hashes of committed transactions,
// in front of the Pebble index: nearly every lookup (each admission, each
// transaction of each block executed) is of a transaction never
// committed, and the filter answers those from memory. Measured here, a
// Pebble lookup of an absent key took 2 to 17 microseconds as the index
// grew, ten thousand of them per block; the filter takes well under one.
// A "maybe" goes to the index, which has the truth.
//
// It grows in segments of segmentKeys hashes at 16 bits per hash (about
// 0.05% false positives), so its size follows the ledger at 2 bytes per
// committed transaction. Transaction hashes are SHA-256 values, uniformly
// distributed, so the probe positions are read from the hash itself. Safe
// for concurrent use.
type seenFilter struct {
	mu       sync.RWMutex
	segments []*bloomSegment
}

const (
	segmentKeys  = 1 << 20
	segmentBits  = 16 * segmentKeys
	bloomProbes  = 8
	segmentWords = segmentBits / 64
)

type bloomSegment struct {
	words [segmentWords]atomic.Uint64
	n     atomic.Int64
	top   atomic.Uint64 // the highest height of a hash added
}

// probe returns the i-th bit position of h: 24 bits from the hash, so
// the 8 probes use 24 of its 32 bytes.
func probe(h *chain.Hash, i int) uint32 {
	return binary.LittleEndian.Uint32(h[3*i:]) & (segmentBits - 1)
}

func (f *seenFilter) add(h chain.Hash, height uint64) {
	f.mu.RLock()
	var s *bloomSegment
	if k := len(f.segments); k > 0 && f.segments[k-1].n.Load() < segmentKeys {
		s = f.segments[k-1]
	}
	f.mu.RUnlock()
	if s == nil {
		f.mu.Lock()
		if k := len(f.segments); k > 0 && f.segments[k-1].n.Load() < segmentKeys {
			s = f.segments[k-1]
		} else {
			s = new(bloomSegment)
			f.segments = append(f.segments, s)
		}
		f.mu.Unlock()
	}
	for i := range bloomProbes {
		p := probe(&h, i)
		s.words[p/64].Or(1 << (p % 64))
	}
	s.n.Add(1)
	for {
		top := s.top.Load()
		if height <= top || s.top.CompareAndSwap(top, height) {
			break
		}
	}
}

// dropBelow forgets the full segments whose hashes all committed below
// height (pruned), so that the filter follows the retained ledger, not
// the whole one. A dropped hash answers "never committed", which is what
// a pruned index says of it too.
func (f *seenFilter) dropBelow(height uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.segments[:0]
	for _, s := range f.segments {
		if s.n.Load() >= segmentKeys && s.top.Load() < height {
			continue
		}
		kept = append(kept, s)
	}
	clear(f.segments[len(kept):])
	f.segments = kept
}

// mayHave reports false only if h was never added.
func (f *seenFilter) mayHave(h chain.Hash) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
next:
	for _, s := range f.segments {
		for i := range bloomProbes {
			p := probe(&h, i)
			if s.words[p/64].Load()&(1<<(p%64)) == 0 {
				continue next
			}
		}
		return true
	}
	return false
}
