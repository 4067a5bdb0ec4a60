// Package apptest holds what the tests of the in-process applications
// share: an in-memory app.State that commits as the node does.
package apptest

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/strategos/strategos/internal/app"
)

// MemState is an in-memory app.State. Commit applies a block's writes with
// its height and app hash, as the node does in one durable write. It
// counts writes so tests can prove that nothing changed. Tests may read
// and set its fields directly while no application runs on it.
type MemState struct {
	mu      sync.RWMutex
	KV      map[string][]byte
	Height  uint64
	Root    []byte
	Writes  int               // AppPut and Commit calls
	LastPut map[string][]byte // puts of the last Commit
	GetErr  error             // when set, AppGet fails with it
}

var _ app.State = (*MemState)(nil)

// NewMemState returns an empty state at height 0.
func NewMemState() *MemState { return &MemState{KV: make(map[string][]byte)} }

// AppGet implements app.State.
func (m *MemState) AppGet(key string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.GetErr != nil {
		return nil, false, m.GetErr
	}
	v, ok := m.KV[key]
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

// AppPut implements app.State.
func (m *MemState) AppPut(puts map[string][]byte, deletes []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.write(puts, deletes)
	return nil
}

// AppState implements app.State.
func (m *MemState) AppState() (uint64, []byte) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.Height, m.Root
}

// AppScan implements app.State.
func (m *MemState) AppScan(prefix string, fn func(key, value []byte) error) error {
	m.mu.RLock()
	keys := make([]string, 0, len(m.KV))
	for k := range m.KV {
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

// Commit records the writes w (nil: none) of the block at height, whose
// app hash is root, with the store's ordering rule.
func (m *MemState) Commit(height uint64, root []byte, w *app.Writes) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if height != m.Height+1 {
		return fmt.Errorf("memstate: height %d after %d", height, m.Height)
	}
	var puts map[string][]byte
	var deletes []string
	if w != nil {
		puts, deletes = w.Puts, w.Deletes
	}
	m.write(puts, deletes)
	m.Height, m.Root = height, bytes.Clone(root)
	m.LastPut = maps.Clone(puts)
	return nil
}

func (m *MemState) write(puts map[string][]byte, deletes []string) {
	m.Writes++
	for _, k := range deletes {
		delete(m.KV, k)
	}
	for k, v := range puts {
		m.KV[k] = bytes.Clone(v)
	}
}

// Snapshot returns a copy of everything, for before/after comparisons.
func (m *MemState) Snapshot() (map[string]string, uint64, string, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]string, len(m.KV))
	for k, v := range m.KV {
		out[k] = string(v)
	}
	return out, m.Height, string(m.Root), m.Writes
}

// Clone returns a deep copy of the state (not of its counters).
func (m *MemState) Clone() *MemState {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := &MemState{KV: make(map[string][]byte, len(m.KV)), Height: m.Height, Root: bytes.Clone(m.Root)}
	for k, v := range m.KV {
		c.KV[k] = bytes.Clone(v)
	}
	return c
}

// Restored returns the state a node holds after restoring puts, the
// state of height whose app hash is root (app.Snapshotter).
func Restored(puts map[string][]byte, height uint64, root []byte) *MemState {
	m := NewMemState()
	m.write(puts, nil)
	m.Height, m.Root = height, bytes.Clone(root)
	return m
}

// Export returns copies of the pairs that s exports at height.
func Export(s app.Snapshotter, height uint64) (keys, values [][]byte, err error) {
	err = s.ExportState(height, func(k, v []byte) error {
		keys, values = append(keys, bytes.Clone(k)), append(values, bytes.Clone(v))
		return nil
	})
	return keys, values, err
}

// Scan returns every key and value of st, as AppScan reads them.
func Scan(st app.State) (map[string]string, error) {
	out := make(map[string]string)
	err := st.AppScan("", func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	})
	return out, err
}
