package node

import (
	"github.com/strategos/strategos/internal/app/apps"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/testbin"
)

// TestAcceptanceSurvivesReopen: what a node accepted stays pending, and
// what it rejected stays rejected with its reason, across a restart (the
// node is not run, so nothing commits meanwhile).
func TestAcceptanceSurvivesReopen(t *testing.T) {
	h, err := testbin.OneValidator(t.TempDir(), "kv")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := n.Submit([]byte("colour=blue"))
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := n.Submit([]byte("colour=red"))
	if err != nil {
		t.Fatal(err)
	}
	n.pool.Remove(dropped)
	n.reject(dropped, "evicted for the test")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n, err = New(Options{Home: h, App: apps.For(h, nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, c := range []struct {
		h    chain.Hash
		want TxStatus
	}{{accepted, TxStatus{Status: "pending"}}, {dropped, TxStatus{Status: "rejected", Error: "evicted for the test"}}} {
		if got, ok, err := n.Tx(c.h); err != nil || !ok || got != c.want {
			t.Errorf("after a restart, tx %s: %+v (known %v), want %+v", c.h.Short(), got, ok, c.want)
		}
	}
}
