package bank

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/apptest"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// memState is the shared in-memory app.State.
type memState = apptest.MemState

func newMemState() *memState { return apptest.NewMemState() }

// tb is what the helpers need of a test: testing.TB or *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

const testChain = "strategos-test"

var ctx = context.Background()

// testKey returns a deterministic key for index i.
func testKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "bank test key %d", i))
	return ed25519.NewKeyFromSeed(seed[:])
}

func addrOf(k ed25519.PrivateKey) chain.Address {
	return chain.AddressOf(k.Public().(ed25519.PublicKey))
}

// genesisOf returns the genesis whose app state funds accounts, as the
// node builds it from a genesis file.
func genesisOf(t tb, accounts []config.GenesisAccount) app.Genesis {
	t.Helper()
	b, err := json.Marshal(accounts)
	if err != nil {
		t.Fatal(err)
	}
	return app.Genesis{ChainID: testChain, AppState: b, InitialHeight: 1}
}

// newApp returns an application over st, closed when the test ends.
func newApp(t tb, st app.State, chainID string) *App {
	a := New(st, chainID)
	t.Cleanup(func() { a.Close() })
	return a
}

// fixture is an app over a fresh memState whose first len(balances) test
// keys are funded at genesis.
type fixture struct {
	app     *App
	st      *memState
	keys    []ed25519.PrivateKey
	gen     app.Genesis // what InitChain was given
	genesis []byte      // what InitChain returned
}

func newFixture(t tb, nkeys int, balances ...uint64) *fixture {
	t.Helper()
	f := &fixture{st: newMemState()}
	f.app = newApp(t, f.st, testChain)
	var gen []config.GenesisAccount
	for i := range nkeys {
		f.keys = append(f.keys, testKey(i))
		if i < len(balances) {
			gen = append(gen, config.GenesisAccount{Address: addrOf(f.keys[i]).String(), Balance: balances[i]})
		}
	}
	f.gen = genesisOf(t, gen)
	gd, err := f.app.InitChain(ctx, f.gen)
	if err != nil {
		t.Fatal(err)
	}
	f.genesis = gd
	return f
}

// tx signs a transfer from key i to key j for this test chain.
func (f *fixture) tx(t tb, i, j int, amount, nonce uint64) []byte {
	t.Helper()
	b, err := Sign(f.keys[i], testChain, addrOf(f.keys[j]), amount, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// account returns the committed balance and nonce of key i.
func (f *fixture) account(t tb, i int) (balance, nonce uint64) {
	t.Helper()
	b, n, _, err := f.app.Account(addrOf(f.keys[i]))
	if err != nil {
		t.Fatal(err)
	}
	return b, n
}

// pendingNonce returns the next nonce of key i once its pending transfers
// apply.
func (f *fixture) pendingNonce(t tb, i int) uint64 {
	t.Helper()
	_, _, p, err := f.app.Account(addrOf(f.keys[i]))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// check admits txs as new transactions and returns the refusals.
func (f *fixture) check(t tb, kind app.CheckKind, txs ...*app.Tx) []error {
	t.Helper()
	errs, err := f.app.CheckTx(ctx, kind, txs)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != len(txs) {
		t.Fatalf("%d answers to %d transactions", len(errs), len(txs))
	}
	return errs
}

// exec finalizes txs at the next height, commits the block's writes and
// the application as the node does, and fails the test on error.
func (f *fixture) exec(t tb, txs ...[]byte) []bool {
	t.Helper()
	res := f.execTxs(t, app.NewTxs(txs)...)
	ok := make([]bool, len(res.TxResults))
	for i, r := range res.TxResults {
		ok[i] = r.OK()
	}
	return ok
}

// execTxs is exec for transactions the test built (and may have checked).
func (f *fixture) execTxs(t tb, txs ...*app.Tx) app.BlockResult {
	t.Helper()
	res, err := f.app.finalizeCommit(f.st, txs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TxResults) != len(txs) {
		t.Fatalf("%d results for %d transactions", len(res.TxResults), len(txs))
	}
	return res
}

// finalizeCommit finalizes a block of txs at the state's next height,
// records its writes in st and commits the application, as the node does.
func (a *App) finalizeCommit(st *memState, txs []*app.Tx) (app.BlockResult, error) {
	h, _ := st.AppState()
	return a.finalizeCommitAt(st, h+1, txs)
}

func (a *App) finalizeCommitAt(st *memState, height uint64, txs []*app.Tx) (app.BlockResult, error) {
	res, err := a.FinalizeBlock(ctx, app.Block{Height: height, Txs: txs})
	if err != nil {
		return res, err
	}
	if err := st.Commit(height, res.AppHash, res.Writes); err != nil {
		return res, err
	}
	return res, a.Commit(ctx)
}

// code returns the code of a CheckTx refusal (0 for none), failing the
// test when the refusal is not an *app.TxError.
func code(t tb, err error) uint32 {
	t.Helper()
	if err == nil {
		return 0
	}
	te, ok := err.(*app.TxError)
	if !ok {
		t.Fatalf("refusal %v is a %T, not an *app.TxError", err, err)
	}
	return te.Code
}
