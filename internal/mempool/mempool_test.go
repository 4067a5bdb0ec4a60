package mempool

import (
	"errors"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func txs(n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, fmt.Appendf(nil, "k%d=v", i))
	}
	return out
}

func TestAddReapCommit(t *testing.T) {
	p := New(Config{})
	for _, tx := range txs(5) {
		if _, err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Add(txs(1)[0]); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	got := p.Reap(3, 1<<20)
	if len(got) != 3 || string(got[0]) != "k0=v" {
		t.Fatalf("reap: %q", got)
	}
	block := chain.Hash{1}
	p.InFlight(block, 7, got)
	if rest := p.Reap(10, 1<<20); len(rest) != 2 || string(rest[0]) != "k3=v" {
		t.Fatalf("in-flight transactions reaped again: %q", rest)
	}
	p.Committed(7, got[:2])
	if p.Len() != 3 {
		t.Fatalf("len %d after commit", p.Len())
	}
	// k2 was in the committed height's other block: released, proposable again.
	if again := p.Reap(10, 1<<20); len(again) != 3 || string(again[0]) != "k2=v" {
		t.Fatalf("after commit: %q", again)
	}
}

func TestLimits(t *testing.T) {
	p := New(Config{MaxTxs: 2, MaxTx: 8})
	if _, err := p.Add([]byte("123456789")); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	p.Add([]byte("a=1"))
	p.Add([]byte("b=1"))
	if _, err := p.Add([]byte("c=1")); !errors.Is(err, ErrFull) {
		t.Fatalf("full: %v", err)
	}
	if got := p.Reap(10, 3); len(got) != 1 {
		t.Fatalf("byte limit not honoured: %q", got)
	}
}
