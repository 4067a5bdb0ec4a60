package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// commitWithOutcomes commits n blocks above the tip, each with txs
// outcomes, and returns them with their outcomes.
func commitWithOutcomes(t *testing.T, s *Store, n, txs, size int) ([]*chain.Block, [][]TxOutcome) {
	t.Helper()
	var blocks []*chain.Block
	var all [][]TxOutcome
	parent := s.CommittedTip()
	for range n {
		b := child(parent, uint64(s.CommittedHeight()+1), 0)
		b.Payload = [][]byte{bytes.Repeat([]byte{byte(b.Height)}, size)}
		rs := outcomes(int(b.Height), txs)
		if err := s.CommitExecuted(commitOf(b), AppWrite{Root: []byte{byte(b.Height)}, Results: rs}); err != nil {
			t.Fatal(err)
		}
		blocks, all, parent = append(blocks, b), append(all, rs), b
	}
	return blocks, all
}

// Pruning deletes whole heights, oldest first, in bounded batches: their
// blocks, committed entries, outcomes and index entries. What is kept
// reads as before, what is pruned reads as absent (not as a read error),
// and the earliest height survives a reopen. The tip is never pruned.
func TestPrune(t *testing.T) {
	s, path := openTemp(t)
	blocks, all := commitWithOutcomes(t, s, 150, 10, 100)
	above := child(blocks[len(blocks)-1], 151, 1)
	if err := s.Persist([]*chain.Block{above}, nil); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(101)
	if err != nil || n != MaxPruneHeights {
		t.Fatalf("first batch pruned %d heights (%v), want %d", n, err, MaxPruneHeights)
	}
	for n > 0 {
		if n, err = s.Prune(101); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store, what string) {
		t.Helper()
		if e := s.EarliestHeight(); e != 101 {
			t.Fatalf("%s: earliest height %d, want 101", what, e)
		}
		if _, _, _, ok := s.CommittedBlock(100); ok {
			t.Fatalf("%s: height 100 served after pruning", what)
		}
		if _, ok := s.Block(blocks[99].Hash(testChain)); ok {
			t.Fatalf("%s: block 100 found by hash after pruning", what)
		}
		if b, _, _, ok := s.CommittedBlock(101); !ok || b.Height != 101 {
			t.Fatalf("%s: height 101 not served", what)
		}
		if _, ok := s.Block(above.Hash(testChain)); !ok {
			t.Fatalf("%s: the block above the tip was pruned", what)
		}
		if _, _, ok, err := s.TxOutcome(all[99][0].Hash); ok || err != nil {
			t.Fatalf("%s: a pruned outcome: found %v, err %v", what, ok, err)
		}
		if r, h, ok, err := s.TxOutcome(all[100][3].Hash); !ok || err != nil || h != 101 || r != all[100][3] {
			t.Fatalf("%s: a kept outcome: %+v at %d, %v, %v", what, r, h, ok, err)
		}
		if err := checkChain(s); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := storedBlocks(t, s); got != 51 {
			t.Fatalf("%s: %d blocks stored, want 50 committed and 1 above", what, got)
		}
		if err := s.Err(); err != nil {
			t.Fatalf("%s: a read error: %v", what, err)
		}
		if err := s.Pruned(100); !errors.Is(err, ErrPruned) {
			t.Fatalf("%s: Pruned(100) = %v", what, err)
		}
		var pe *PrunedError
		if err := s.Pruned(100); !errors.As(err, &pe) || pe.Earliest != 101 {
			t.Fatalf("%s: Pruned(100) = %v, want the earliest height", what, err)
		}
	}
	check(s, "pruned")
	s = reopen(t, s, path)
	check(s, "reopened")
	for n := 1; n > 0; {
		if n, err = s.Prune(1 << 40); err != nil {
			t.Fatal(err)
		}
	}
	if e, tip := s.EarliestHeight(), s.CommittedHeight(); e != tip {
		t.Fatalf("pruning everything left earliest %d at tip %d, want the tip kept", e, tip)
	}
	if b, _, _, ok := s.CommittedBlock(150); !ok || b.Height != 150 {
		t.Fatal("the tip was pruned")
	}
}

