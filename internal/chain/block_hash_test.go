package chain

import (
	"fmt"
	"testing"
)

// PayloadHash streams into the hash; it must equal the digest of the
// canonical encoding built in full, or hashes would change meaning.
func TestPayloadHashStreamsTheEncoding(t *testing.T) {
	for _, n := range []int{0, 1, 3, 100} {
		var txs [][]byte
		for i := range n {
			txs = append(txs, fmt.Appendf(nil, "tx-%d-%s", i, make([]byte, i)))
		}
		e := newEncoder(domainPayload, "chain-x")
		e.u64(uint64(len(txs)))
		for _, tx := range txs {
			e.bytes(tx)
		}
		if got, want := PayloadHash("chain-x", txs), e.sum(); got != want {
			t.Fatalf("%d txs: streamed %s, built %s", n, got.Short(), want.Short())
		}
	}
}
