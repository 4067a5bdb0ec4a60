package light

import (
	"path/filepath"
	"testing"

	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/store"
)

var _ BlockSource = (*store.Store)(nil)

// The certificate a real store yields verifies: the store keeps, with each
// committed block, the QC that certified it, which is what Build needs.
func TestBuildFromStore(t *testing.T) {
	n := healthy(t)
	s, err := store.Open(filepath.Join(t.TempDir(), "strategos.db"), testChain, n.genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cs []consensus.Commit
	for i, b := range n.blocks {
		cs = append(cs, consensus.Commit{Block: b, Hash: n.hashes[i], QC: n.qcs[i]})
	}
	if err := s.Commit(cs); err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= 7; h++ {
		c, err := Build(s, testChain, h)
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if _, err := Verify(testChain, n.vals, h, c); err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
	}
}
