package mempool

import (
	"errors"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

func txs(n int) []*app.Tx {
	var out []*app.Tx
	for i := range n {
		out = append(out, app.NewTx(fmt.Appendf(nil, "k%d=v", i)))
	}
	return out
}

func hashes(ts []*app.Tx) []chain.Hash {
	out := make([]chain.Hash, len(ts))
	for i, t := range ts {
		out[i] = t.Hash
	}
	return out
}

func TestAddReapCommit(t *testing.T) {
	p := New(Config{})
	for _, tx := range txs(5) {
		if err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Add(txs(1)[0]); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := p.Fits(txs(1)[0]); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Fits of a duplicate: %v", err)
	}
	got := p.Reap(3, 1<<20, nil)
	if len(got) != 3 || string(got[0].Bytes) != "k0=v" {
		t.Fatalf("reap: %v", got)
	}
	block := chain.Hash{1}
	p.InFlight(block, 7, hashes(got))
	if rest := p.Reap(10, 1<<20, nil); len(rest) != 2 || string(rest[0].Bytes) != "k3=v" {
		t.Fatalf("in-flight transactions reaped again: %v", rest)
	}
	p.Committed(7, hashes(got[:2]))
	if p.Len() != 3 {
		t.Fatalf("len %d after commit", p.Len())
	}
	// k2 was in the committed height's other block: released, proposable again.
	if again := p.Reap(10, 1<<20, nil); len(again) != 3 || string(again[0].Bytes) != "k2=v" {
		t.Fatalf("after commit: %v", again)
	}
}

// The pool hands back the very *app.Tx it was given: what admission
// parsed reaches the block builder without being parsed again.
func TestParsedFormIsCarried(t *testing.T) {
	p := New(Config{})
	tx := app.NewTx([]byte("a=1"))
	tx.Parsed = "decoded"
	if err := p.Add(tx); err != nil {
		t.Fatal(err)
	}
	if got := p.Reap(1, 1<<20, nil); len(got) != 1 || got[0] != tx || got[0].Parsed != "decoded" {
		t.Fatalf("reap did not return the admitted transaction: %v", got)
	}
	if got, ok := p.Get(tx.Hash); !ok || got != tx {
		t.Fatalf("Get: %v %v", got, ok)
	}
}

func TestReapSkips(t *testing.T) {
	p := New(Config{})
	all := txs(3)
	for _, tx := range all {
		p.Add(tx)
	}
	got := p.Reap(10, 1<<20, map[chain.Hash]bool{all[1].Hash: true})
	if len(got) != 2 || got[0] != all[0] || got[1] != all[2] {
		t.Fatalf("skip not honoured: %v", got)
	}
}

func TestLimits(t *testing.T) {
	p := New(Config{MaxTxs: 2, MaxTx: 8})
	if err := p.Add(app.NewTx([]byte("123456789"))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	p.Add(app.NewTx([]byte("a=1")))
	p.Add(app.NewTx([]byte("b=1")))
	if err := p.Add(app.NewTx([]byte("c=1"))); !errors.Is(err, ErrFull) {
		t.Fatalf("full: %v", err)
	}
	if err := p.Fits(app.NewTx([]byte("c=1"))); !errors.Is(err, ErrFull) {
		t.Fatalf("Fits when full: %v", err)
	}
	if got := p.Reap(10, 3, nil); len(got) != 1 {
		t.Fatalf("byte limit not honoured: %v", got)
	}
	b := New(Config{MaxBytes: 6})
	b.Add(app.NewTx([]byte("a=1")))
	b.Add(app.NewTx([]byte("b=1")))
	if err := b.Add(app.NewTx([]byte("c=1"))); !errors.Is(err, ErrFull) {
		t.Fatalf("byte budget: %v", err)
	}
}

// A block can arrive before the gossip of a transaction it carries; the
// transaction must not be proposed again when its gossip arrives.
func TestGossipAfterBlock(t *testing.T) {
	p := New(Config{})
	tx := app.NewTx([]byte("late=1"))
	block := chain.Hash{9}
	p.InFlight(block, 3, []chain.Hash{tx.Hash})
	if err := p.Add(tx); err != nil {
		t.Fatal(err)
	}
	if got := p.Reap(10, 1<<20, nil); len(got) != 0 {
		t.Fatalf("a transaction carried by an uncommitted block was reaped: %v", got)
	}
	if p.Ready() {
		t.Fatal("Ready reports a transaction that is in flight")
	}
	// Its block is abandoned: another block commits height 3.
	p.Committed(3, nil)
	if got := p.Reap(10, 1<<20, nil); len(got) != 1 {
		t.Fatalf("released transaction not proposable: %v", got)
	}
}

// A lane lists its transactions in arrival order, and forgets those that
// left the pool.
func TestLaneOrder(t *testing.T) {
	p := New(Config{})
	var mine []*app.Tx
	for i := range 5 {
		tx := app.NewTx(fmt.Appendf(nil, "tx-%d", i))
		tx.Lane = "alice"
		if i%2 == 1 {
			tx.Lane = "bob"
		} else {
			mine = append(mine, tx)
		}
		p.Add(tx)
	}
	if got := p.Lane("alice"); len(got) != 3 || got[0] != mine[0] || got[1] != mine[1] || got[2] != mine[2] {
		t.Fatalf("lane: %v", got)
	}
	p.Remove(mine[1].Hash)
	p.Committed(1, []chain.Hash{mine[0].Hash})
	if got := p.Lane("alice"); len(got) != 1 || got[0] != mine[2] {
		t.Fatalf("lane after removal and commit: %v", got)
	}
	if got := p.All(); len(got) != 3 {
		t.Fatalf("all: %v", got)
	}
}

// A validator that does not lead for a while never reaps; committed
// transactions must still be let go of, not kept in the arrival order
// (the attack suite saw 60 MiB live on such a validator).
func TestCommittedAreFreedWithoutReaping(t *testing.T) {
	p := New(Config{})
	var all []*app.Tx
	for i := range 1000 {
		tx := app.NewTx(fmt.Appendf(nil, "tx-%d", i))
		tx.Lane = fmt.Sprint(i % 7)
		if err := p.Add(tx); err != nil {
			t.Fatal(err)
		}
		all = append(all, tx)
	}
	p.Committed(1, hashes(all))
	if p.Len() != 0 {
		t.Fatalf("%d pending after all were committed", p.Len())
	}
	if len(p.order) > 64 {
		t.Fatalf("the arrival order still holds %d committed transactions", len(p.order))
	}
	if len(p.lanes) != 0 {
		t.Fatalf("%d empty lanes kept", len(p.lanes))
	}
}

// A transaction carried by an abandoned block and by a later one stays in
// flight when the abandoned block's height commits without it: the later
// block may still commit it, and proposing it again meanwhile would commit
// it twice (found by TestPruneAndStateSyncSoak).
func TestReleaseKeepsLaterFlight(t *testing.T) {
	for _, arrived := range []bool{true, false} {
		p := New(Config{})
		tx := txs(1)[0]
		if arrived {
			if err := p.Add(tx); err != nil {
				t.Fatal(err)
			}
		}
		p.InFlight(chain.Hash{1}, 5, []chain.Hash{tx.Hash}) // abandoned at height 5
		p.InFlight(chain.Hash{2}, 7, []chain.Hash{tx.Hash}) // still pending at height 7
		if !arrived {
			if err := p.Add(tx); err != nil {
				t.Fatal(err)
			}
		}
		p.Committed(5, nil) // another block committed at height 5
		if got := p.Reap(10, 1<<20, nil); len(got) != 0 {
			t.Fatalf("gossip first %v: reaped %d transactions that a pending block carries", arrived, len(got))
		}
		p.Committed(7, nil) // the block at height 7 abandoned too: released
		if got := p.Reap(10, 1<<20, nil); len(got) != 1 {
			t.Fatalf("gossip first %v: after its last block was abandoned, reaped %d, want 1", arrived, len(got))
		}
	}
}
