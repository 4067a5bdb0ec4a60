package bank

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app"
)

// forge returns tx with one bit of its signature flipped: still a
// well-formed transfer, but not signed by its sender.
func forge(t testing.TB, tx []byte) []byte {
	t.Helper()
	d, err := Decode(tx)
	if err != nil {
		t.Fatal(err)
	}
	d.Sig = append([]byte(nil), d.Sig...)
	d.Sig[7] ^= 0x10
	b, err := d.canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyAllRemembersOnlyValidSignatures verifies a batch of transfers
// (as admission, ProcessProposal's verifier and FinalizeBlock do) with
// forgeries among them: only the valid ones are remembered.
func TestVerifyAllRemembersOnlyValidSignatures(t *testing.T) {
	f := newFixture(t, 4, 1000, 1000, 1000, 1000)
	var txs []Tx
	bad := map[int]bool{}
	for i := range 300 {
		tx := f.tx(t, i%4, (i+1)%4, 1, uint64(i/4))
		if i%37 == 5 {
			tx = forge(t, tx)
			bad[i] = true
		}
		d, err := Decode(tx)
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, d)
	}
	f.app.verifyAll(txs)
	for i, d := range txs {
		if got := f.app.sigs.has(d.Hash); got == bad[i] {
			t.Errorf("tx %d (forged %v): remembered as verified = %v", i, bad[i], got)
		}
	}
	// A forged transfer is still refused with its reason, once its nonce
	// is the sender's next.
	for i := range bad {
		body, err := txs[i].canonical()
		if err != nil {
			t.Fatal(err)
		}
		f.st.KV[acctKey(txs[i].From())] = account{balance: 1000, nonce: txs[i].Nonce}.encode()
		errs := f.check(t, app.CheckNew, app.NewTx(body))
		if !errors.Is(errs[0], ErrBadSignature) || code(t, errs[0]) != CodeBadSignature {
			t.Fatalf("forged tx %d: CheckTx = %v, want ErrBadSignature", i, errs[0])
		}
	}
}

// TestProcessProposalVerifiesAhead checks that the signatures of a
// proposal are verified beside consensus, so that FinalizeBlock finds
// them done.
func TestProcessProposalVerifiesAhead(t *testing.T) {
	f := newFixture(t, 2, 1000)
	var bodies [][]byte
	for n := range uint64(100) {
		bodies = append(bodies, f.tx(t, 0, 1, 1, n))
	}
	bodies = append(bodies, forge(t, f.tx(t, 0, 1, 1, 100)))
	txs := app.NewTxs(bodies)
	if ok, err := f.app.ProcessProposal(ctx, app.Proposal{Height: 1, Txs: txs}); err != nil || !ok {
		t.Fatalf("ProcessProposal: %v, %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	verified := func() bool {
		for _, tx := range txs[:100] {
			if !f.app.sigs.has(tx.Hash) {
				return false
			}
		}
		return true
	}
	for !verified() {
		if time.Now().After(deadline) {
			t.Fatal("the proposal's signatures were not verified ahead")
		}
		time.Sleep(time.Millisecond)
	}
	if f.app.sigs.has(txs[100].Hash) {
		t.Fatal("a forged signature was remembered")
	}
	res := f.execTxs(t, txs...)
	for i, r := range res.TxResults {
		if want := i < 100; r.OK() != want {
			t.Fatalf("tx %d: %+v", i, r)
		}
	}
	if r := res.TxResults[100]; r.Code != CodeBadSignature {
		t.Fatalf("forged: %+v", r)
	}
}

// Batches of every size, with forgeries anywhere, give the answer that
// verifying each signature alone gives (ZIP-215 makes this exact).
func TestBatchVerificationAgreesWithSingle(t *testing.T) {
	f := newFixture(t, 3, 1000, 1000, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 2*batchSize+3; n += 1 + rng.IntN(9) {
		ts := make([]Tx, n)
		for i := range n {
			tx := f.tx(t, i%3, (i+1)%3, uint64(1+i), uint64(i))
			if rng.IntN(5) == 0 {
				tx = forge(t, tx)
			}
			d, err := Decode(tx)
			if err != nil {
				t.Fatal(err)
			}
			ts[i] = d
		}
		if n == 7 {
			ts[3].PubKey = ts[3].PubKey[:5] // malformed key: invalid, no panic
		}
		got := verifyBatch(ts)
		for i, tx := range ts {
			if want := verifySig(tx.PubKey, tx.SignBytes(), tx.Sig); got[i] != want {
				t.Fatalf("batch of %d, tx %d: batch says %v, alone %v", n, i, got[i], want)
			}
		}
	}
}

func BenchmarkVerifySingle(b *testing.B) {
	f := newFixture(b, 2, 1000, 1000)
	d, _ := Decode(f.tx(b, 0, 1, 1, 0))
	msg := d.SignBytes()
	for b.Loop() {
		if !verifySig(d.PubKey, msg, d.Sig) {
			b.Fatal("bad")
		}
	}
}

// BenchmarkVerifyAll measures batch verification of 1,000 transfers
// spread over the cores; ns/op / 1000 is the cost per transfer.
func BenchmarkVerifyAll(b *testing.B) {
	f := newFixture(b, 10, 1000)
	txs := make([]Tx, 1000)
	for i := range txs {
		d, err := Decode(f.tx(b, i%10, (i+1)%10, 1, uint64(i/10)))
		if err != nil {
			b.Fatal(err)
		}
		txs[i] = d
	}
	for b.Loop() {
		f.app.sigs = newSigCache(DefaultCacheSize)
		f.app.verifyAll(txs)
	}
}
