package bank

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

func TestGenesis(t *testing.T) {
	f := newFixture(t, 3, 100, 250)
	if b, n := f.account(0); b != 100 || n != 0 {
		t.Fatalf("account 0: %d, %d", b, n)
	}
	if b, _ := f.account(1); b != 250 {
		t.Fatalf("account 1: %d", b)
	}
	if b, n := f.account(2); b != 0 || n != 0 {
		t.Fatalf("unfunded account: %d, %d", b, n)
	}
	if s, ok := f.app.Supply(); !ok || s != 350 {
		t.Fatalf("supply %d, %v", s, ok)
	}
	gen := []config.GenesisAccount{
		{Address: addrOf(f.keys[1]).String(), Balance: 250}, // another order, same set
		{Address: addrOf(f.keys[0]).String(), Balance: 100},
	}
	_, _, _, writes := f.st.snapshot()
	if err := f.app.InitGenesis(gen); err != nil {
		t.Fatalf("second InitGenesis: %v", err)
	}
	if _, _, _, w := f.st.snapshot(); w != writes {
		t.Fatal("second InitGenesis wrote")
	}
	gen[0].Balance++
	if err := f.app.InitGenesis(gen); err == nil {
		t.Fatal("a different genesis was accepted over an initialised state")
	}
	// The same allocations on another chain are another genesis.
	if err := New(f.st, "other").InitGenesis(gen[:0]); err == nil {
		t.Fatal("another chain's genesis was accepted")
	}
}

func TestGenesisRejects(t *testing.T) {
	a := addrOf(testKey(0)).String()
	cases := map[string][]config.GenesisAccount{
		"bad address": {{Address: "xyz", Balance: 1}},
		"duplicate":   {{Address: a, Balance: 1}, {Address: a, Balance: 2}},
		"overflow":    {{Address: a, Balance: 1 << 63}, {Address: addrOf(testKey(1)).String(), Balance: 1 << 63}},
	}
	for name, gen := range cases {
		st := newMemState()
		if err := New(st, testChain).InitGenesis(gen); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, _, _, w := st.snapshot(); w != 0 {
			t.Errorf("%s: wrote", name)
		}
	}
}

func TestExecuteNeedsGenesis(t *testing.T) {
	a := New(newMemState(), testChain)
	if _, err := a.executeCommit(1, nil); err == nil {
		t.Fatal("executed without a genesis")
	}
	st := newMemState()
	st.height = 3 // another application's state
	if err := New(st, testChain).InitGenesis(nil); err == nil {
		t.Fatal("initialised a state that was already executed")
	}
}

func TestTransfers(t *testing.T) {
	f := newFixture(t, 3, 1000, 10)
	ok := f.exec(t, f.tx(t, 0, 1, 300, 0), f.tx(t, 0, 2, 200, 1), f.tx(t, 1, 2, 310, 0))
	if !ok[0] || !ok[1] || !ok[2] {
		t.Fatalf("results %v", ok)
	}
	want := [][2]uint64{{500, 2}, {0, 1}, {510, 0}}
	for i, w := range want {
		if b, n := f.account(i); b != w[0] || n != w[1] {
			t.Errorf("account %d: balance %d nonce %d, want %v", i, b, n, w)
		}
	}
	h, root := f.app.Info()
	if h != 1 || root.IsZero() {
		t.Fatalf("info %d %s", h, root)
	}
	if len(f.st.lastPut) != 3 {
		t.Fatalf("block wrote %d keys, want the 3 changed accounts", len(f.st.lastPut))
	}
	// An account created by a transfer can spend.
	if ok := f.exec(t, f.tx(t, 2, 0, 510, 0)); !ok[0] {
		t.Fatal("new account could not spend")
	}
}

