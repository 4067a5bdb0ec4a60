package bank

import (
	"fmt"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/authstate"
	"github.com/strategos/strategos/internal/chain"
)

var _ app.Snapshotter = (*App)(nil)

// ExportState implements app.Snapshotter: the pairs are the accounts'
// 20-byte addresses and their canonical encodings (DecodeAccount).
func (a *App) ExportState(height uint64, fn func(key, value []byte) error) error {
	return a.tree.Walk(height, fn)
}

// RestoreState implements app.Snapshotter: the accounts of the pairs, and
// the genesis digest and supply that InitChain writes. Nothing else of the
// state depends on the blocks executed.
func (a *App) RestoreState(g app.Genesis, height uint64, keys, values [][]byte) (map[string][]byte, []byte, error) {
	_, gd, supply, err := a.parseGenesis(g)
	if err != nil {
		return nil, nil, err
	}
	puts, root, err := authstate.Restore(keys, values, restoreKey)
	if err != nil {
		return nil, nil, fmt.Errorf("bank: restore height %d: %w", height, err)
	}
	putGenesis(puts, gd, supply)
	return puts, root, nil
}

// restoreKey returns the store key of an exported account.
func restoreKey(key, value []byte) (string, error) {
	var addr chain.Address
	if len(key) != len(addr) {
		return "", fmt.Errorf("key of %d bytes, want an address of %d", len(key), len(addr))
	}
	if _, err := decodeAccount(value); err != nil {
		return "", err
	}
	copy(addr[:], key)
	return acctKey(addr), nil
}
