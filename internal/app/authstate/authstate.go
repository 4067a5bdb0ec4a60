// Package authstate keeps the state of an in-process application (bank,
// kv) in an authenticated tree (package smt) whose root is the
// application's app hash, and keeps the trees of its latest heights so
// that it can prove a key's value, or its absence, at any of them.
//
// Versions share structure (smt's nodes are immutable), so keeping the
// latest Keep heights costs only the nodes that those heights changed.
// The trees live in memory and are rebuilt from the application's stored
// state at startup; heights before the restart cannot be proven then
// (app.ErrNotKept), which the API answers 410.
package authstate

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	ics23 "github.com/cosmos/ics23/go"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/smt"
)

// DefaultKeep is how many of the latest heights can be proven.
const DefaultKeep = 100

// MaxVersionBytes bounds what the kept versions below the latest hold
// that the latest does not, in bytes of the tree's nodes, keys and values
// (smt.Tree.Made): large values overwritten block after block, or blocks
// of thousands of new keys, would otherwise keep up to DefaultKeep blocks
// of them in memory. Past it the oldest versions go first, whatever
// DefaultKeep allows. Counted in keys and values alone, as it once was,
// the bound let several times as much stay reachable (each new key also
// copies the inner nodes on its path), all of it traced by the garbage
// collector at every cycle (docs/performance.md).
const MaxVersionBytes = 16 << 20

// Tree is the versioned authenticated state. Its methods are safe for
// concurrent use.
type Tree struct {
	keep int

	mu   sync.RWMutex
	vers []version // ascending heights, consecutive, at most keep
}

type version struct {
	height uint64
	t      *smt.Tree
	bytes  int // what it holds apart from the version below (smt.Tree.Made)
}

// Load builds the tree of the state at height from all its keys and
// values.
func Load(height uint64, keys, values [][]byte, keep int) (*Tree, error) {
	t, err := smt.Build(keys, values)
	if err != nil {
		return nil, fmt.Errorf("authstate: build the tree of height %d: %w", height, err)
	}
	return &Tree{keep: max(keep, 1), vers: []version{{height: height, t: t}}}, nil
}

// Latest returns the latest height and its root.
func (s *Tree) Latest() (uint64, []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := s.vers[len(s.vers)-1]
	return v.height, v.t.Root()
}

// Has reports whether the tree of height is kept.
func (s *Tree) Has(height uint64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.find(height)
	return ok
}

