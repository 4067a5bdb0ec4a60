package kv

import (
	"fmt"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/authstate"
)

var _ app.Snapshotter = (*App)(nil)

// ExportState implements app.Snapshotter: the pairs are the keys and
// values set.
func (a *App) ExportState(height uint64, fn func(key, value []byte) error) error {
	return a.tree.Walk(height, fn)
}

// RestoreState implements app.Snapshotter: the state is the pairs alone
// (the genesis sets nothing), each stored under keyPrefix.
func (*App) RestoreState(_ app.Genesis, height uint64, keys, values [][]byte) (map[string][]byte, []byte, error) {
	puts, root, err := authstate.Restore(keys, values, func(key, _ []byte) (string, error) {
		return keyPrefix + string(key), nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kv: restore height %d: %w", height, err)
	}
	return puts, root, nil
}
