package kv

import "testing"

func TestCheckProposal(t *testing.T) {
	a := &App{}
	if err := a.CheckProposal([][]byte{[]byte("a=b"), []byte("k=v  ")}); err != nil {
		t.Fatalf("pairs refused: %v", err)
	}
	for _, junk := range []string{"", "no-equals", "=v", "a=\nb"} {
		if err := a.CheckProposal([][]byte{[]byte("a=b"), []byte(junk)}); err == nil {
			t.Errorf("proposal holding %q accepted", junk)
		}
	}
}
