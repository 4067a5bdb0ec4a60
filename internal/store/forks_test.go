package store

import (
	"bytes"
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// variant returns a block conflicting with b: same parent and height,
// another round and payload of size bytes.
func variant(parent *chain.Block, round uint64, size int) *chain.Block {
	b := child(parent, round, 0)
	b.Payload = [][]byte{bytes.Repeat([]byte{byte(round)}, size)}
	return b
}

func storedBlocks(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketBlocks).Stats().KeyN
		if m := tx.Bucket(bucketBlockAt).Stats().KeyN; m != n {
			t.Errorf("%d blocks but %d hash entries", n, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCommitCollectsForks(t *testing.T) {
	s, path := openTemp(t)
	b1 := child(nil, 1, 1)
	b2 := child(b1, 2, 1)
	forks := []*chain.Block{variant(b1, 3, 100), variant(b1, 4, 100), variant(nil, 5, 100)}
	b3 := child(b2, 6, 1)  // above the committed height: kept
	b3f := child(b2, 7, 2) // a competitor above it: kept too
	if err := s.Persist(append([]*chain.Block{b1, b2, b3, b3f}, forks...), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]consensus.Commit{commitOf(b1), commitOf(b2)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range forks {
		if _, ok := s.Block(f.Hash(testChain)); ok {
			t.Errorf("fork at height %d round %d still stored after its height committed", f.Height, f.Round)
		}
	}
	for _, b := range []*chain.Block{b1, b2, b3, b3f} {
		if _, ok := s.Block(b.Hash(testChain)); !ok {
			t.Errorf("block at height %d round %d lost", b.Height, b.Round)
		}
	}
	// A conflicting block that arrives late, at a committed height, is
	// never stored.
	late := variant(b1, 9, 100)
	if err := s.Persist([]*chain.Block{late}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Block(late.Hash(testChain)); ok {
		t.Error("a block at a committed height was stored")
	}
	if got := storedBlocks(t, s); got != 4 {
		t.Errorf("%d blocks stored, want 4 (two committed, two above)", got)
	}
	s = reopen(t, s, path)
	if err := s.Commit([]consensus.Commit{commitOf(b3)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Block(b3f.Hash(testChain)); ok {
		t.Error("the competitor of a committed block is still stored after a reopen and commit")
	}
	if d, _, r := s.ForkStats(); d != 1 || r != 0 {
		t.Errorf("since reopen: %d deleted, %d refused; want 1 and 0", d, r)
	}
}

// TestForkSweepIsBounded: a write collects at most maxSweepHeights
// heights, and later writes finish the job.
func TestForkSweepIsBounded(t *testing.T) {
	s, _ := openTemp(t)
	blocks := chainOf(3*maxSweepHeights + 1)
	var persist []*chain.Block
	var commits []consensus.Commit
	var parent *chain.Block
	for i, b := range blocks {
		persist = append(persist, b, variant(parent, uint64(1000+i), 10))
		parent = b
		commits = append(commits, commitOf(b))
	}
	if err := s.Persist(persist, nil); err != nil {
		t.Fatal(err)
	}
	last := len(commits) - 1
	if err := s.Commit(commits[:last]); err != nil {
		t.Fatal(err)
	}
	if got := s.ForkSweptHeight(); got != maxSweepHeights {
		t.Fatalf("one write swept to height %d, want %d", got, maxSweepHeights)
	}
	if err := s.Commit(commits[last:]); err != nil {
		t.Fatal(err)
	}
	if got := s.ForkSweptHeight(); got != 2*maxSweepHeights {
		t.Fatalf("two writes swept to height %d, want %d", got, 2*maxSweepHeights)
	}
	// Further commits finish the sweep.
	tip := blocks[last]
	for range 2 {
		tip = child(tip, tip.Round+1, 0)
		if err := s.Persist([]*chain.Block{tip}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit([]consensus.Commit{commitOf(tip)}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := storedBlocks(t, s), len(blocks)+2; got != want {
		t.Errorf("%d blocks stored, want only the %d committed", got, want)
	}
}

// TestConflictingVariantsDoNotFillTheDisk: a leader signing many large
// variants at each height leaves the file no larger than a few heights'
// worth of them.
func TestConflictingVariantsDoNotFillTheDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25 MB")
	}
	s, path := openTemp(t)
	const heights, variants, size = 100, 8, 32 << 10
	var parent *chain.Block
	for h := range heights {
		var batch []*chain.Block
		for v := range variants {
			batch = append(batch, variant(parent, uint64(h*variants+v+1), size))
		}
		if err := s.Persist(batch, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit([]consensus.Commit{commitOf(batch[0])}); err != nil {
			t.Fatal(err)
		}
		parent = batch[0]
	}
	if got := storedBlocks(t, s); got != heights {
		t.Errorf("%d blocks stored, want %d", got, heights)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Written: 25 MiB of variants; kept: 3.2 MiB of committed blocks.
	if limit := int64(12 << 20); fi.Size() > limit {
		t.Errorf("store file is %d bytes after %d MiB of conflicting variants, want under %d", fi.Size(), heights*variants*size>>20, limit)
	}
}
