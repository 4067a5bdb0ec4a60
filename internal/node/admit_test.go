package node

import (
	"errors"
	"strings"
	"testing"

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
