package node

import (
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"

	"github.com/strategos/strategos/internal/app/apps"
	"github.com/strategos/strategos/internal/testbin"
)

// A transaction given twice in one batch is checked once and both copies
// get its answer: an invalid one is refused twice, never answered
// "already pending" (which clients read as accepted).
func TestBatchCopiesShareTheAnswer(t *testing.T) {
	h, err := testbin.OneValidator(t.TempDir(), "kv")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	batch := [][]byte{[]byte("bad"), []byte("a=1"), []byte("bad"), []byte("a=1")}
	for range admitChunk {
		batch = append(batch, []byte("filler"))
	}
	batch = append(batch, []byte("bad"), []byte("a=1")) // in a later chunk
	_, errs := n.SubmitBatch(batch)
	for _, i := range []int{0, 2, len(batch) - 2} {
		if errs[i] == nil || IsDuplicate(errs[i]) || !strings.Contains(errs[i].Error(), "=") {
			t.Errorf("copy %d of an invalid transaction: %v, want its refusal", i, errs[i])
		}
	}
	if errs[1] != nil {
		t.Fatalf("valid transaction: %v", errs[1])
	}
	for _, i := range []int{3, len(batch) - 1} {
		if !errors.Is(errs[i], errs[3]) || !IsDuplicate(errs[i]) {
			t.Errorf("copy %d of an admitted transaction: %v, want already pending", i, errs[i])
		}
	}
	if n.pool.Len() != 1 {
		t.Fatalf("%d pending, want 1", n.pool.Len())
	}
}

// The same transfer admitted twice at once (a client sends it to every
// node while gossip brings it too) is never refused: the second admission
// waits for the first's answer instead of meeting its nonce as pending.
func TestConcurrentCopiesAreNotRefused(t *testing.T) {
	dir := t.TempDir()
	h, err := testbin.OneValidator(dir, "bank")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var senders []ed25519.PrivateKey
	for a := range 10 {
		k, err := keys.Read(filepath.Join(dir, "keys", "account"+strconv.Itoa(a)+".key"))
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, k)
	}
	for nonce := range 30 {
		var batch [][]byte
		for _, k := range senders {
			tx, err := bank.Sign(k, h.Genesis.ChainID, chain.Address{1}, 1, uint64(nonce))
			if err != nil {
				t.Fatal(err)
			}
			batch = append(batch, tx)
		}
		var wg sync.WaitGroup
		answers := make([][]error, 2)
		for g := range answers {
			wg.Go(func() { _, answers[g] = n.SubmitBatch(batch) })
		}
		wg.Wait()
		for g, errs := range answers {
			for i, err := range errs {
				if err != nil && !IsDuplicate(err) {
					t.Fatalf("nonce %d, sender %d, copy %d: %v", nonce, i, g, err)
				}
			}
		}
	}
}