// Apply makes the tree of height from that of height-1 and the block's
// changes (a nil or empty value deletes), and returns its root. Applying
// a height again (a block finalized again after its writes were lost)
// replaces it and forgets the heights above.
func (s *Tree) Apply(height uint64, keys, values [][]byte) ([]byte, error) {
	s.mu.RLock()
	base, ok := s.find(height - 1)
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("authstate: no tree of height %d to apply height %d to", height-1, height)
	}
	next, err := base.Update(keys, values)
	if err != nil {
		return nil, fmt.Errorf("authstate: apply height %d: %w", height, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := len(s.vers)
	for i > 0 && s.vers[i-1].height >= height {
		i--
	}
	s.vers = append(s.vers[:i], version{height, next, next.Made()})
	s.trim()
	return next.Root(), nil
}

// trim drops the oldest versions beyond keep, and beyond MaxVersionBytes
// of what the versions above them wrote; the caller holds mu.
func (s *Tree) trim() {
	over := len(s.vers) - s.keep
	written := 0
	for j := len(s.vers) - 1; j > 0; j-- {
		// Version j-1 stays only while the writes that made the versions
		// above it are within the budget: those are what it holds apart.
		written += s.vers[j].bytes
		if written > MaxVersionBytes {
			over = max(over, j)
			break
		}
	}
	if over > 0 {
		s.vers = append(s.vers[:0:0], s.vers[over:]...)
	}
}

// find returns the tree of height; the caller holds mu.
func (s *Tree) find(height uint64) (*smt.Tree, bool) {
	first := s.vers[0].height
	if height < first || height-first >= uint64(len(s.vers)) {
		return nil, false
	}
	return s.vers[height-first].t, true
}

// at returns the tree of height, or a *app.NotKeptError saying which
// heights are kept.
func (s *Tree) at(height uint64) (*smt.Tree, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t, ok := s.find(height); ok {
		return t, nil
	}
	return nil, &app.NotKeptError{Height: height, Earliest: s.vers[0].height, Latest: s.vers[len(s.vers)-1].height}
}

// Walk calls fn for each key and value of the tree of height, in the
// tree's path order (smt.Tree.Walk); a height not kept is a
// *app.NotKeptError.
func (s *Tree) Walk(height uint64, fn func(key, value []byte) error) error {
	t, err := s.at(height)
	if err != nil {
		return err
	}
	return t.Walk(fn)
}

// Restore checks the pairs of a state export (app.Snapshotter) and returns
// the store writes that hold them and the root of their tree. storeKey
// returns a pair's store key, or why the application refuses the pair;
// puts share values. Whatever the application, empty keys and values are
// refused (the tree cannot hold them), and so are duplicate keys.
func Restore(keys, values [][]byte, storeKey func(key, value []byte) (string, error)) (puts map[string][]byte, root []byte, err error) {
	if len(keys) != len(values) {
		return nil, nil, fmt.Errorf("authstate: %d keys with %d values", len(keys), len(values))
	}
	if len(keys) > app.MaxRestorePairs {
		return nil, nil, fmt.Errorf("authstate: %d pairs, more than %d", len(keys), app.MaxRestorePairs)
	}
	puts = make(map[string][]byte, len(keys))
	for i, k := range keys {
		sk, err := restoreKey(k, values[i], storeKey)
		if _, dup := puts[sk]; err == nil && dup {
			err = errors.New("duplicate key")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("authstate: pair %d (key %.32x): %w", i, k, err)
		}
		puts[sk] = values[i]
	}
	t, err := smt.Build(keys, values)
	if err != nil {
		return nil, nil, fmt.Errorf("authstate: %w", err)
	}
	return puts, t.Root(), nil
}

func restoreKey(key, value []byte, storeKey func(key, value []byte) (string, error)) (string, error) {
	switch {
	case len(key) == 0:
		return "", smt.ErrEmptyKey
	case len(value) == 0:
		return "", smt.ErrEmptyValue
	}
	return storeKey(key, value)
}

// Proof is a key's value at a height, with its proof.
type Proof struct {
	Height uint64
	Value  []byte // nil when the key is absent
	Root   []byte
	Proof  *ics23.CommitmentProof // nil for the empty tree
}

// Prove proves key's value, or its absence, at height (0: the latest).
func (s *Tree) Prove(height uint64, key []byte) (Proof, error) {
	if height == 0 {
		height, _ = s.Latest()
	}
	t, err := s.at(height)
	if err != nil {
		return Proof{}, err
	}
	p, err := t.Prove(key)
	switch {
	case errors.Is(err, smt.ErrEmptyTree):
		// ICS23 cannot express absence from the empty tree: the proof is
		// empty, and smt.VerifyProof accepts it against the zero root.
		p = nil
	case err != nil:
		return Proof{}, fmt.Errorf("authstate: prove at height %d: %w", height, err)
	}
	v, _ := t.Get(key)
	return Proof{Height: height, Value: v, Root: t.Root(), Proof: p}, nil
}

// Lazy is the tree of an application's stored state, built from the
// store on first use (and again if it lacks the stored height).
type Lazy struct {
	st     app.State
	prefix string                              // of the application's keys in st
	key    func(stored []byte) ([]byte, error) // a stored key, prefix removed, to the tree's

	mu   sync.Mutex
	tree *Tree
}

// NewLazy returns the tree of the keys of st under prefix; key maps a
// stored key (without prefix) to the tree's key.
func NewLazy(st app.State, prefix string, key func(stored []byte) ([]byte, error)) *Lazy {
	return &Lazy{st: st, prefix: prefix, key: key}
}

// Tree returns the tree, building it when it lacks the stored height (at
// startup). It may also hold a height being finalized, above the stored
// one.
func (l *Lazy) Tree() (*Tree, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	height, _ := l.st.AppState()
	if l.tree != nil && l.tree.Has(height) {
		return l.tree, nil
	}
	var keys, values [][]byte
	err := l.st.AppScan(l.prefix, func(k, v []byte) error {
		tk, err := l.key(k[len(l.prefix):])
		if err != nil {
			return fmt.Errorf("authstate: stored key %q: %w", k, err)
		}
		keys, values = append(keys, tk), append(values, bytes.Clone(v))
		return nil
	})
	if err != nil {
		return nil, err
	}
	t, err := Load(height, keys, values, DefaultKeep)
	if err != nil {
		return nil, err
	}
	l.tree = t
	return t, nil
}

// Walk calls fn for each key and value of the tree of height, as
// Tree.Walk does.
func (l *Lazy) Walk(height uint64, fn func(key, value []byte) error) error {
	t, err := l.Tree()
	if err != nil {
		return err
	}
	return t.Walk(height, fn)
}

// Query answers q from the tree of q.Height (0: the latest): res with
// Height and Value set, and with q.Prove the proof. A height not kept is
// an error wrapping app.ErrNotKept.
func (l *Lazy) Query(key []byte, q app.Query, res app.QueryResult) (app.QueryResult, error) {
	t, err := l.Tree()
	if err != nil {
		return res, err
	}
	p, err := t.Prove(q.Height, key)
	if err != nil {
		return res, err
	}
	res.Height, res.Value = p.Height, p.Value
	res.Log = "does not exist"
	if p.Value != nil {
		res.Log = "exists"
	}
	if q.Prove {
		res.ProofSpec = smt.Spec
		if p.Proof != nil {
			if res.Proof, err = p.Proof.Marshal(); err != nil {
				return res, fmt.Errorf("authstate: encode proof: %w", err)
			}
		}
	}
	return res, nil
}
