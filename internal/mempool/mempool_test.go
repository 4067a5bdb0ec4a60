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

// A block can arrive before the gossip of a transaction it carries; the
// transaction must not be proposed again when its gossip arrives.
func TestGossipAfterBlock(t *testing.T) {
	p := New(Config{})
	tx := []byte("late=1")
	block := chain.Hash{9}
	p.InFlight(block, 3, [][]byte{tx})
	if _, err := p.Add(tx); err != nil {
		t.Fatal(err)
	}
	if got := p.Reap(10, 1<<20); len(got) != 0 {
		t.Fatalf("a transaction carried by an uncommitted block was reaped: %q", got)
	}
	if p.Ready() {
		t.Fatal("Ready reports a transaction that is in flight")
	}
	// Its block is abandoned: another block commits height 3.
	p.Committed(3, nil)
	if got := p.Reap(10, 1<<20); len(got) != 1 {
		t.Fatalf("released transaction not proposable: %q", got)
	}
}

// A validator that does not lead for a while never reaps; committed
// transactions must still be let go of, not kept in the arrival order
// (the attack suite saw 60 MiB live on such a validator).
func TestCommittedAreFreedWithoutReaping(t *testing.T) {
	p := New(Config{})
	var txs [][]byte
	for i := range 1000 {
		tx := []byte(fmt.Sprintf("tx-%d", i))
		if _, err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	p.Committed(1, txs)
	if p.Len() != 0 {
		t.Fatalf("%d pending after all were committed", p.Len())
	}
	if len(p.order) > 64 {
		t.Fatalf("the arrival order still holds %d committed transactions", len(p.order))
	}
}
