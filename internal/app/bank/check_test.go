package bank

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app"
)

// TestCheckTx checks one transaction at a time against the committed
// state (a fresh App each time, so that nothing is pending).
func TestCheckTx(t *testing.T) {
	f := newFixture(t, 3, 100, 5)
	f.exec(t, f.tx(t, 0, 1, 10, 0))
	other, err := Sign(f.keys[0], "other-chain", addrOf(f.keys[1]), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tx   []byte
		want error
		code uint32
	}{
		{"valid", f.tx(t, 0, 1, 90, 1), nil, 0},
		{"future nonce", f.tx(t, 0, 1, 1, 9), ErrNonceGap, CodeNonceGap},
		{"used nonce", f.tx(t, 0, 1, 1, 0), ErrNonceUsed, CodeNonceUsed},
		{"overdraft", f.tx(t, 0, 1, 91, 1), ErrInsufficientFunds, CodeInsufficientFunds},
		{"unknown", f.tx(t, 2, 0, 1, 0), ErrUnknownAccount, CodeUnknownAccount},
		{"wrong chain", other, ErrWrongChain, CodeWrongChain},
		{"forged", reencode(t, f.tx(t, 0, 1, 1, 1), func(w *body) { w.Amount = 2 }), ErrBadSignature, CodeBadSignature},
		{"malformed", []byte(`{"amount":1}`), ErrMalformed, CodeMalformed},
		{"empty", nil, ErrMalformed, CodeMalformed},
	}
	before, h, root, writes := f.st.Snapshot()
	for _, c := range cases {
		a := newApp(t, f.st, testChain)
		tx := app.NewTx(c.tx)
		errs, err := a.CheckTx(ctx, app.CheckNew, []*app.Tx{tx})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := errs[0]; c.want == nil && got != nil || c.want != nil && !errors.Is(got, c.want) || code(t, got) != c.code {
			t.Errorf("%s: %v (code %d), want %v (code %d)", c.name, got, code(t, got), c.want, c.code)
		}
		if _, parsed := tx.Parsed.(Tx); parsed != (c.code == 0 || c.code > CodeWrongChain) {
			t.Errorf("%s: parsed %v", c.name, parsed)
		}
	}
	after, h2, root2, writes2 := f.st.Snapshot()
	if !maps.Equal(before, after) || h != h2 || root != root2 || writes != writes2 {
		t.Fatal("CheckTx changed the state")
	}
}

// TestCheckTxPending admits a sequence of transfers from one sender: each
// must carry the nonce after the pending ones and fit in what they leave.
func TestCheckTxPending(t *testing.T) {
	f := newFixture(t, 3, 100, 100)
	sender := addrOf(f.keys[0]).String()
	// In one call and across calls, the pending nonce and spend grow.
	first := app.NewTxs([][]byte{f.tx(t, 0, 1, 30, 0), f.tx(t, 0, 2, 30, 1)})
	for i, err := range f.check(t, app.CheckNew, first...) {
		if err != nil {
			t.Fatalf("pending %d: %v", i, err)
		}
	}
	third := app.NewTx(f.tx(t, 0, 1, 30, 2))
	if errs := f.check(t, app.CheckNew, third); errs[0] != nil {
		t.Fatalf("pending 2: %v", errs[0])
	}
	for i, tx := range append(first, third) {
		d, ok := tx.Parsed.(Tx)
		if !ok || d.Nonce != uint64(i) || d.From() != addrOf(f.keys[0]) || tx.Lane != sender {
			t.Fatalf("tx %d: parsed %+v, lane %q; want the sender %s", i, tx.Parsed, tx.Lane, sender)
		}
	}
	if p := f.pendingNonce(t, 0); p != 3 {
		t.Fatalf("pending nonce %d, want 3", p)
	}
	if b, n := f.account(t, 0); b != 100 || n != 0 {
		t.Fatalf("pending transfers changed the committed account: %d, %d", b, n)
	}
	refused := []struct {
		name string
		tx   []byte
		code uint32
		log  string
	}{
		{"overspend of the pending balance", f.tx(t, 0, 1, 11, 3), CodeInsufficientFunds, "10 available after pending transfers"},
		{"pending nonce again", f.tx(t, 0, 1, 1, 2), CodeNonceUsed, "already used or pending, next is 3"},
		{"gap", f.tx(t, 0, 1, 1, 7), CodeNonceGap, "nonce 7 is ahead of the next nonce 3"},
	}
	for _, c := range refused {
		errs := f.check(t, app.CheckNew, app.NewTx(c.tx))
		if code(t, errs[0]) != c.code || !strings.Contains(errs[0].Error(), c.log) {
			t.Errorf("%s: %v (code %d), want code %d and %q", c.name, errs[0], code(t, errs[0]), c.code, c.log)
		}
	}
	if p := f.pendingNonce(t, 0); p != 3 {
		t.Fatalf("refusals changed the pending nonce: %d", p)
	}
	// What is left, exactly, fits; in a batch, a refusal does not count as
	// pending, and a gap is refused whatever follows it in the batch.
	errs := f.check(t, app.CheckNew, app.NewTxs([][]byte{
		f.tx(t, 0, 1, 5, 4), // gap: 3 is not pending yet
		f.tx(t, 0, 1, 10, 3),
		f.tx(t, 0, 1, 1, 4), // nothing left
	})...)
	if code(t, errs[0]) != CodeNonceGap || errs[1] != nil || code(t, errs[2]) != CodeInsufficientFunds {
		t.Fatalf("batch: %v", errs)
	}
	// Another sender's lane is its own.
	if errs := f.check(t, app.CheckNew, app.NewTx(f.tx(t, 1, 0, 100, 0))); errs[0] != nil {
		t.Fatalf("second sender: %v", errs[0])
	}
	if p := f.pendingNonce(t, 1); p != 1 {
		t.Fatalf("second sender's pending nonce %d", p)
	}
}

