package bank

import (
	"testing"

	"github.com/strategos/strategos/internal/app"
)

// TestProcessProposal checks that a proposal is refused for a transaction
// that is not a transfer of this chain, and that one whose signature is
// bad is accepted (ProcessProposal does not wait for signatures) and then
// rejected on its own by FinalizeBlock.
func TestProcessProposal(t *testing.T) {
	f := newFixture(t, 2, 1000)
	good := f.tx(t, 0, 1, 100, 0)
	forged := forge(t, f.tx(t, 0, 1, 100, 1)) // decodes; FinalizeBlock refuses it
	other, err := Sign(testKey(0), "other-chain", addrOf(testKey(1)), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	process := func(txs ...[]byte) bool {
		t.Helper()
		ok, err := f.app.ProcessProposal(ctx, app.Proposal{Height: 1, Txs: app.NewTxs(txs)})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !process() {
		t.Fatal("empty proposal refused")
	}
	for _, junk := range []string{"", "k=v", "{}", `{"chain_id":1}`, string(good) + "\n"} {
		if process(good, []byte(junk)) {
			t.Errorf("proposal holding %q accepted", junk)
		}
	}
	if process(good, other) {
		t.Error("proposal holding another chain's transfer accepted")
	}
	txs := app.NewTxs([][]byte{good, forged})
	ok, err := f.app.ProcessProposal(ctx, app.Proposal{Height: 1, Txs: txs})
	if err != nil || !ok {
		t.Fatalf("transfers refused: %v, %v", ok, err)
	}
	for i, tx := range txs {
		if _, parsed := tx.Parsed.(Tx); !parsed || tx.Lane != addrOf(f.keys[0]).String() {
			t.Fatalf("tx %d not parsed by ProcessProposal: %+v", i, tx)
		}
	}
	res := f.execTxs(t, txs...)
	if r := res.TxResults; !r[0].OK() || r[1].Code != CodeBadSignature {
		t.Fatalf("results %+v", r)
	}
	// PrepareProposal keeps the candidates, in order.
	cands := app.NewTxs([][]byte{forged, good})
	got, err := f.app.PrepareProposal(ctx, app.Proposal{Height: 2, Txs: cands, MaxBytes: 1 << 20})
	if err != nil || len(got) != 2 || got[0] != cands[0] || got[1] != cands[1] {
		t.Fatalf("PrepareProposal: %v, %v", got, err)
	}
}

// BenchmarkProcessProposal10000 measures the vet of a full block of 10,000
// transfers never seen before, the cost added to every vote on a full
// block.
func BenchmarkProcessProposal10000(b *testing.B) {
	bodies := make([][]byte, 10_000)
	for i := range bodies {
		tx, err := Sign(testKey(i%8), testChain, addrOf(testKey(8)), 100, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		bodies[i] = tx
	}
	// No verifier reads the unbuffered channel: the benchmark measures the
	// vet, not the verification it hands over.
	a := &App{chainID: testChain, ahead: make(chan []Tx)}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		txs := app.NewTxs(bodies) // undecoded again
		b.StartTimer()
		if ok, err := a.ProcessProposal(ctx, app.Proposal{Txs: txs}); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
