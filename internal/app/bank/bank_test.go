package bank

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/smt"
	"github.com/strategos/strategos/internal/smt/smttest"
)

func TestGenesis(t *testing.T) {
	f := newFixture(t, 3, 100, 250)
	if b, n := f.account(t, 0); b != 100 || n != 0 {
		t.Fatalf("account 0: %d, %d", b, n)
	}
	if b, _ := f.account(t, 1); b != 250 {
		t.Fatalf("account 1: %d", b)
	}
	if b, n := f.account(t, 2); b != 0 || n != 0 {
		t.Fatalf("unfunded account: %d, %d", b, n)
	}
	if s, ok, err := f.app.Supply(); err != nil || !ok || s != 350 {
		t.Fatalf("supply %d, %v, %v", s, ok, err)
	}
	if len(f.genesis) != len(chain.Hash{}) {
		t.Fatalf("InitChain returned a genesis app hash of %d bytes", len(f.genesis))
	}
	gen := []config.GenesisAccount{
		{Address: addrOf(f.keys[1]).String(), Balance: 250}, // another order, same set
		{Address: addrOf(f.keys[0]).String(), Balance: 100},
	}
	_, _, _, writes := f.st.Snapshot()
	gd, err := f.app.InitChain(ctx, genesisOf(t, gen))
	if err != nil {
		t.Fatalf("second InitChain: %v", err)
	}
	if !bytes.Equal(gd, f.genesis) {
		t.Fatal("the same allocations in another order gave another genesis app hash")
	}
	if _, _, _, w := f.st.Snapshot(); w != writes {
		t.Fatal("second InitChain wrote")
	}
	gen[0].Balance++
	if _, err := f.app.InitChain(ctx, genesisOf(t, gen)); err == nil {
		t.Fatal("a different genesis was accepted over an initialised state")
	}
	// The same allocations on another chain are another genesis.
	gen[0].Balance--
	if _, err := newApp(t, f.st, "other").InitChain(ctx, genesisOf(t, gen)); err == nil {
		t.Fatal("another chain's genesis was accepted")
	}
	if _, _, _, w := f.st.Snapshot(); w != writes {
		t.Fatal("a refused InitChain wrote")
	}
}