func TestOverdraftAfterEarlierTx(t *testing.T) {
	f := newFixture(t, 2, 100)
	res, err := f.app.executeCommit(1, [][]byte{f.tx(t, 0, 1, 70, 0), f.tx(t, 0, 1, 50, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Results[0].OK || res.Results[1].OK {
		t.Fatalf("results %+v", res.Results)
	}
	if !strings.Contains(res.Results[1].Error, "insufficient funds: balance 30, amount 50") {
		t.Fatalf("reason %q", res.Results[1].Error)
	}
	if b, n := f.account(0); b != 30 || n != 1 {
		t.Fatalf("sender: %d, %d", b, n)
	}
	if b, _ := f.account(1); b != 70 {
		t.Fatalf("recipient: %d", b)
	}
}

func TestNonceReuseAndGaps(t *testing.T) {
	f := newFixture(t, 2, 100)
	res, err := f.app.executeCommit(1, [][]byte{f.tx(t, 0, 1, 1, 0), f.tx(t, 0, 1, 2, 0), f.tx(t, 0, 1, 3, 2)})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	if !r[0].OK || r[1].OK || r[2].OK {
		t.Fatalf("results %+v", r)
	}
	if r[1].Error != "bank: nonce 0 already used, next is 1" || !strings.Contains(r[2].Error, "nonce 2 is ahead of the next nonce 1") {
		t.Fatalf("reasons %q, %q", r[1].Error, r[2].Error)
	}
	// A used nonce is final; a nonce ahead may apply later.
	if r[0].Later || r[1].Later || !r[2].Later {
		t.Fatalf("later: %v %v %v, want only the gap", r[0].Later, r[1].Later, r[2].Later)
	}
	// The same transfer again, in a later block, is refused too.
	if err := f.app.CheckTx(f.tx(t, 0, 1, 1, 0)); !errors.Is(err, ErrNonceUsed) || err.Error() != "bank: nonce 0 already used, next is 1" {
		t.Fatalf("CheckTx of a used nonce: %v", err)
	}
	if ok := f.exec(t, f.tx(t, 0, 1, 1, 0)); ok[0] {
		t.Fatal("replay applied")
	}
	// The gap filled, nonce 2 applies after 1.
	if ok := f.exec(t, f.tx(t, 0, 1, 5, 1), f.tx(t, 0, 1, 7, 2)); !ok[0] || !ok[1] {
		t.Fatalf("results %v", ok)
	}
	if b, n := f.account(0); b != 87 || n != 3 {
		t.Fatalf("sender: %d, %d", b, n)
	}
}

func TestUnknownSender(t *testing.T) {
	f := newFixture(t, 2, 100)
	tx := f.tx(t, 1, 0, 1, 0)
	if err := f.app.CheckTx(tx); !errors.Is(err, ErrUnknownAccount) {
		t.Fatalf("CheckTx: %v", err)
	}
	res, err := f.app.executeCommit(1, [][]byte{tx})
	if err != nil {
		t.Fatal(err)
	}
	if res.Results[0].OK || !strings.Contains(res.Results[0].Error, "unknown account") {
		t.Fatalf("result %+v", res.Results[0])
	}
	if len(f.st.lastPut) != 0 {
		t.Fatalf("rejected block wrote %v", f.st.lastPut)
	}
}

func TestRejectedTxsChangeNothing(t *testing.T) {
	f := newFixture(t, 3, 100, 5)
	other, err := Sign(f.keys[0], "other-chain", addrOf(f.keys[1]), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	forged := reencode(t, f.tx(t, 0, 1, 1, 0), func(w *body) { w.Amount = 99 })
	txs := [][]byte{
		[]byte("garbage"), other, forged,
		f.tx(t, 1, 0, 6, 0),   // overdraft
		f.tx(t, 2, 0, 1, 0),   // unknown sender
		f.tx(t, 0, 1, 101, 0), // overdraft
		f.tx(t, 0, 1, 1, 1),   // gap
	}
	before, _, _, _ := f.st.snapshot()
	res, err := f.app.executeCommit(1, txs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Results {
		if r.OK || r.Error == "" {
			t.Errorf("tx %d: %+v", i, r)
		}
	}
	if !strings.Contains(res.Results[2].Error, "bad signature") {
		t.Errorf("forged: %q", res.Results[2].Error)
	}
	after, h, _, _ := f.st.snapshot()
	if !maps.Equal(before, after) || h != 1 {
		t.Fatal("rejected transactions changed the state")
	}
}

func TestCheckTx(t *testing.T) {
	f := newFixture(t, 3, 100, 5)
	f.exec(t, f.tx(t, 0, 1, 10, 0))
	other, err := Sign(f.keys[0], "other-chain", addrOf(f.keys[1]), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		tx   []byte
		want error
	}{
		{"valid", f.tx(t, 0, 1, 90, 1), nil},
		{"future nonce", f.tx(t, 0, 1, 1, 9), nil},
		{"used nonce", f.tx(t, 0, 1, 1, 0), ErrNonceUsed},
		{"overdraft", f.tx(t, 0, 1, 91, 1), ErrInsufficientFunds},
		{"unknown", f.tx(t, 2, 0, 1, 0), ErrUnknownAccount},
		{"wrong chain", other, ErrWrongChain},
		{"forged", reencode(t, f.tx(t, 0, 1, 1, 1), func(w *body) { w.Amount = 2 }), ErrBadSignature},
		{"malformed", []byte(`{"amount":1}`), ErrMalformed},
	}
	before, h, root, writes := f.st.snapshot()
	for _, c := range cases {
		err := f.app.CheckTx(c.tx)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	after, h2, root2, writes2 := f.st.snapshot()
	if !maps.Equal(before, after) || h != h2 || root != root2 || writes != writes2 {
		t.Fatal("CheckTx changed the state")
	}
}

func TestCheckTxAt(t *testing.T) {
	f := newFixture(t, 2, 100)
	// Admit a sequence from one account: pending nonce and spend grow.
	next, avail := uint64(0), uint64(100)
	for i := range uint64(3) {
		tx, err := f.app.CheckTxAt(f.tx(t, 0, 1, 30, i), next, avail)
		if err != nil {
			t.Fatalf("pending %d: %v", i, err)
		}
		if tx.From() != addrOf(f.keys[0]) || tx.Nonce != i {
			t.Fatalf("decoded %+v", tx)
		}
		next, avail = next+1, avail-tx.Amount
	}
	if _, err := f.app.CheckTxAt(f.tx(t, 0, 1, 30, 3), next, avail); !errors.Is(err, ErrInsufficientFunds) {
		t.Fatalf("overspend of pending balance: %v", err)
	}
	if _, err := f.app.CheckTxAt(f.tx(t, 0, 1, 1, 2), next, avail); !errors.Is(err, ErrNonceUsed) {
		t.Fatalf("pending nonce again: %v", err)
	}
	if tx, err := f.app.CheckTxAt(f.tx(t, 0, 1, 1, 7), next, avail); err != nil || tx.Nonce != 7 {
		t.Fatalf("gap is the caller's decision: %v", err)
	}
}

func TestVerifyOncePerTx(t *testing.T) {
	f := newFixture(t, 2, 100)
	tx := f.tx(t, 0, 1, 1, 0)
	h := chain.TxHash(tx)
	if err := f.app.CheckTx(tx); err != nil {
		t.Fatal(err)
	}
	if !f.app.sigs.has(h) {
		t.Fatal("CheckTx did not remember the verified signature")
	}
	if ok := f.exec(t, tx); !ok[0] {
		t.Fatal("not applied")
	}
	if f.app.sigs.has(h) {
		t.Fatal("a committed transaction stays in the cache")
	}
	// A rejected signature is never remembered.
	forged := reencode(t, f.tx(t, 0, 1, 1, 1), func(w *body) { w.Amount = 2 })
	_ = f.app.CheckTx(forged)
	if f.app.sigs.has(chain.TxHash(forged)) {
		t.Fatal("a bad signature was cached")
	}
}

func TestSigCacheBounded(t *testing.T) {
	c := newSigCache(8)
	for i := range 100 {
		c.add(chain.Hash{byte(i)})
		if c.len() > 8 {
			t.Fatalf("cache holds %d", c.len())
		}
	}
	if !c.has(chain.Hash{99}) || c.has(chain.Hash{0}) {
		t.Fatal("cache lost the newest or kept the oldest")
	}
	c.forget(chain.Hash{99})
	if c.has(chain.Hash{99}) {
		t.Fatal("forget")
	}
	var none *sigCache = newSigCache(0)
	none.add(chain.Hash{1})
	if none.has(chain.Hash{1}) || none.len() != 0 {
		t.Fatal("a disabled cache remembered")
	}
}

func TestConcurrentCheckAndExecute(t *testing.T) {
	f := newFixture(t, 4, 1000, 1000)
	var txs [][]byte
	for n := range uint64(50) {
		txs = append(txs, f.tx(t, 0, 2, 1, n), f.tx(t, 1, 3, 1, n))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(txs); i += 4 {
				_ = f.app.CheckTx(txs[i])
				_, _ = f.app.Query(addrOf(f.keys[i%4]).String())
			}
		})
	}
	for i := 0; i < len(txs); i += 10 {
		f.exec(t, txs[i:i+10]...)
	}
	wg.Wait()
	if b, n := f.account(0); b != 950 || n != 50 {
		t.Fatalf("account 0: %d, %d", b, n)
	}
}

func TestDeterministicRoot(t *testing.T) {
	a, b := newFixture(t, 3, 500, 500), newFixture(t, 3, 500, 500)
	if ha, ra := a.app.Info(); ha != 0 || !ra.IsZero() {
		t.Fatal("fresh app has a root")
	}
	blocks := [][][]byte{
		{a.tx(t, 0, 1, 10, 0), a.tx(t, 1, 2, 20, 0)},
		{},
		{a.tx(t, 2, 0, 5, 0), []byte("junk"), a.tx(t, 0, 2, 1000, 1)},
	}
	var roots []chain.Hash
	for _, blk := range blocks {
		ra, err := a.app.executeCommit(uint64(len(roots)+1), blk)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.app.executeCommit(uint64(len(roots)+1), blk)
		if err != nil {
			t.Fatal(err)
		}
		if ra.StateRoot != rb.StateRoot {
			t.Fatalf("height %d: roots differ", ra.Height)
		}
		for _, r := range roots {
			if r == ra.StateRoot {
				t.Fatal("a root repeated")
			}
		}
		roots = append(roots, ra.StateRoot)
	}
	// Another genesis gives another root from the first block on.
	c := newFixture(t, 3, 500, 501)
	rc, err := c.app.executeCommit(1, blocks[0])
	if err != nil {
		t.Fatal(err)
	}
	if rc.StateRoot == roots[0] {
		t.Fatal("different genesis, same root")
	}
}

func TestInvariantFailureStopsBlock(t *testing.T) {
	f := newFixture(t, 2, 100)
	// Corrupt the state: an account holding more than the supply.
	f.st.kv[acctKey(addrOf(f.keys[0]))] = account{balance: 1000}.encode()
	before, _, _, writes := f.st.snapshot()
	_, err := f.app.executeCommit(1, [][]byte{f.tx(t, 0, 1, 1, 0)})
	if !errors.Is(err, ErrInvariant) {
		t.Fatalf("Execute = %v, want ErrInvariant", err)
	}
	after, h, _, w := f.st.snapshot()
	if h != 0 || w != writes || !maps.Equal(before, after) {
		t.Fatal("a block that broke an invariant was committed")
	}
	// An unreadable account stops execution too.
	f.st.kv[acctKey(addrOf(f.keys[0]))] = []byte{1, 2, 3}
	if _, err := f.app.executeCommit(1, [][]byte{f.tx(t, 0, 1, 1, 0)}); err == nil {
		t.Fatal("executed over a corrupt account")
	}
}

func TestCheckInvariants(t *testing.T) {
	addr := addrOf(testKey(0))
	good := &entry{addr: addr, existed: true, before: account{50, 1}, cur: account{40, 2}, sent: 1, dirty: true}
	recv := &entry{addr: addrOf(testKey(1)), before: account{}, cur: account{10, 0}, dirty: true}
	if err := checkInvariants([]*entry{good, recv}, 100); err != nil {
		t.Fatal(err)
	}
	created := *recv
	created.cur.balance = 11
	if checkInvariants([]*entry{good, &created}, 100) == nil {
		t.Error("value created")
	}
	skipped := *good
	skipped.cur.nonce = 3
	if checkInvariants([]*entry{&skipped, recv}, 100) == nil {
		t.Error("nonce skipped")
	}
	if checkInvariants([]*entry{good, recv}, 30) == nil {
		t.Error("balance above supply")
	}
}

func TestQuery(t *testing.T) {
	f := newFixture(t, 2, 100)
	f.exec(t, f.tx(t, 0, 1, 40, 0))
	var got AccountJSON
	b, err := f.app.Query(addrOf(f.keys[0]).String())
	if err != nil || json.Unmarshal(b, &got) != nil {
		t.Fatalf("query: %s, %v", b, err)
	}
	if got != (AccountJSON{Address: addrOf(f.keys[0]).String(), Balance: 60, Nonce: 1}) {
		t.Fatalf("got %+v", got)
	}
	b, err = f.app.Query(addrOf(testKey(9)).String())
	if err != nil || !strings.Contains(string(b), `"balance":0,"nonce":0`) {
		t.Fatalf("unknown account: %s, %v", b, err)
	}
	if b, err := f.app.Query("supply"); err != nil || string(b) != `{"supply":100}` {
		t.Fatalf("supply: %s, %v", b, err)
	}
	if _, err := f.app.Query("nope"); err == nil {
		t.Fatal("bad key answered")
	}
	if f.app.Name() != "bank" {
		t.Fatal("name")
	}
}
