package node

import (
	"crypto/ed25519"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/keys"
)

func demoKey(t *testing.T, c *cluster, i int) ed25519.PrivateKey {
	t.Helper()
	k, err := keys.Read(filepath.Join(c.dir, "keys", "account"+strconv.Itoa(i)+".key"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func addr(k ed25519.PrivateKey) chain.Address { return chain.AddressOf(k.Public().(ed25519.PublicKey)) }

// waitTx polls a node until a transaction is committed or rejected.
func waitTx(t *testing.T, n *Node, h chain.Hash) TxStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, ok, err := n.Tx(h)
		if err != nil {
			t.Fatal(err)
		}
		if ok && st.Status != "pending" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %s still %+v", h.Short(), st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBankTransfersAndAdmission(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newAppCluster(t, 4, "bank")
	chainID := c.homes[0].Genesis.ChainID
	alice, bob := demoKey(t, c, 0), demoKey(t, c, 1)
	sign := func(k ed25519.PrivateKey, to chain.Address, amount, nonce uint64) []byte {
		tx, err := bank.Sign(k, chainID, to, amount, nonce)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	n0 := c.nodes[0]
	h0, err := n0.Submit(sign(alice, addr(bob), 100, 0))
	if err != nil {
		t.Fatal(err)
	}
	refusals := map[string]struct {
		tx   []byte
		want string
	}{
		"gap":          {sign(alice, addr(bob), 1, 2), "ahead of the next nonce"},
		"pending":      {sign(alice, addr(bob), 7, 0), "already used or pending"},
		"overdraft":    {sign(alice, addr(bob), config.DemoBalance, 1), "insufficient funds"},
		"other chain":  {func() []byte { tx, _ := bank.Sign(alice, "other", addr(bob), 1, 1); return tx }(), "chain"},
		"tampered":     {[]byte(strings.Replace(string(sign(alice, addr(bob), 5, 1)), `"amount":5`, `"amount":6`, 1)), "signature"},
		"unknown":      {sign(func() ed25519.PrivateKey { k, _ := keys.New(); return k }(), addr(bob), 1, 0), "unknown account"},
		"garbage":      {[]byte("garbage"), ""},
		"used already": {nil, ""},
	}
	delete(refusals, "used already")
	for name, r := range refusals {
		if _, err := n0.Submit(r.tx); err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: Submit = %v, want an error containing %q", name, err, r.want)
		}
	}
	h1, err := c.nodes[1].Submit(sign(alice, addr(bob), 50, 1))
	if err == nil {
		// Node 1 accepted nonce 1 only if nonce 0's gossip reached it first.
		if st := waitTx(t, c.nodes[1], h1); st.Status != "committed" {
			t.Fatalf("nonce 1 on node 1: %+v", st)
		}
	} else if !strings.Contains(err.Error(), "ahead of the next nonce") {
		t.Fatalf("nonce 1 on node 1: %v", err)
	}
	if st := waitTx(t, n0, h0); st.Status != "committed" || st.Height == 0 {
		t.Fatalf("transfer: %+v", st)
	}
	// Once committed, every node answers it, and the nonce is used.
	c.waitHeight(c.nodes[0].Status().Height, 10*time.Second)
	for i, n := range c.nodes {
		if st, ok, err := n.Tx(h0); err != nil || !ok || st.Status != "committed" {
			t.Fatalf("node %d: %+v", i, st)
		}
	}
	if _, err := n0.Submit(sign(alice, addr(bob), 3, 0)); err == nil {
		t.Fatal("a used nonce was admitted")
	}
	bal, nonce, _, _, err := n0.Account(addr(bob))
	if err != nil {
		t.Fatal(err)
	}
	if nonce != 0 || (bal != config.DemoBalance+100 && bal != config.DemoBalance+150) {
		t.Fatalf("bob: balance %d nonce %d", bal, nonce)
	}
}

// Two validators each accept a different transfer with the same nonce:
// exactly one commits, and the other ends rejected, with a reason, on the
// validator that accepted it.
func TestConflictingNoncesEndRejected(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newAppCluster(t, 4, "bank")
	chainID := c.homes[0].Genesis.ChainID
	alice, bob := demoKey(t, c, 2), demoKey(t, c, 3)
	txA, _ := bank.Sign(alice, chainID, addr(bob), 10, 0)
	txB, _ := bank.Sign(alice, chainID, addr(bob), 20, 0)
	hA, errA := c.nodes[0].Submit(txA)
	hB, errB := c.nodes[3].Submit(txB)
	if errA != nil {
		t.Fatal(errA)
	}
	stA := waitTx(t, c.nodes[0], hA)
	if errB != nil {
		if stA.Status != "committed" {
			t.Fatalf("A: %+v", stA)
		}
		return // node 3 had already seen A
	}
	stB := waitTx(t, c.nodes[3], hB)
	committed := 0
	for _, st := range []TxStatus{stA, stB} {
		switch st.Status {
		case "committed":
			committed++
		case "rejected":
			if st.Error == "" {
				t.Fatalf("rejected without a reason: %+v", st)
			}
		}
	}
	if committed != 1 {
		t.Fatalf("A %+v, B %+v: want exactly one committed", stA, stB)
	}
}
