package node

import (
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
)

// A validator that equivocates is proven guilty by the honest ones, and
// the proof lands on every honest validator's ledger.
func TestEquivocationRecordedOnLedger(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterWith(t, 4, "kv", map[int]string{3: "equivocate"})
	deadline := time.Now().Add(40 * time.Second)
	for {
		all := true
		for i := range 3 {
			found := false
			for _, r := range mustEvidence(t, c.nodes[i]) {
				if r.Evidence.Validator == 3 && r.Evidence.Kind == chain.DoubleProposal && r.Height > 0 {
					found = true
				}
			}
			all = all && found
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("evidence against validator 3 not on every honest ledger: %+v", mustEvidence(t, c.nodes[0]))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Every honest ledger records the same proofs, and none against an
	// honest validator.
	for i := range 3 {
		for _, r := range mustEvidence(t, c.nodes[i]) {
			if r.Evidence.Validator != 3 {
				t.Fatalf("node %d holds evidence against honest validator %d", i, r.Evidence.Validator)
			}
		}
	}
	c.waitHeight(c.nodes[0].Status().Height, 20*time.Second)
}

func mustEvidence(t *testing.T, n *Node) []EvidenceRecord {
	t.Helper()
	rs, err := n.Evidence()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