// TestInitChainFromGenesisAccounts initialises from the app state the
// node builds from a genesis file's accounts, and checks what InitChain
// returns against what the first block chains from.
func TestInitChainFromGenesisAccounts(t *testing.T) {
	accounts := []config.GenesisAccount{
		{Address: addrOf(testKey(0)).String(), Balance: 7},
		{Address: addrOf(testKey(1)).String(), Balance: 9},
	}
	g := genesisOf(t, accounts)
	// The node marshals config.Genesis.Accounts, field names included.
	if !strings.Contains(string(g.AppState), `"address":"`+addrOf(testKey(0)).String()+`","balance":7`) {
		t.Fatalf("app state %s", g.AppState)
	}
	a, b := newApp(t, newMemState(), testChain), newApp(t, newMemState(), testChain)
	ga, err := a.InitChain(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := b.InitChain(ctx, g)
	if err != nil || !bytes.Equal(ga, gb) {
		t.Fatalf("two apps from one genesis: %x, %x, %v", ga, gb, err)
	}
	if info, err := a.Info(ctx); err != nil || info.Name != "bank" || info.Height != 0 {
		t.Fatalf("info after InitChain: %+v, %v", info, err)
	}
	for i, want := range []uint64{7, 9, 0} {
		if bal, nonce, _, err := a.Account(addrOf(testKey(i))); err != nil || bal != want || nonce != 0 {
			t.Errorf("account %d: %d, %d, %v; want %d", i, bal, nonce, err, want)
		}
	}
	// Another allocation, another genesis app hash.
	accounts[1].Balance++
	gc, err := newApp(t, newMemState(), testChain).InitChain(ctx, genesisOf(t, accounts))
	if err != nil || bytes.Equal(gc, ga) {
		t.Fatalf("another genesis: %x, %v", gc, err)
	}
	// No app state: a ledger without accounts.
	empty := newMemState()
	if _, err := newApp(t, empty, testChain).InitChain(ctx, app.Genesis{ChainID: testChain}); err != nil {
		t.Fatal(err)
	}
	if s, ok, err := New(empty, testChain).Supply(); err != nil || !ok || s != 0 {
		t.Fatalf("empty genesis supply %d, %v, %v", s, ok, err)
	}
	// App state that is not a list of accounts.
	bad := newMemState()
	if _, err := newApp(t, bad, testChain).InitChain(ctx, app.Genesis{AppState: []byte(`{"accounts":1}`)}); err == nil {
		t.Fatal("InitChain accepted an app state that is not a list of accounts")
	}
	if _, _, _, w := bad.Snapshot(); w != 0 {
		t.Fatal("a refused InitChain wrote")
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
		if _, err := newApp(t, st, testChain).InitChain(ctx, genesisOf(t, gen)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, _, _, w := st.Snapshot(); w != 0 {
			t.Errorf("%s: wrote", name)
		}
	}
}

func TestFinalizeNeedsGenesis(t *testing.T) {
	st := newMemState()
	a := newApp(t, st, testChain)
	if _, err := a.FinalizeBlock(ctx, app.Block{Height: 1}); err == nil {
		t.Fatal("finalized without a genesis")
	}
	st = newMemState()
	st.Height = 3 // another application's state
	if _, err := newApp(t, st, testChain).InitChain(ctx, genesisOf(t, nil)); err == nil {
		t.Fatal("initialised a state that was already executed")
	}
	// Heights come in order.
	f := newFixture(t, 2, 10)
	for _, h := range []uint64{0, 2} {
		if _, err := f.app.FinalizeBlock(ctx, app.Block{Height: h}); err == nil {
			t.Errorf("finalized height %d after 0", h)
		}
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
		if b, n := f.account(t, i); b != w[0] || n != w[1] {
			t.Errorf("account %d: balance %d nonce %d, want %v", i, b, n, w)
		}
	}
	info, err := f.app.Info(ctx)
	if err != nil || info.Height != 1 || len(info.AppHash) != len(chain.Hash{}) || bytes.Equal(info.AppHash, f.genesis) {
		t.Fatalf("info %+v, %v", info, err)
	}
	if len(f.st.LastPut) != 3 {
		t.Fatalf("block wrote %d keys, want the 3 changed accounts", len(f.st.LastPut))
	}
	// An account created by a transfer can spend.
	if ok := f.exec(t, f.tx(t, 2, 0, 510, 0)); !ok[0] {
		t.Fatal("new account could not spend")
	}
}

func TestOverdraftAfterEarlierTx(t *testing.T) {
	f := newFixture(t, 2, 100)
	res := f.execTxs(t, app.NewTxs([][]byte{f.tx(t, 0, 1, 70, 0), f.tx(t, 0, 1, 50, 1)})...)
	r := res.TxResults
	if !r[0].OK() || r[1].OK() || r[1].Code != CodeInsufficientFunds {
		t.Fatalf("results %+v", r)
	}
	if !strings.Contains(r[1].Log, "insufficient funds: balance 30, amount 50") {
		t.Fatalf("reason %q", r[1].Log)
	}
	if b, n := f.account(t, 0); b != 30 || n != 1 {
		t.Fatalf("sender: %d, %d", b, n)
	}
	if b, _ := f.account(t, 1); b != 70 {
		t.Fatalf("recipient: %d", b)
	}
}

func TestNonceReuseAndGaps(t *testing.T) {
	f := newFixture(t, 2, 100)
	res := f.execTxs(t, app.NewTxs([][]byte{f.tx(t, 0, 1, 1, 0), f.tx(t, 0, 1, 2, 0), f.tx(t, 0, 1, 3, 2)})...)
	r := res.TxResults
	if !r[0].OK() || r[1].OK() || r[2].OK() {
		t.Fatalf("results %+v", r)
	}
	if r[1].Log != "bank: nonce 0 already used, next is 1" || !strings.Contains(r[2].Log, "nonce 2 is ahead of the next nonce 1") {
		t.Fatalf("reasons %q, %q", r[1].Log, r[2].Log)
	}
	if r[1].Code != CodeNonceUsed || r[2].Code != CodeNonceGap {
		t.Fatalf("codes %d, %d", r[1].Code, r[2].Code)
	}
	// A used nonce is final; a nonce ahead may apply later.
	if r[0].Later || r[1].Later || !r[2].Later {
		t.Fatalf("later: %v %v %v, want only the gap", r[0].Later, r[1].Later, r[2].Later)
	}
	// The same transfer again, in a later block, is refused too.
	errs := f.check(t, app.CheckNew, app.NewTx(f.tx(t, 0, 1, 1, 0)))
	if !errors.Is(errs[0], ErrNonceUsed) || code(t, errs[0]) != CodeNonceUsed || errs[0].Error() != "bank: nonce 0 already used or pending, next is 1" {
		t.Fatalf("CheckTx of a used nonce: %v", errs[0])
	}
	if ok := f.exec(t, f.tx(t, 0, 1, 1, 0)); ok[0] {
		t.Fatal("replay applied")
	}
	// The gap filled, nonce 2 applies after 1.
	if ok := f.exec(t, f.tx(t, 0, 1, 5, 1), f.tx(t, 0, 1, 7, 2)); !ok[0] || !ok[1] {
		t.Fatalf("results %v", ok)
	}
	if b, n := f.account(t, 0); b != 87 || n != 3 {
		t.Fatalf("sender: %d, %d", b, n)
	}
}

func TestUnknownSender(t *testing.T) {
	f := newFixture(t, 2, 100)
	tx := f.tx(t, 1, 0, 1, 0)
	errs := f.check(t, app.CheckNew, app.NewTx(tx))
	if !errors.Is(errs[0], ErrUnknownAccount) || code(t, errs[0]) != CodeUnknownAccount {
		t.Fatalf("CheckTx: %v", errs[0])
	}
	res := f.execTxs(t, app.NewTx(tx))
	if r := res.TxResults[0]; r.OK() || r.Code != CodeUnknownAccount || !strings.Contains(r.Log, "unknown account") {
		t.Fatalf("result %+v", r)
	}
	if len(f.st.LastPut) != 0 || len(res.Writes.Puts) != 0 {
		t.Fatalf("rejected block wrote %v", f.st.LastPut)
	}
}

// TestRejectedTxsChangeNothing finalizes a block of transactions that all
// fail, each with its own code, and checks that the state is unchanged
// and only the gap may apply later.
func TestRejectedTxsChangeNothing(t *testing.T) {
	f := newFixture(t, 3, 100, 5)
	other, err := Sign(f.keys[0], "other-chain", addrOf(f.keys[1]), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	forged := reencode(t, f.tx(t, 0, 1, 1, 0), func(w *body) { w.Amount = 99 })
	cases := []struct {
		tx   []byte
		code uint32
		log  string
	}{
		{[]byte("garbage"), CodeMalformed, "not a valid transfer"},
		{other, CodeWrongChain, `transaction is for chain "other-chain"`},
		{forged, CodeBadSignature, "bad signature"},
		{f.tx(t, 1, 0, 6, 0), CodeInsufficientFunds, "insufficient funds"},
		{f.tx(t, 2, 0, 1, 0), CodeUnknownAccount, "unknown account"},
		{f.tx(t, 0, 1, 101, 0), CodeInsufficientFunds, "insufficient funds"},
		{f.tx(t, 0, 1, 1, 1), CodeNonceGap, "ahead of the next nonce"},
	}
	var txs [][]byte
	for _, c := range cases {
		txs = append(txs, c.tx)
	}
	before, _, _, _ := f.st.Snapshot()
	res := f.execTxs(t, app.NewTxs(txs)...)
	for i, r := range res.TxResults {
		c := cases[i]
		if r.OK() || r.Code != c.code || !strings.Contains(r.Log, c.log) || r.Later != (c.code == CodeNonceGap) {
			t.Errorf("tx %d: %+v, want code %d and a log with %q", i, r, c.code, c.log)
		}
	}
	after, h, _, _ := f.st.Snapshot()
	if !maps.Equal(before, after) || h != 1 {
		t.Fatal("rejected transactions changed the state")
	}
	if len(res.Writes.Puts) != 0 || len(res.Writes.Deletes) != 0 {
		t.Fatalf("rejected transactions wrote %v", res.Writes)
	}
}

func TestVerifyOncePerTx(t *testing.T) {
	f := newFixture(t, 2, 100)
	tx := app.NewTx(f.tx(t, 0, 1, 1, 0))
	if errs := f.check(t, app.CheckNew, tx); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if !f.app.sigs.has(tx.Hash) {
		t.Fatal("CheckTx did not remember the verified signature")
	}
	if r := f.execTxs(t, tx).TxResults[0]; !r.OK() {
		t.Fatalf("not applied: %+v", r)
	}
	if f.app.sigs.has(tx.Hash) {
		t.Fatal("a committed transaction stays in the cache")
	}
	// A rejected signature is never remembered.
	forged := app.NewTx(reencode(t, f.tx(t, 0, 1, 1, 1), func(w *body) { w.Amount = 2 }))
	f.check(t, app.CheckNew, forged)
	if f.app.sigs.has(forged.Hash) {
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
				if _, err := f.app.CheckTx(ctx, app.CheckNew, app.NewTxs(txs[i:i+1])); err != nil {
					t.Error(err)
				}
				if _, err := f.app.Query(ctx, app.Query{Path: "account", Data: []byte(addrOf(f.keys[i%4]).String())}); err != nil {
					t.Error(err)
				}
				if _, _, _, err := f.app.Account(addrOf(f.keys[i%4])); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := 0; i < len(txs); i += 10 {
		f.exec(t, txs[i:i+10]...)
	}
	wg.Wait()
	if b, n := f.account(t, 0); b != 950 || n != 50 {
		t.Fatalf("account 0: %d, %d", b, n)
	}
}

// TestDeterministicRoot feeds two apps the same blocks: they reach the
// same app hash and write the same state, height after height, and the
// root changes exactly when the state does.
func TestDeterministicRoot(t *testing.T) {
	a, b := newFixture(t, 3, 500, 500), newFixture(t, 3, 500, 500)
	if info, err := a.app.Info(ctx); err != nil || info.Height != 0 || len(info.AppHash) != 0 {
		t.Fatalf("fresh app has a root: %+v, %v", info, err)
	}
	blocks := [][][]byte{
		{a.tx(t, 0, 1, 10, 0), a.tx(t, 1, 2, 20, 0)},
		{},
		{a.tx(t, 2, 0, 5, 0), []byte("junk"), a.tx(t, 0, 2, 1000, 1)},
		{a.tx(t, 0, 2, 1, 1), a.tx(t, 2, 1, 1, 1), a.tx(t, 1, 0, 1, 1)},
	}
	var roots [][]byte
	for _, blk := range blocks {
		// a sees the transactions admitted first (decoded, verified);
		// b sees them only in the block.
		txa := app.NewTxs(blk)
		a.check(t, app.CheckNew, txa...)
		ra := a.execTxs(t, txa...)
		rb := b.execTxs(t, app.NewTxs(blk)...)
		h := len(roots) + 1
		if !bytes.Equal(ra.AppHash, rb.AppHash) || len(ra.AppHash) != len(chain.Hash{}) {
			t.Fatalf("height %d: app hashes %x, %x", h, ra.AppHash, rb.AppHash)
		}
		if !maps.EqualFunc(ra.Writes.Puts, rb.Writes.Puts, bytes.Equal) {
			t.Fatalf("height %d: writes differ", h)
		}
		for i := range ra.TxResults {
			if !reflect.DeepEqual(ra.TxResults[i], rb.TxResults[i]) {
				t.Fatalf("height %d tx %d: results %+v, %+v", h, i, ra.TxResults[i], rb.TxResults[i])
			}
		}
		prev := a.genesis
		if len(roots) > 0 {
			prev = roots[len(roots)-1]
		}
		if same := len(ra.Writes.Puts) == 0; bytes.Equal(prev, ra.AppHash) != same {
			t.Fatalf("height %d: root %x after %x, with %d accounts changed", h, ra.AppHash, prev, len(ra.Writes.Puts))
		}
		roots = append(roots, ra.AppHash)
	}
	sa, ha, roota, _ := a.st.Snapshot()
	sb, hb, rootb, _ := b.st.Snapshot()
	if !maps.Equal(sa, sb) || ha != hb || roota != rootb {
		t.Fatal("the two states differ")
	}
	// Another genesis gives another root from the first block on.
	c := newFixture(t, 3, 500, 501)
	if rc := c.execTxs(t, app.NewTxs(blocks[0])...); bytes.Equal(rc.AppHash, roots[0]) {
		t.Fatal("different genesis, same root")
	}
	// Both orders of the first block apply both transfers and change the
	// same accounts the same way: the root commits to the state the block
	// left, not to the order that produced it.
	d := newFixture(t, 3, 500, 500)
	if rd := d.execTxs(t, app.NewTxs([][]byte{blocks[0][1], blocks[0][0]})...); !bytes.Equal(rd.AppHash, roots[0]) {
		t.Fatal("the same changes in another order gave another root")
	}
}

func TestInvariantFailureStopsBlock(t *testing.T) {
	f := newFixture(t, 2, 100)
	// Corrupt the state: an account holding more than the supply.
	f.st.KV[acctKey(addrOf(f.keys[0]))] = account{balance: 1000}.encode()
	before, _, _, writes := f.st.Snapshot()
	_, err := f.app.finalizeCommit(f.st, app.NewTxs([][]byte{f.tx(t, 0, 1, 1, 0)}))
	if !errors.Is(err, ErrInvariant) {
		t.Fatalf("FinalizeBlock = %v, want ErrInvariant", err)
	}
	after, h, _, w := f.st.Snapshot()
	if h != 0 || w != writes || !maps.Equal(before, after) {
		t.Fatal("a block that broke an invariant was committed")
	}
	// An unreadable account stops execution too.
	f.st.KV[acctKey(addrOf(f.keys[0]))] = []byte{1, 2, 3}
	if _, err := f.app.FinalizeBlock(ctx, app.Block{Height: 1, Txs: app.NewTxs([][]byte{f.tx(t, 0, 1, 1, 0)})}); err == nil {
		t.Fatal("executed over a corrupt account")
	}
}

// TestStateReadErrors checks that a state that cannot be read is the
// application failing, never an absent account.
func TestStateReadErrors(t *testing.T) {
	f := newFixture(t, 2, 100)
	f.st.GetErr = errors.New("disk on fire")
	tx := app.NewTx(f.tx(t, 0, 1, 1, 0))
	if _, err := f.app.CheckTx(ctx, app.CheckNew, []*app.Tx{tx}); err == nil {
		t.Error("CheckTx over an unreadable state answered")
	}
	if _, err := f.app.FinalizeBlock(ctx, app.Block{Height: 1, Txs: []*app.Tx{tx}}); err == nil {
		t.Error("FinalizeBlock over an unreadable state answered")
	}
	if _, err := f.app.Query(ctx, app.Query{Path: "account", Data: []byte(addrOf(f.keys[0]).String())}); err == nil {
		t.Error("Query over an unreadable state answered")
	}
	if _, err := f.app.Query(ctx, app.Query{Path: "supply"}); err == nil {
		t.Error("Query of the supply over an unreadable state answered")
	}
	if _, _, _, err := f.app.Account(addrOf(f.keys[0])); err == nil {
		t.Error("Account over an unreadable state answered")
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
	a0 := addrOf(f.keys[0])
	query := func(q app.Query) app.QueryResult {
		t.Helper()
		r, err := f.app.Query(ctx, q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		return r
	}
	want := AccountJSON{Address: a0.String(), Balance: 60, Nonce: 1}
	for _, q := range []app.Query{
		{Path: "account", Data: []byte(a0.String())},
		{Path: "/account", Data: a0[:]},
		{Path: "", Data: []byte(strings.ToUpper(a0.String()))},
		{Path: "account", Data: []byte(a0.String()), Height: 1},
	} {
		r := query(q)
		var got AccountJSON
		if r.Code != 0 || r.Height != 1 || json.Unmarshal(r.Value, &got) != nil || got != want {
			t.Errorf("query %+v: %+v (%s), want %+v", q, r, r.Value, want)
		}
	}
	if r := query(app.Query{Path: "account", Data: []byte(addrOf(testKey(9)).String())}); r.Code != 0 || !strings.Contains(string(r.Value), `"balance":0,"nonce":0`) {
		t.Fatalf("unknown account: %+v (%s)", r, r.Value)
	}
	for _, p := range []string{"supply", "/supply"} {
		if r := query(app.Query{Path: p}); r.Code != 0 || string(r.Value) != `{"supply":100}` {
			t.Fatalf("%s: %+v (%s)", p, r, r.Value)
		}
	}
	for name, q := range map[string]app.Query{
		"bad address":  {Path: "account", Data: []byte("nope")},
		"unknown path": {Path: "balances", Data: []byte(a0.String())},
	} {
		if r := query(q); r.Code == 0 || r.Log == "" || r.Value != nil {
			t.Errorf("%s answered: %+v", name, r)
		}
	}
	if r, err := f.app.Query(ctx, app.Query{Path: "account", Data: []byte(a0.String()), Height: 2}); !errors.Is(err, app.ErrNotKept) {
		t.Errorf("a height not kept answered: %+v, %v", r, err)
	}
	if info, err := f.app.Info(ctx); err != nil || info.Name != "bank" {
		t.Fatalf("info %+v, %v", info, err)
	}
}

// TestAppHashFormula checks the app hash against smttest's oracle: the
// root of the sparse Merkle tree whose keys are the accounts' 20-byte
// addresses and whose values are their canonical encodings (balance,
// then next nonce, 8 bytes each, big-endian), at genesis and after a
// block. The stored accounts are encoded the same way.
func TestAppHashFormula(t *testing.T) {
	u64 := func(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
	addrs := []chain.Address{addrOf(testKey(0)), addrOf(testKey(1)), addrOf(testKey(2))}
	tree := func(accts map[chain.Address][2]uint64) []byte {
		state := map[string][]byte{}
		for a, v := range accts {
			state[string(a[:])] = u64(u64(nil, v[0]), v[1])
		}
		return smttest.Root(state)
	}

	f := newFixture(t, 3, 100, 50)
	if want := tree(map[chain.Address][2]uint64{addrs[0]: {100, 0}, addrs[1]: {50, 0}}); !bytes.Equal(f.genesis, want) {
		t.Fatalf("genesis app hash %x, want %x", f.genesis, want)
	}
	// Height 1: 0 pays 1 ten and 2 five (and a rejected transfer changes
	// nothing).
	res := f.execTxs(t, app.NewTxs([][]byte{f.tx(t, 0, 1, 10, 0), f.tx(t, 0, 2, 5, 1), f.tx(t, 1, 0, 1000, 0)})...)
	after := map[chain.Address][2]uint64{addrs[0]: {85, 2}, addrs[1]: {60, 0}, addrs[2]: {5, 0}}
	if want := tree(after); !bytes.Equal(res.AppHash, want) {
		t.Fatalf("root after height 1 %x, want %x", res.AppHash, want)
	}
	// Height 2, empty: the state and its root are unchanged.
	if again := f.execTxs(t); !bytes.Equal(again.AppHash, res.AppHash) {
		t.Fatalf("root after an empty height 2 %x, want %x", again.AppHash, res.AppHash)
	}
	if len(f.st.KV) != 3+2 { // 3 accounts, supply, genesis
		t.Fatalf("state holds %d keys", len(f.st.KV))
	}
	for a, v := range after {
		if got := f.st.KV["bank/acct/"+a.String()]; !bytes.Equal(got, u64(u64(nil, v[0]), v[1])) {
			t.Errorf("account %s stored as %x", a, got)
		}
	}
	// A proof of an account at height 1 verifies against that root.
	r, err := f.app.Query(ctx, app.Query{Path: "account", Data: addrs[2][:], Height: 1, Prove: true})
	if err != nil || !bytes.Equal(r.Value, u64(u64(nil, 5), 0)) {
		t.Fatalf("proof query: %+v, %v", r, err)
	}
	if err := smt.VerifyProof(res.AppHash, addrs[2][:], r.Value, r.Proof); err != nil {
		t.Fatal(err)
	}
}
