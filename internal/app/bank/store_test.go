package bank

import (
	"path/filepath"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/store"
)

var _ State = (*store.Store)(nil)

// TestGenesisOnStore initialises the genesis on the real store, reopens
// it as a restarted node does, and initialises again.
func TestGenesisOnStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	gen := []config.GenesisAccount{{Address: addrOf(testKey(0)).String(), Balance: 42}}
	for range 2 {
		st, err := store.Open(path, testChain, chain.Hash{1})
		if err != nil {
			t.Fatal(err)
		}
		a := New(st, testChain)
		if err := a.InitGenesis(gen); err != nil {
			t.Fatal(err)
		}
		if b, n := a.Account(addrOf(testKey(0))); b != 42 || n != 0 {
			t.Fatalf("account %d, %d", b, n)
		}
		if err := a.CheckTx(mustSign(t, 0, 1, 42, 0)); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func mustSign(t *testing.T, i, j int, amount, nonce uint64) []byte {
	b, err := Sign(testKey(i), testChain, addrOf(testKey(j)), amount, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
