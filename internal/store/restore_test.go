package store

import (
	"errors"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// A store restored from a snapshot starts at its height: the restored
// blocks are committed and kept from the first of them, the application
// state is there, the chain goes on above it, and all of it survives a
// reopen. A store that holds anything is refused, and so is a broken
// chain.
func TestRestore(t *testing.T) {
	all := chainOf(61)
	blocks, next := all[49:60], all[60] // heights 50..60, then 61
	qc := next.QC
	safety := consensus.SafetyState{LastVotedRound: 99, HighQC: qc}
	app := AppWrite{Root: []byte("root at 60"), Puts: map[string][]byte{"kv/a": []byte("1")}}

	s, path := openTemp(t)
	if err := s.Restore(append([]*chain.Block{all[10]}, blocks[1:]...), qc, app, safety); err == nil {
		t.Fatal("restored a chain with a gap")
	}
	if err := s.Restore(blocks, commitOf(all[58]).QC, app, safety); err == nil {
		t.Fatal("restored a chain certified at another block")
	}
	if err := s.Restore(blocks, qc, app, safety); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store, what string) {
		t.Helper()
		if s.CommittedHeight() != 60 || s.EarliestHeight() != 50 || s.SafetyState().LastVotedRound != 99 {
			t.Fatalf("%s: tip %d, earliest %d, voted %d", what, s.CommittedHeight(), s.EarliestHeight(), s.SafetyState().LastVotedRound)
		}
		if h, root := s.AppState(); h != 60 || string(root) != "root at 60" {
			t.Fatalf("%s: app at %d, root %q", what, h, root)
		}
		if v, ok, err := s.AppGet("kv/a"); !ok || err != nil || string(v) != "1" {
			t.Fatalf("%s: app state %q %v %v", what, v, ok, err)
		}
		if err := checkChain(s); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	check(s, "restored")
	if err := s.Restore(blocks, qc, app, safety); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restored twice: %v", err)
	}
	s = reopen(t, s, path)
	check(s, "reopened")
	if err := s.CommitExecuted(commitOf(next), AppWrite{Root: []byte("61")}); err != nil {
		t.Fatalf("the chain does not go on above the snapshot: %v", err)
	}
}
