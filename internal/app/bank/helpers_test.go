package bank

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"maps"
	"sync"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// memState is an in-memory State with the store's ordering rule for
// AppCommit. It counts writes so tests can prove that nothing changed.
type memState struct {
	mu      sync.RWMutex
	kv      map[string][]byte
	height  uint64
	root    chain.Hash
	writes  int               // AppPut and AppCommit calls
	lastPut map[string][]byte // puts of the last AppCommit
}

func newMemState() *memState { return &memState{kv: make(map[string][]byte)} }

func (m *memState) AppGet(key string) ([]byte, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.kv[key]
	if !ok {
		return nil, false
	}
	return append([]byte{}, v...), true
}

func (m *memState) AppPut(puts map[string][]byte, deletes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(puts, deletes)
	return nil
}

func (m *memState) AppCommit(height uint64, root chain.Hash, puts map[string][]byte, deletes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if height != m.height+1 {
		return fmt.Errorf("memstate: height %d after %d", height, m.height)
	}
	m.write(puts, deletes)
	m.height, m.root = height, root
	m.lastPut = maps.Clone(puts)
	return nil
}

func (m *memState) write(puts map[string][]byte, deletes []string) {
	m.writes++
	for _, k := range deletes {
		delete(m.kv, k)
	}
	for k, v := range puts {
		m.kv[k] = append([]byte{}, v...)
	}
}

func (m *memState) AppState() (uint64, chain.Hash) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.height, m.root
}

// snapshot returns a copy of everything, for before/after comparisons.
func (m *memState) snapshot() (map[string]string, uint64, chain.Hash, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]string, len(m.kv))
	for k, v := range m.kv {
		out[k] = string(v)
	}
	return out, m.height, m.root, m.writes
}

func (m *memState) clone() *memState {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &memState{kv: make(map[string][]byte, len(m.kv)), height: m.height, root: m.root}
	for k, v := range m.kv {
		c.kv[k] = append([]byte{}, v...)
	}
	return c
}

// tb is what the helpers need of a test: testing.TB or *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

const testChain = "strategos-test"

// testKey returns a deterministic key for index i.
func testKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "bank test key %d", i))
	return ed25519.NewKeyFromSeed(seed[:])
}

func addrOf(k ed25519.PrivateKey) chain.Address {
	return chain.AddressOf(k.Public().(ed25519.PublicKey))
}

// fixture is an app over a fresh memState whose first len(balances) test
// keys are funded at genesis.
type fixture struct {
	app  *App
	st   *memState
	keys []ed25519.PrivateKey
}

func newFixture(t tb, nkeys int, balances ...uint64) *fixture {
	t.Helper()
	f := &fixture{st: newMemState()}
	f.app = New(f.st, testChain)
	var gen []config.GenesisAccount
	for i := range nkeys {
		f.keys = append(f.keys, testKey(i))
		if i < len(balances) {
			gen = append(gen, config.GenesisAccount{Address: addrOf(f.keys[i]).String(), Balance: balances[i]})
		}
	}
	if err := f.app.InitGenesis(gen); err != nil {
		t.Fatal(err)
	}
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

func (f *fixture) account(i int) (balance, nonce uint64) { return f.app.Account(addrOf(f.keys[i])) }

// exec executes txs at the next height and fails the test on error.
func (f *fixture) exec(t tb, txs ...[]byte) []bool {
	t.Helper()
	h, _ := f.app.Info()
	res, err := f.app.executeCommit(h+1, txs)
	if err != nil {
		t.Fatal(err)
	}
	ok := make([]bool, len(res.Results))
	for i, r := range res.Results {
		ok[i] = r.OK
		if r.Hash != chain.TxHash(txs[i]) {
			t.Fatalf("result %d hash %s, want %s", i, r.Hash.Short(), chain.TxHash(txs[i]).Short())
		}
	}
	return ok
}

// executeCommit executes a block and commits its writes as the node does.
func (a *App) executeCommit(height uint64, txs [][]byte) (app.BlockResult, error) {
	res, err := a.Execute(height, txs)
	if err != nil {
		return res, err
	}
	c, ok := a.st.(interface {
		AppCommit(uint64, chain.Hash, map[string][]byte, []string) error
	})
	if !ok {
		return res, fmt.Errorf("state %T cannot commit", a.st)
	}
	return res, c.AppCommit(height, res.StateRoot, res.Puts, res.Deletes)
}
