//go:build unix

package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

type accountView struct {
	Address      string `json:"address"`
	Balance      uint64 `json:"balance"`
	Nonce        uint64 `json:"nonce"`
	PendingNonce uint64 `json:"pending_nonce"`
}

// account reads account k (an index into addrs) from node i; only the
// test's goroutine may call it.
func (l *ledger) account(i, k int) accountView {
	l.t.Helper()
	a, err := l.accountAt(i, k)
	if err != nil {
		l.t.Fatal(err)
	}
	return a
}

func (l *ledger) accountAt(i, k int) (accountView, error) {
	var a accountView
	if _, err := l.c.getJSON(l.c.api(i)+"/v1/accounts/"+l.addrs[k].String(), &a); err != nil {
		return a, err
	}
	if a.Address != l.addrs[k].String() {
		return a, fmt.Errorf("node %d: GET /v1/accounts/%s answers address %q", i, l.addrs[k], a.Address)
	}
	return a, nil
}

// touched returns the indices of the demo accounts and every recipient.
func (l *ledger) touched() []int {
	seen := map[int]bool{}
	for i := range demoAccounts {
		seen[i] = true
	}
	for _, tr := range l.accepted() {
		seen[tr.to] = true
	}
	out := make([]int, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// checkAll checks the final state on every node, once every node has
// executed the highest block that carries an accepted transfer.
func (l *ledger) checkAll(nodes []int) {
	t, c := l.t, l.c
	t.Helper()
	transfers := l.accepted()
	var top uint64
	for _, tr := range transfers {
		top = max(top, tr.height)
	}
	c.waitHeight(nodes, top+1, 15*time.Second)
	final, _, err := c.minMax(nodes)
	if err != nil {
		t.Fatal(err)
	}

	// The chain: one for all nodes, each committed transfer in exactly
	// one block, at the height its status gives, and nothing else in it.
	chain := c.checkAgreement(nodes, final)
	idx := txIndex(chain)
	sent := make([]sentTx, 0, len(transfers))
	byHash := map[string]*transfer{}
	for _, tr := range transfers {
		sent = append(sent, sentTx{key: tr.String(), hash: tr.hash, node: tr.node})
		byHash[tr.hash] = tr
	}
	checkNoDuplicates(t, chain, idx, sent)
	for h, hs := range idx {
		if byHash[h] == nil {
			t.Errorf("tx %s at height(s) %v is not a transfer this test sent", h, hs)
		}
	}
	for _, r := range l.refused {
		if hs, ok := idx[r.hash]; ok {
			t.Errorf("%s (tx %s), refused by node %d, is in block(s) %v", r.what, r.hash, r.node, hs)
		}
	}

	// The model: what the committed transfers leave in every account.
	balance := map[int]int64{}
	for i := range demoAccounts {
		balance[i] = demoFunds
	}
	sentBy := make([]uint64, demoAccounts)
	committed := 0
	for _, tr := range transfers {
		if tr.status != "committed" {
			continue
		}
		committed++
		hs := idx[tr.hash]
		if len(hs) == 0 || hs[0] != tr.height {
			t.Errorf("%s committed at height %d by its status, but the chain has it at %v", tr, tr.height, hs)
		}
		balance[tr.from] -= int64(tr.amount)
		balance[tr.to] += int64(tr.amount)
		sentBy[tr.from]++
	}
	if committed < 250 {
		t.Errorf("only %d transfers committed; the test means to commit a few hundred", committed)
	}
	for s := range demoAccounts {
		if sentBy[s] != l.next[s] {
			t.Errorf("account %d: %d transfers committed, but the test signed nonces 0..%d", s, sentBy[s], l.next[s]-1)
		}
	}

	// Every node: every transfer's status and height, and every
	// account's balance and nonces, the same as the model's.
	accounts := l.touched()
	for _, i := range nodes {
		for _, tr := range transfers {
			v, _, err := l.txStatus(i, tr.hash)
			if err != nil {
				t.Errorf("node %d: %s: %v", i, tr, err)
				continue
			}
			if v.Status != tr.status || v.Height == nil || *v.Height != tr.height {
				t.Errorf("node %d: GET /v1/txs for %s answers %+v, want %s at height %d", i, tr, v, tr.status, tr.height)
			}
		}
		var supply uint64
		for _, k := range accounts {
			a := l.account(i, k)
			supply += a.Balance
			var wantNonce uint64
			if k < demoAccounts {
				wantNonce = sentBy[k]
			}
			if int64(a.Balance) != balance[k] || a.Nonce != wantNonce || a.PendingNonce != a.Nonce {
				t.Errorf("node %d: account %d (%s) is balance %d nonce %d pending_nonce %d; the committed transfers leave balance %d nonce %d",
					i, k, l.addrs[k], a.Balance, a.Nonce, a.PendingNonce, balance[k], wantNonce)
			}
		}
		if supply != demoAccounts*demoFunds {
			t.Errorf("node %d: the %d accounts hold %d in all, want the genesis supply %d", i, len(accounts), supply, demoAccounts*demoFunds)
		}
	}
	t.Logf("every node: %d transfers at their heights, %d accounts as the model says, total supply %d, over %d blocks",
		len(transfers), len(accounts), uint64(demoAccounts*demoFunds), final)
}

// checkRefusedUnknown checks that no node knows a refused transaction
// that was never committed.
func (l *ledger) checkRefusedUnknown(nodes []int) {
	for _, r := range l.refused {
		for _, i := range nodes {
			v, code, _ := l.txStatus(i, r.hash)
			if code != http.StatusNotFound {
				l.t.Errorf("node %d: GET /v1/txs for %s (refused by node %d) answers %d %+v, want 404", i, r.what, r.node, code, v)
			}
		}
	}
}