// TestRecheckAfterCommit commits part of what a sender has pending and
// rechecks the rest, in the order concurrent admission may have left it.
func TestRecheckAfterCommit(t *testing.T) {
	f := newFixture(t, 3, 100, 100)
	pending := app.NewTxs([][]byte{
		f.tx(t, 0, 1, 10, 0), f.tx(t, 0, 1, 10, 1), f.tx(t, 0, 1, 10, 2), f.tx(t, 0, 1, 10, 3),
		f.tx(t, 1, 0, 10, 0), f.tx(t, 1, 0, 10, 1),
	})
	for i, err := range f.check(t, app.CheckNew, pending...) {
		if err != nil {
			t.Fatalf("tx %d: %v", i, err)
		}
	}
	res := f.execTxs(t, pending[0], pending[1], pending[4])
	lanes := res.Recheck.Lanes
	if res.Recheck.All || len(lanes) != 2 || lanes[0] != addrOf(f.keys[0]).String() || lanes[1] != addrOf(f.keys[1]).String() {
		t.Fatalf("recheck %+v, want the block's two senders in block order", res.Recheck)
	}
	// Commit forgot what the block's senders had pending.
	if p := f.pendingNonce(t, 0); p != 2 {
		t.Fatalf("pending nonce after commit %d, want the committed 2", p)
	}
	// The node gives each lane whole, in any order: the bank rechecks a
	// sender's transfers in nonce order.
	errs := f.check(t, app.CheckRecheck, pending[5], pending[3], pending[2])
	for i, err := range errs {
		if err != nil {
			t.Fatalf("recheck %d: %v", i, err)
		}
	}
	if p0, p1 := f.pendingNonce(t, 0), f.pendingNonce(t, 1); p0 != 4 || p1 != 2 {
		t.Fatalf("pending nonces after recheck %d, %d; want 4, 2", p0, p1)
	}
	// A new transfer follows the rebuilt lane.
	if errs := f.check(t, app.CheckNew, app.NewTx(f.tx(t, 0, 1, 70, 4))); errs[0] != nil {
		t.Fatalf("after recheck: %v", errs[0])
	}
	if errs := f.check(t, app.CheckNew, app.NewTx(f.tx(t, 0, 1, 1, 5))); code(t, errs[0]) != CodeInsufficientFunds {
		t.Fatalf("spend after recheck: %v", errs[0])
	}
	// Rechecking twice rebuilds, never counts twice.
	lane0 := []*app.Tx{pending[2], pending[3]}
	for range 2 {
		if errs := f.check(t, app.CheckRecheck, lane0...); errs[0] != nil || errs[1] != nil {
			t.Fatalf("recheck again: %v", errs)
		}
	}
	if p := f.pendingNonce(t, 0); p != 4 {
		t.Fatalf("pending nonce after rechecking twice %d", p)
	}
}

// TestRecheckRefusesWhatNoLongerFollows commits, from another validator's
// mempool, a twin of a pending transfer (the same nonce, another amount):
// the pending one's nonce is used, and the spending of the twin leaves too
// little for a later one.
func TestRecheckRefusesWhatNoLongerFollows(t *testing.T) {
	f := newFixture(t, 2, 100)
	pending := app.NewTxs([][]byte{f.tx(t, 0, 1, 10, 0), f.tx(t, 0, 1, 10, 1), f.tx(t, 0, 1, 60, 2), f.tx(t, 0, 1, 1, 4)})
	errs := f.check(t, app.CheckNew, pending...)
	if errs[0] != nil || errs[1] != nil || errs[2] != nil || code(t, errs[3]) != CodeNonceGap {
		t.Fatalf("admission: %v", errs)
	}
	twin := app.NewTx(f.tx(t, 0, 1, 50, 0))
	if ok := f.execTxs(t, twin).TxResults[0].OK(); !ok {
		t.Fatal("twin not applied")
	}
	errs = f.check(t, app.CheckRecheck, pending[2], pending[1], pending[0])
	if code(t, errs[2]) != CodeNonceUsed || !errors.Is(errs[2], ErrNonceUsed) {
		t.Fatalf("the twin's pending sibling: %v", errs[2])
	}
	if errs[1] != nil {
		t.Fatalf("nonce 1 still follows: %v", errs[1])
	}
	if code(t, errs[0]) != CodeInsufficientFunds || !strings.Contains(errs[0].Error(), "once earlier transfers committed") {
		t.Fatalf("nonce 2 can no longer be paid: %v", errs[0])
	}
	if p := f.pendingNonce(t, 0); p != 2 {
		t.Fatalf("pending nonce %d, want 2", p)
	}
	// A lane that no longer starts at the committed nonce is a gap.
	f.execTxs(t, app.NewTx(f.tx(t, 0, 1, 1, 1)), app.NewTx(f.tx(t, 0, 1, 1, 2)))
	errs = f.check(t, app.CheckRecheck, app.NewTx(f.tx(t, 0, 1, 1, 4)))
	if code(t, errs[0]) != CodeNonceGap {
		t.Fatalf("recheck of a gap: %v", errs[0])
	}
}
