package light

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/smt"
)

// BenchmarkVerifyAccount is the light client's work for one verified
// account, without the network: decode and verify a commit certificate,
// then an ICS23 proof from a tree of a million accounts.
func BenchmarkVerifyAccount(b *testing.B) {
	n := newNet(b, testChain)
	n.grow(lagTwo, consecutive(1, 12)...)
	c := n.build(5)
	cm, err := Verify(n.chainID, n.vals, 5, c)
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(NewResponse(cm, c))
	if err != nil {
		b.Fatal(err)
	}
	const accounts = 1_000_000
	keys, values := make([][]byte, accounts), make([][]byte, accounts)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("%020d", i))
		values[i] = make([]byte, 16)
		values[i][15] = byte(i)
	}
	tr, err := smt.Build(keys, values)
	if err != nil {
		b.Fatal(err)
	}
	p, err := tr.Prove(keys[777])
	if err != nil {
		b.Fatal(err)
	}
	proof, _ := p.Marshal()
	root := tr.Root()
	b.ResetTimer()
	for b.Loop() {
		var r Response
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Check(n.chainID, n.vals, 5); err != nil {
			b.Fatal(err)
		}
		if err := smt.VerifyProof(root, keys[777], values[777], proof); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(body)), "cert-bytes")
	b.ReportMetric(float64(len(proof)), "proof-bytes")
}
