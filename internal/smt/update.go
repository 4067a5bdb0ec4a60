package smt

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"sync"
	"unsafe"
)

// op is one change of a batch; an empty value deletes.
type op struct {
	path  [32]byte
	key   []byte
	value []byte
	seq   int // index in the batch
}

// Update applies one batch and returns the new version; t is unchanged. A
// nil or empty value deletes the key; of a key given twice the later wins.
// The batch is sorted by path and applied in one descent, so each changed
// node is copied and rehashed once per batch, not once per key.
func (t *Tree) Update(keys, values [][]byte) (*Tree, error) {
	if len(keys) != len(values) {
		return nil, ErrLength
	}
	ops := make([]op, len(keys))
	for i, k := range keys {
		if len(k) == 0 {
			return nil, fmt.Errorf("%w (index %d)", ErrEmptyKey, i)
		}
		ops[i] = op{path: sha256.Sum256(k), key: k, value: values[i], seq: i}
	}
	// By path, then batch order: an unstable sort with a total order,
	// which moves these large elements far less than a stable one.
	slices.SortFunc(ops, func(x, y op) int {
		if c := bytes.Compare(x.path[:], y.path[:]); c != 0 {
			return c
		}
		return x.seq - y.seq
	})
	// Keep the last op of each key.
	w := 0
	for i := range ops {
		if i+1 < len(ops) && ops[i+1].path == ops[i].path {
			continue
		}
		ops[w] = ops[i]
		w++
	}
	ops = ops[:w]
	if len(ops) == 0 {
		return t, nil
	}
	root, c := update(t.root, 0, ops, parDepth())
	return &Tree{root: root, n: t.n + c.keys, made: c.bytes}, nil
}

// change is what an update did to a subtree: the change in its number of
// keys, and the bytes of the nodes, keys and values it allocated.
type change struct{ keys, bytes int }

func (c change) plus(o change) change { return change{c.keys + o.keys, c.bytes + o.bytes} }

// Sizes of what an update allocates, for Tree.Made.
const (
	innerSize = int(unsafe.Sizeof(node{}))
	leafSize  = int(unsafe.Sizeof(leafNode{}))
)

// joinCounted is join with the bytes of the node it allocated, if any.
func joinCounted(l, r *node) (*node, int) {
	n := join(l, r, newNode)
	if n != nil && n != l && n != r {
		return n, innerSize
	}
	return n, 0
}

// update applies ops (sorted, one per path, all sharing the first d bits
// of n's position) to the subtree n at depth d. It returns the new subtree
// and what changed; n itself is never written.
func update(n *node, d int, ops []op, par int) (*node, change) {
	if len(ops) == 0 {
		return n, change{}
	}
	if n == nil {
		f, b := fresh(ops, nil, d)
		return f, change{sets(ops), b}
	}
	if nl := n.leaf(); nl != nil {
		_, found := slices.BinarySearchFunc(ops, nl.path, func(o op, p [32]byte) int {
			return bytes.Compare(o.path[:], p[:])
		})
		if !found {
			f, b := fresh(ops, n, d)
			return f, change{sets(ops), b}
		}
		if len(ops) == 1 && bytes.Equal(ops[0].value, nl.value) {
			return n, change{}
		}
		// One of ops overwrites or deletes the leaf.
		f, b := fresh(ops, nil, d)
		return f, change{sets(ops) - 1, b}
	}
	split := splitOps(ops, d)
	var l, r *node
	var dl, dr change
	if d < par && len(ops) >= 1<<10 {
		l, r, dl, dr = updateBoth(n, d, ops, split, par)
	} else {
		l, dl = update(n.left, d+1, ops[:split], par)
		r, dr = update(n.right, d+1, ops[split:], par)
	}
	if l == n.left && r == n.right {
		return n, change{} // e.g. deletes of absent keys
	}
	j, b := joinCounted(l, r)
	return j, dl.plus(dr).plus(change{bytes: b})
}

// updateBoth updates n's two children in parallel. It is a function of
// its own because the goroutine's captured variables move to the heap:
// inline in update, that cost four allocations at every inner node
// visited, parallel or not.
func updateBoth(n *node, d int, ops []op, split, par int) (l, r *node, dl, dr change) {
	var wg sync.WaitGroup
	wg.Go(func() { l, dl = update(n.left, d+1, ops[:split], par) })
	r, dr = update(n.right, d+1, ops[split:], par)
	wg.Wait()
	return l, r, dl, dr
}

// fresh builds the subtree at depth d holding the sets among ops plus
// keep, a leaf that no op touches (or nil), and returns it with the bytes
// it allocated. Deletes in ops are of absent keys and are skipped.
func fresh(ops []op, keep *node, d int) (*node, int) {
	c := sets(ops)
	if keep != nil {
		c++
	}
	switch c {
	case 0:
		return nil, 0
	case 1:
		if keep != nil {
			return keep, 0
		}
		for i := range ops {
			if o := &ops[i]; len(o.value) > 0 {
				return leafWithData(&o.path, o.key, o.value), leafSize + len(o.key) + len(o.value)
			}
		}
	}
	split := splitOps(ops, d)
	var kl, kr *node
	if keep != nil {
		if bit(&keep.leaf().path, d) {
			kr = keep
		} else {
			kl = keep
		}
	}
	l, bl := fresh(ops[:split], kl, d+1)
	r, br := fresh(ops[split:], kr, d+1)
	j, b := joinCounted(l, r)
	return j, bl + br + b
}

func sets(ops []op) int {
	c := 0
	for i := range ops {
		if len(ops[i].value) > 0 {
			c++
		}
	}
	return c
}

// splitOps returns the index of the first op whose bit d is 1.
func splitOps(ops []op, d int) int {
	return sort.Search(len(ops), func(i int) bool { return bit(&ops[i].path, d) })
}
