package bank

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// memState is an in-memory app.State. commit applies a block's writes with
// its height and app hash, as the node does in one durable write. It
// counts writes so tests can prove that nothing changed.
type memState struct {
	mu      sync.RWMutex
	kv      map[string][]byte
	height  uint64
	root    []byte
	writes  int               // AppPut and commit calls
	lastPut map[string][]byte // puts of the last commit
	getErr  error             // when set, AppGet fails with it
}

var _ app.State = (*memState)(nil)

func newMemState() *memState { return &memState{kv: make(map[string][]byte)} }

func (m *memState) AppGet(key string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.getErr != nil {
		return nil, false, m.getErr
	}
	v, ok := m.kv[key]
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

func (m *memState) AppPut(puts map[string][]byte, deletes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(puts, deletes)
	return nil
}

// commit records the writes of the block at height, whose app hash is
// root, with the store's ordering rule.
func (m *memState) commit(height uint64, root []byte, w *app.Writes) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if height != m.height+1 {
		return fmt.Errorf("memstate: height %d after %d", height, m.height)
	}
	var puts map[string][]byte
	var deletes []string
	if w != nil {
		puts, deletes = w.Puts, w.Deletes
	}
	m.write(puts, deletes)
	m.height, m.root = height, bytes.Clone(root)
	m.lastPut = maps.Clone(puts)
	return nil
}

func (m *memState) write(puts map[string][]byte, deletes []string) {
	m.writes++
	for _, k := range deletes {
		delete(m.kv, k)
	}
	for k, v := range puts {
		m.kv[k] = bytes.Clone(v)
	}
}

func (m *memState) AppState() (uint64, []byte) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.height, m.root
}

// snapshot returns a copy of everything, for before/after comparisons.
func (m *memState) snapshot() (map[string]string, uint64, string, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]string, len(m.kv))
	for k, v := range m.kv {
		out[k] = string(v)
	}
	return out, m.height, string(m.root), m.writes
}

func (m *memState) clone() *memState {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &memState{kv: make(map[string][]byte, len(m.kv)), height: m.height, root: bytes.Clone(m.root)}
	for k, v := range m.kv {
		c.kv[k] = bytes.Clone(v)
	}
	return c
}

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
	genesis []byte // what InitChain returned
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
	gd, err := f.app.InitChain(ctx, genesisOf(t, gen))
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
	if err := st.commit(height, res.AppHash, res.Writes); err != nil {
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

func (m *memState) AppScan(prefix string, fn func(key, value []byte) error) error {
	m.mu.RLock()
	keys := make([]string, 0, len(m.kv))
	for k := range m.kv {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	m.mu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys {
		v, ok, err := m.AppGet(k)
		if err != nil {
			return err
		}
		if ok {
			if err := fn([]byte(k), v); err != nil {
				return err
			}
		}
	}
	return nil
}
