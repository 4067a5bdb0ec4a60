package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

const testChain = "test-chain"

var testGenesis = chain.Hash{0xee, 31: 0xee}

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "strategos.db")
	s, err := Open(path, testChain, testGenesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func reopen(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, testChain, testGenesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// child returns a block extending parent (nil: genesis) with a QC for it.
func child(parent *chain.Block, round uint64, txs int) *chain.Block {
	b := &chain.Block{Round: round, Parent: testGenesis, QC: chain.GenesisQC(testGenesis), Time: int64(round)}
	if parent != nil {
		ph := parent.Hash(testChain)
		b.Height, b.Parent = parent.Height+1, ph
		b.QC = &chain.QC{Round: parent.Round, BlockHash: ph, Votes: []chain.Signature{{Signer: 1, Sig: bytes.Repeat([]byte{1}, 64)}}}
	} else {
		b.Height = 1
	}
	for i := range txs {
		b.Payload = append(b.Payload, fmt.Appendf(nil, "tx %d in round %d", i, round))
	}
	return b
}

// commitOf returns the commit of b, certified in round+1.
func commitOf(b *chain.Block) consensus.Commit {
	h := b.Hash(testChain)
	return consensus.Commit{Block: b, Hash: h, QC: &chain.QC{Round: b.Round, BlockHash: h, Votes: []chain.Signature{{Signer: 2, Sig: []byte("qc")}}}}
}

// chainOf returns n blocks extending genesis.
func chainOf(n int) []*chain.Block {
	var out []*chain.Block
	var parent *chain.Block
	for i := range n {
		parent = child(parent, uint64(i+1), 2)
		out = append(out, parent)
	}
	return out
}

func TestEmptyStore(t *testing.T) {
	s, path := openTemp(t)
	for i := range 2 {
		if i == 1 {
			s = reopen(t, s, path)
		}
		if st := s.SafetyState(); !reflect.DeepEqual(st, consensus.SafetyState{}) {
			t.Fatalf("safety %+v", st)
		}
		if s.CommittedTip() != nil || s.CommittedHeight() != 0 {
			t.Fatal("tip in an empty store")
		}
		if _, _, _, ok := s.CommittedBlock(0); ok {
			t.Fatal("genesis is stored")
		}
		if _, ok := s.Block(testGenesis); ok {
			t.Fatal("found a block")
		}
		if h, r := s.AppState(); h != 0 || len(r) != 0 {
			t.Fatal("app state")
		}
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
	}
}

func TestPersistReopen(t *testing.T) {
	s, path := openTemp(t)
	blocks := chainOf(3)
	qc := commitOf(blocks[2]).QC
	safety := &consensus.SafetyState{
		LastVotedRound: 5,
		HighQC:         qc,
		LastTimeout:    &chain.Timeout{Round: 5, HighQC: qc, Voter: 1, Sig: []byte("timeout sig"), LastTC: &chain.TC{Round: 4, HighQC: qc, Timeouts: []chain.TimeoutSig{{Signer: 2, HighQCRound: 3, Sig: []byte("s")}}}},
	}
	if err := s.Persist(blocks[:2], nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Persist(blocks[1:], safety); err != nil { // blocks[1] again: skipped
		t.Fatal(err)
	}
	if err := s.Persist(nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if i == 1 {
			s = reopen(t, s, path)
		}
		if got := s.SafetyState(); !reflect.DeepEqual(&got, safety) {
			t.Fatalf("store %d: safety %+v, want %+v", i, got, safety)
		}
		for _, b := range blocks {
			got, ok := s.Block(b.Hash(testChain))
			if !ok || !reflect.DeepEqual(got, b) {
				t.Fatalf("store %d: block at height %d: %+v, %v", i, b.Height, got, ok)
			}
		}
		if s.CommittedHeight() != 0 {
			t.Fatal("persisting committed something")
		}
	}
}

func TestPersistRefusesSafetyRegression(t *testing.T) {
	s, _ := openTemp(t)
	qc := &chain.QC{Round: 4, BlockHash: chain.Hash{4}}
	if err := s.Persist(nil, &consensus.SafetyState{LastVotedRound: 6, HighQC: qc}); err != nil {
		t.Fatal(err)
	}
	for i, bad := range []consensus.SafetyState{
		{LastVotedRound: 5, HighQC: qc},
		{LastVotedRound: 7},
		{LastVotedRound: 7, HighQC: &chain.QC{Round: 3}},
	} {
		if err := s.Persist(nil, &bad); !errors.Is(err, ErrSafetyRegression) {
			t.Errorf("case %d: got %v", i, err)
		}
	}
	if err := s.Persist(nil, &consensus.SafetyState{LastVotedRound: 6, HighQC: qc}); err != nil {
		t.Fatalf("the same state again: %v", err)
	}
	if err := s.Persist(nil, &consensus.SafetyState{LastVotedRound: 5, HighQC: &chain.QC{Round: 3, Votes: []chain.Signature{{Sig: make([]byte, 65)}}}}); err == nil {
		t.Fatal("accepted a malformed safety state")
	}
	if got := s.SafetyState(); got.LastVotedRound != 6 || got.HighQC.Round != 4 {
		t.Fatalf("refused write changed the state: %+v", got)
	}
}

func TestCommitReopen(t *testing.T) {
	s, path := openTemp(t)
	blocks := chainOf(5)
	if err := s.Persist(blocks[:1], nil); err != nil { // block 1 already present
		t.Fatal(err)
	}
	if err := s.Commit([]consensus.Commit{commitOf(blocks[0]), commitOf(blocks[1])}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]consensus.Commit{commitOf(blocks[2])}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if i == 1 {
			s = reopen(t, s, path)
		}
		if s.CommittedHeight() != 3 || !reflect.DeepEqual(s.CommittedTip(), blocks[2]) {
			t.Fatalf("store %d: tip %d %+v", i, s.CommittedHeight(), s.CommittedTip())
		}
		for _, b := range blocks[:3] {
			want := commitOf(b)
			got, h, qc, ok := s.CommittedBlock(b.Height)
			if !ok || h != want.Hash || !reflect.DeepEqual(got, b) || !reflect.DeepEqual(qc, want.QC) {
				t.Fatalf("store %d: height %d: %+v %s %+v %v", i, b.Height, got, h.Short(), qc, ok)
			}
			if got, ok := s.Block(h); !ok || !reflect.DeepEqual(got, b) {
				t.Fatalf("store %d: block %d by hash", i, b.Height)
			}
		}
		if _, _, _, ok := s.CommittedBlock(4); ok {
			t.Fatalf("store %d: block above the tip", i)
		}
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
	}
}

func TestCommitOrder(t *testing.T) {
	blocks := chainOf(4)
	fork := child(blocks[0], 9, 1) // height 2, another parent than blocks[1]'s sibling
	fork.Parent = chain.Hash{9}
	orphan := child(nil, 7, 1) // height 1, a second child of genesis
	tests := []struct {
		name    string
		commits []consensus.Commit
	}{
		{"skips height 2", []consensus.Commit{commitOf(blocks[2])}},
		{"re-commits height 1", []consensus.Commit{commitOf(blocks[0])}},
		{"replaces height 1", []consensus.Commit{commitOf(orphan)}},
		{"wrong parent", []consensus.Commit{commitOf(fork)}},
		{"gap inside the batch", []consensus.Commit{commitOf(blocks[1]), commitOf(blocks[3])}},
		{"out of order", []consensus.Commit{commitOf(blocks[2]), commitOf(blocks[1])}},
	}
	for _, tt := range tests {
		s, _ := openTemp(t)
		if err := s.Commit([]consensus.Commit{commitOf(blocks[0])}); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(tt.commits); !errors.Is(err, ErrCommitOrder) {
			t.Errorf("%s: got %v", tt.name, err)
		}
		if s.CommittedHeight() != 1 {
			t.Errorf("%s: tip moved to %d", tt.name, s.CommittedHeight())
		}
	}

	s, _ := openTemp(t)
	if err := s.Commit([]consensus.Commit{commitOf(child(&chain.Block{Height: 0, Round: 0}, 1, 1))}); !errors.Is(err, ErrCommitOrder) {
		t.Errorf("height 1 on a foreign genesis: got %v", err)
	}
	bad := commitOf(blocks[0])
	bad.Hash[0] ^= 1
	wrongQC := commitOf(blocks[0])
	wrongQC.QC = &chain.QC{BlockHash: chain.Hash{1}}
	for name, c := range map[string]consensus.Commit{
		"wrong hash": bad, "qc for another block": wrongQC, "no qc": {Block: blocks[0], Hash: bad.Hash}, "no block": {},
	} {
		if err := s.Commit([]consensus.Commit{c}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOpenRefusesOtherChain(t *testing.T) {
	s, path := openTemp(t)
	s.Close()
	if _, err := Open(path, "other-chain", testGenesis); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("other chain id: %v", err)
	}
	if _, err := Open(path, testChain, chain.Hash{1}); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("other genesis: %v", err)
	}
}

func TestOpenLockedFails(t *testing.T) {
	_, path := openTemp(t)
	if s, err := Open(path, testChain, testGenesis); err == nil {
		s.Close()
		t.Fatal("opened a file held by another Store")
	}
}

func TestApp(t *testing.T) {
	s, path := openTemp(t)
	if err := s.AppPut(map[string][]byte{"a": []byte("1"), "b": []byte("2"), "empty": {}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AppCommit(1, []byte{1}, nil, nil); !errors.Is(err, ErrAppOrder) {
		t.Fatalf("executed an uncommitted height: %v", err)
	}
	blocks := chainOf(2)
	if err := s.Commit([]consensus.Commit{commitOf(blocks[0]), commitOf(blocks[1])}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppCommit(2, []byte{2}, nil, nil); !errors.Is(err, ErrAppOrder) {
		t.Fatalf("skipped a height: %v", err)
	}
	if err := s.AppCommit(1, []byte{1}, map[string][]byte{"a": []byte("3"), "c": []byte("4")}, []string{"b", "a", "missing"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppPut(map[string][]byte{"": nil}, nil); err == nil {
		t.Fatal("accepted an empty key")
	}
	for i := range 2 {
		if i == 1 {
			s = reopen(t, s, path)
		}
		want := map[string]string{"a": "3", "c": "4", "empty": ""}
		for _, k := range []string{"a", "b", "c", "empty", "missing"} {
			v, ok, _ := s.AppGet(k)
			w, wok := want[k]
			if ok != wok || string(v) != w || (ok && v == nil) {
				t.Errorf("store %d: %q = %q %v, want %q %v", i, k, v, ok, w, wok)
			}
		}
		if h, r := s.AppState(); h != 1 || !bytes.Equal(r, []byte{1}) {
			t.Errorf("store %d: app state %d %s", i, h, r)
		}
	}
}

// CommitExecuted writes a block's commit and its execution's state
// together, and refuses to run ahead of the application.
func TestCommitExecuted(t *testing.T) {
	s, path := openTemp(t)
	blocks := chainOf(3)
	if err := s.CommitExecuted(commitOf(blocks[0]), AppWrite{Root: []byte{1}, Puts: map[string][]byte{"k": []byte("v1")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit([]consensus.Commit{commitOf(blocks[1])}); err != nil {
		t.Fatal(err)
	}
	// Height 2 is committed but not executed: 3 cannot carry its state.
	if err := s.CommitExecuted(commitOf(blocks[2]), AppWrite{Root: []byte{3}}); !errors.Is(err, ErrAppOrder) {
		t.Fatalf("ran ahead of the application: %v", err)
	}
	if h := s.CommittedHeight(); h != 2 {
		t.Fatalf("a refused CommitExecuted changed the tip: %d", h)
	}
	s = reopen(t, s, path)
	if h, r := s.AppState(); h != 1 || !bytes.Equal(r, []byte{1}) {
		t.Fatalf("app state %d %s, want 1", h, r)
	}
	if v, ok, _ := s.AppGet("k"); !ok || string(v) != "v1" {
		t.Fatalf("k = %q %v", v, ok)
	}
	if _, _, _, ok := s.CommittedBlock(1); !ok {
		t.Fatal("block 1 not committed")
	}
}
