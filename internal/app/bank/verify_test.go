package bank

import (
	"errors"
	"math/rand/v2"
	"testing"
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

func TestPreVerifyRemembersOnlyValidSignatures(t *testing.T) {
	f := newFixture(t, 4, 1000, 1000, 1000, 1000)
	var txs [][]byte
	bad := map[int]bool{}
	for i := range 300 {
		tx := f.tx(t, i%4, (i+1)%4, 1, uint64(i/4))
		if i%37 == 5 {
			tx = forge(t, tx)
			bad[i] = true
		}
		txs = append(txs, tx)
	}
	f.app.PreVerify(txs, nil)
	for i, tx := range txs {
		d, _ := Decode(tx)
		if got := f.app.sigs.has(d.Hash); got == bad[i] {
			t.Errorf("tx %d (forged %v): remembered as verified = %v", i, bad[i], got)
		}
	}
	// A forged transfer is still refused with its reason.
	for i := range bad {
		if err := f.app.CheckTx(txs[i]); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("forged tx %d: CheckTx = %v, want ErrBadSignature", i, err)
		}
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

// BenchmarkPreVerify measures batch verification of 1,000 transfers
// spread over the cores; ns/op / 1000 is the cost per transfer.
func BenchmarkPreVerify(b *testing.B) {
	f := newFixture(b, 10, 1000)
	txs := make([][]byte, 1000)
	for i := range txs {
		txs[i] = f.tx(b, i%10, (i+1)%10, 1, uint64(i/10))
	}
	for b.Loop() {
		f.app.sigs = newSigCache(DefaultCacheSize)
		f.app.PreVerify(txs, nil)
	}
}
