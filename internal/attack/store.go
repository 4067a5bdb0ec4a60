package attack

import (
	"sync"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// memStore is the attacker's storage: memory only, since the attacker does
// not care about its own crash safety.
type memStore struct {
	chainID string

	mu        sync.Mutex
	safety    consensus.SafetyState
	blocks    map[chain.Hash]*chain.Block
	committed []chain.Hash // committed[h-1] is the block at height h
	certs     []*chain.QC
	tip       *chain.Block
}

var _ consensus.Storage = (*memStore)(nil)

func newMemStore(chainID string) *memStore {
	return &memStore{chainID: chainID, blocks: make(map[chain.Hash]*chain.Block)}
}

func (s *memStore) SafetyState() consensus.SafetyState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.safety
}

func (s *memStore) CommittedTip() *chain.Block {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tip
}

func (s *memStore) Block(h chain.Hash) (*chain.Block, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blocks[h]
	return b, ok
}

func (s *memStore) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == 0 || h > uint64(len(s.committed)) {
		return nil, chain.Hash{}, nil, false
	}
	return s.blocks[s.committed[h-1]], s.committed[h-1], s.certs[h-1], true
}

// apply records what a Ready asks to persist and commit.
func (s *memStore) apply(r *consensus.Ready) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range r.Blocks {
		s.blocks[b.Hash(s.chainID)] = b
	}
	if r.Safety != nil {
		s.safety = *r.Safety
	}
	for _, c := range r.Committed {
		if c.Block.Height != uint64(len(s.committed))+1 {
			continue // cannot happen with an honest core; keep the index dense
		}
		s.blocks[c.Hash] = c.Block
		s.committed = append(s.committed, c.Hash)
		s.certs = append(s.certs, c.QC)
		s.tip = c.Block
	}
}