// With pruning, the file stops growing once it holds the retained
// heights: bbolt writes new blocks into the pages old ones freed. (It
// takes a few times the retained heights to get there: pages freed by one
// write are reusable from the next but one.) Without pruning, the same
// load grows the file by half at least (the test checks that too, so that
// it would notice a load too small to tell).
func TestPruneKeepsFileFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few hundred blocks")
	}
	const retain, size = 40, 64 << 10
	run := func(prune bool) (atRetain, atEnd int64) {
		s, path := openTemp(t)
		for i := range 8 * retain {
			commitWithOutcomes(t, s, 1, 20, size)
			if prune {
				for n := 1; n > 0; {
					var err error
					if n, err = s.Prune(s.CommittedHeight() + 1 - retain); err != nil {
						t.Fatal(err)
					}
				}
			}
			if i == 4*retain {
				atRetain = fileSize(t, path)
			}
		}
		return atRetain, fileSize(t, path)
	}
	first, last := run(true)
	t.Logf("pruned: %d bytes after %d blocks, %d after %d", first, 4*retain, last, 8*retain)
	if last > first+first/5 {
		t.Errorf("pruned store grew from %d to %d bytes", first, last)
	}
	first, last = run(false)
	t.Logf("unpruned: %d bytes after %d blocks, %d after %d", first, 4*retain, last, 8*retain)
	if last < first+first/2 {
		t.Errorf("unpruned store grew only from %d to %d bytes: the load shows nothing", first, last)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// The Bloom filter forgets segments whose hashes all committed below the
// earliest height, and keeps those that still hold a kept one.
func TestSeenFilterDropsPruned(t *testing.T) {
	var f seenFilter
	hash := func(i int) chain.Hash { return chain.TxHash(binary.BigEndian.AppendUint64(nil, uint64(i))) }
	for i := range uint64(2*segmentKeys + 10) {
		f.add(hash(int(i)), 1+i/segmentKeys*100) // heights 1, 101, 201
	}
	if len(f.segments) != 3 {
		t.Fatalf("%d segments, want 3", len(f.segments))
	}
	f.dropBelow(101)
	if len(f.segments) != 2 || !f.mayHave(hash(segmentKeys)) || !f.mayHave(hash(2*segmentKeys+1)) {
		t.Fatalf("after dropping below 101: %d segments", len(f.segments))
	}
	f.dropBelow(1000)
	if len(f.segments) != 1 || !f.mayHave(hash(2*segmentKeys+1)) {
		t.Fatalf("the last segment, not full, must stay: %d segments", len(f.segments))
	}
}

// A store whose file is mostly free after pruning is compacted when it
// opens: the file shrinks, everything kept reads as before, and a copy a
// crash left behind is ignored and removed.
func TestOpenCompactsSparseFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 100 MiB store")
	}
	s, path := openTemp(t)
	commitWithOutcomes(t, s, 100, 10, 1<<20)
	for n := 1; n > 0; {
		var err error
		if n, err = s.Prune(95); err != nil {
			t.Fatal(err)
		}
	}
	big := fileSize(t, path)
	if err := os.WriteFile(compactPath(path), []byte("torn copy"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	before, after := s.Compacted()
	small := fileSize(t, path)
	t.Logf("file %d bytes before, %d after (Compacted: %d, %d)", big, small, before, after)
	if before != big || after != small || small > big/4 {
		t.Fatalf("file %d bytes, then %d: not compacted", big, small)
	}
	if _, err := os.Stat(compactPath(path)); !os.IsNotExist(err) {
		t.Fatalf("the leftover copy is still there: %v", err)
	}
	if s.EarliestHeight() != 95 || s.CommittedHeight() != 100 {
		t.Fatalf("earliest %d, tip %d after compaction", s.EarliestHeight(), s.CommittedHeight())
	}
	if err := checkChain(s); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, path)
	if b, a := s.Compacted(); b != a {
		t.Fatalf("compacted again: %d to %d", b, a)
	}
}
