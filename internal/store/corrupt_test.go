package store

import (
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// put writes raw bytes behind the Store's back, as a failing disk might.
func put(t *testing.T, s *Store, bucket, key, value []byte) {
	t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key, value) }); err != nil {
		t.Fatal(err)
	}
}

func TestReadErrorsAreKept(t *testing.T) {
	s, _ := openTemp(t)
	blocks := chainOf(2)
	if err := s.Commit([]consensus.Commit{commitOf(blocks[0])}); err != nil {
		t.Fatal(err)
	}
	h := blocks[1].Hash(testChain)
	put(t, s, bucketBlockAt, h[:], heightKey(2))
	put(t, s, bucketBlocks, blockKey(2, h), []byte{0xff, 0xff})
	if b, ok := s.Block(h); ok || b != nil {
		t.Fatal("a corrupt block was returned")
	}
	first := s.Err()
	if first == nil {
		t.Fatal("no error kept")
	}
	put(t, s, bucketCommitted, heightKey(1), []byte("short"))
	if _, _, _, ok := s.CommittedBlock(1); ok {
		t.Fatal("a corrupt index entry was returned")
	}
	if s.Err() != first {
		t.Fatal("Err does not keep the first error")
	}
	if tip := s.CommittedTip(); tip == nil || tip.Height != 1 {
		t.Fatal("the cached tip was lost")
	}
}

func TestOpenRefusesCorruptState(t *testing.T) {
	blocks := chainOf(1)
	h := blocks[0].Hash(testChain)
	tests := []struct {
		name               string
		bucket, key, value []byte
	}{
		{"safety state", bucketMeta, keySafety, []byte{0xff}},
		{"tip height", bucketMeta, keyTip, []byte{1, 2}},
		{"tip above the index", bucketMeta, keyTip, heightKey(2)},
		{"tip index entry", bucketCommitted, heightKey(1), h[:10]},
		{"tip block", bucketBlocks, blockKey(1, h), []byte{0xff}},
		{"tip block replaced", bucketBlocks, blockKey(1, h), nil}, // filled in below
		{"tip block's height", bucketBlockAt, h[:], heightKey(7)},
		{"format", bucketMeta, keyFormat, []byte{9}},
		{"application height", bucketMeta, keyAppHeight, []byte{1}},
		{"application root", bucketMeta, keyAppRoot, make([]byte, maxRoot+1)},
	}
	for _, tt := range tests {
		s, path := openTemp(t)
		if err := s.Commit([]consensus.Commit{commitOf(blocks[0])}); err != nil {
			t.Fatal(err)
		}
		value := tt.value
		if value == nil { // a valid block under the tip's hash, but another block
			other := *blocks[0]
			other.Round++
			var err error
			if value, err = wire.MarshalBlock(&other); err != nil {
				t.Fatal(err)
			}
		}
		put(t, s, tt.bucket, tt.key, value)
		s.Close()
		if s, err := Open(path, testChain, testGenesis); err == nil {
			s.Close()
			t.Errorf("%s: opened", tt.name)
		}
	}
}

// TestConcurrentUse lets readers race a writer; run with -race.
func TestConcurrentUse(t *testing.T) {
	s, _ := openTemp(t)
	blocks := chainOf(20)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if tip := s.CommittedTip(); tip != nil {
					if b, ok := s.Block(tip.Hash(testChain)); !ok || b.Height != tip.Height {
						t.Error("tip not readable")
					}
				}
				_ = s.SafetyState()
				s.CommittedBlock(s.CommittedHeight())
			}
		})
	}
	for i, b := range blocks {
		safety := &consensus.SafetyState{LastVotedRound: b.Round, HighQC: b.QC}
		if err := s.Persist([]*chain.Block{b}, safety); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit([]consensus.Commit{commitOf(blocks[i])}); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if err := checkChain(s); err != nil || s.Err() != nil {
		t.Fatal(err, s.Err())
	}
}
