package bank

import (
	"bytes"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/strategos/strategos/internal/app"
)

// model is the reference ledger: five accounts, a map of balances and
// nonces, and the rule "a transfer applies when it is signed for this
// chain by a known sender with exactly its next nonce and enough balance".
type model struct {
	exists  [5]bool
	balance [5]uint64
	nonce   [5]uint64
}

func (m *model) supply() (s uint64) {
	for _, b := range m.balance {
		s += b
	}
	return s
}

// TestPropertyLedger executes random blocks of random transfers, valid and
// not, and checks every result and every account against the model, the
// conservation of supply, and that a second app reaches the same roots.
func TestPropertyLedger(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var m model
		var balances []uint64
		funded := rapid.IntRange(1, 4).Draw(rt, "funded") // account 4 starts unknown at least
		for i := range funded {
			m.exists[i] = true
			m.balance[i] = rapid.Uint64Range(0, 1000).Draw(rt, "balance")
			balances = append(balances, m.balance[i])
		}
		f := newFixture(rt, 5, balances...)
		twin := newFixture(rt, 5, balances...)
		supply := m.supply()

		blocks := rapid.IntRange(1, 8).Draw(rt, "blocks")
		for h := uint64(1); h <= uint64(blocks); h++ {
			n := rapid.IntRange(0, 12).Draw(rt, "txs")
			var txs [][]byte
			var want []bool
			for range n {
				from := rapid.IntRange(0, 4).Draw(rt, "from")
				to := (from + rapid.IntRange(1, 4).Draw(rt, "to")) % 5
				amount := rapid.Uint64Range(1, 600).Draw(rt, "amount")
				nonce := m.nonce[from]
				switch rapid.IntRange(0, 5).Draw(rt, "nonce kind") {
				case 0:
					nonce++ // a gap
				case 1:
					if nonce > 0 {
						nonce-- // a reuse
					}
				}
				chainID := testChain
				if rapid.IntRange(0, 15).Draw(rt, "wrong chain") == 0 {
					chainID = "other-chain"
				}
				body, err := Sign(f.keys[from], chainID, addrOf(f.keys[to]), amount, nonce)
				if err != nil {
					rt.Fatal(err)
				}
				forged := rapid.IntRange(0, 15).Draw(rt, "forged") == 0
				if forged {
					body = reencodeAmount(rt, body, amount+1)
					amount++
				}
				ok := !forged && chainID == testChain && m.exists[from] &&
					nonce == m.nonce[from] && amount <= m.balance[from]
				if ok {
					m.balance[from] -= amount
					m.balance[to] += amount
					m.nonce[from]++
					m.exists[to] = true
				}
				txs, want = append(txs, body), append(want, ok)
			}
			// f saw the transfers admitted first (decoded and verified),
			// twin only in the block.
			ftxs := app.NewTxs(txs)
			if _, err := f.app.CheckTx(rt.Context(), app.CheckNew, ftxs); err != nil {
				rt.Fatal(err)
			}
			res, err := f.app.finalizeCommitAt(f.st, h, ftxs)
			if err != nil {
				rt.Fatal(err)
			}
			res2, err := twin.app.finalizeCommitAt(twin.st, h, app.NewTxs(txs))
			if err != nil {
				rt.Fatal(err)
			}
			if !bytes.Equal(res.AppHash, res2.AppHash) {
				rt.Fatalf("height %d: twins disagree on the root", h)
			}
			for i, r := range res.TxResults {
				if r.OK() != want[i] {
					rt.Fatalf("height %d tx %d: ok=%v (%s), model says %v", h, i, r.OK(), r.Log, want[i])
				}
				if r.OK() == (r.Log != "") || !reflect.DeepEqual(r, res2.TxResults[i]) {
					rt.Fatalf("height %d tx %d: result %+v, twin's %+v", h, i, r, res2.TxResults[i])
				}
			}
			var total uint64
			for i := range 5 {
				b, nonce := f.account(rt, i)
				if b != m.balance[i] || nonce != m.nonce[i] {
					rt.Fatalf("height %d account %d: %d/%d, model %d/%d", h, i, b, nonce, m.balance[i], m.nonce[i])
				}
				total += b
			}
			if total != supply || m.supply() != supply {
				rt.Fatalf("height %d: supply %d, genesis %d", h, total, supply)
			}
		}
	})
}

// reencodeAmount changes the amount of a signed body, keeping the
// signature (so it no longer verifies).
func reencodeAmount(t *rapid.T, b []byte, amount uint64) []byte {
	tx, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	tx.Amount = amount
	out, err := tx.canonical()
	if err != nil {
		t.Fatal(err)
	}
	return out
}
