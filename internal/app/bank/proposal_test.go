package bank

import (
	"testing"
)

func TestCheckProposal(t *testing.T) {
	a := &App{}
	good, err := Sign(testKey(0), testChain, addrOf(testKey(1)), 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]byte(nil), good...)
	forged[len(forged)-3] ^= 1 // a signature digit: decodes, Execute refuses it
	if err := a.CheckProposal([][]byte{good, forged}); err != nil {
		t.Fatalf("transfers refused: %v", err)
	}
	if err := a.CheckProposal(nil); err != nil {
		t.Fatalf("empty proposal refused: %v", err)
	}
	for _, junk := range []string{"", "k=v", "{}", `{"chain_id":1}`} {
		if err := a.CheckProposal([][]byte{good, []byte(junk)}); err == nil {
			t.Errorf("proposal holding %q accepted", junk)
		}
	}
}

// BenchmarkCheckProposal10000 measures the vet of a full block of 10,000
// transfers, the cost added to every vote on a full block.
func BenchmarkCheckProposal10000(b *testing.B) {
	txs := make([][]byte, 10_000)
	for i := range txs {
		tx, err := Sign(testKey(i%8), testChain, addrOf(testKey(8)), 100, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		txs[i] = tx
	}
	a := &App{}
	b.ReportAllocs()
	for b.Loop() {
		if err := a.CheckProposal(txs); err != nil {
			b.Fatal(err)
		}
	}
}
