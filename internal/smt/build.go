package smt

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
)

// Build returns the tree holding keys[i] → values[i]. It is the startup
// path (up to millions of keys): keys are hashed and sorted once, leaves
// and their data live in three slices, and the tree is built bottom-up
// over the sorted leaves in parallel, so each inner node is hashed once.
// Duplicate keys, empty keys and empty values are errors.
func Build(keys, values [][]byte) (*Tree, error) {
	if len(keys) != len(values) {
		return nil, ErrLength
	}
	n := len(keys)
	total := 0
	for i := range keys {
		if len(keys[i]) == 0 {
			return nil, fmt.Errorf("%w (index %d)", ErrEmptyKey, i)
		}
		if len(values[i]) == 0 {
			return nil, fmt.Errorf("%w (index %d)", ErrEmptyValue, i)
		}
		total += len(keys[i]) + len(values[i])
	}
	if n == 0 {
		return New(), nil
	}

	type entry struct {
		path [32]byte
		i    int
	}
	es := make([]entry, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			es[i] = entry{sha256.Sum256(keys[i]), i}
		}
	})

	// Paths are uniform, so a counting sort on the first byte splits the
	// work into 256 independent sorts.
	var start [257]int
	for i := range es {
		start[int(es[i].path[0])+1]++
	}
	for b := 1; b <= 256; b++ {
		start[b] += start[b-1]
	}
	sorted := make([]entry, n)
	next := start
	for _, e := range es {
		b := e.path[0]
		sorted[next[b]] = e
		next[b]++
	}
	es = nil
	parallel(256, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			slices.SortFunc(sorted[start[b]:start[b+1]], func(x, y entry) int {
				return bytes.Compare(x.path[:], y.path[:])
			})
		}
	})
	for i := 1; i < n; i++ {
		if sorted[i].path == sorted[i-1].path {
			k := keys[sorted[i].i]
			if bytes.Equal(k, keys[sorted[i-1].i]) {
				return nil, fmt.Errorf("%w %x", ErrDuplicateKey, k)
			}
			return nil, fmt.Errorf("smt: SHA-256 collision between keys %x and %x", k, keys[sorted[i-1].i])
		}
	}

	// Leaves in path order, each pointing into one data buffer.
	nodes := make([]node, n)
	leaves := make([]leaf, n)
	offs := make([]int, n+1)
	for j, e := range sorted {
		offs[j+1] = offs[j] + len(keys[e.i]) + len(values[e.i])
	}
	data := make([]byte, total)
	parallel(n, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			e := &sorted[j]
			k, v := keys[e.i], values[e.i]
			buf := data[offs[j]:offs[j+1]:offs[j+1]]
			copy(buf, k)
			copy(buf[len(k):], v)
			leaves[j] = leaf{path: e.path, key: buf[:len(k):len(k)], value: buf[len(k):]}
			nodes[j] = node{hash: leafHash(&e.path, v), leaf: &leaves[j]}
		}
	})

	return &Tree{root: buildSorted(nodes, 0, parDepth()), n: n}, nil
}

// buildSorted builds the subtree at depth d over leaf nodes sorted by path
// that all share the first d bits. Below depth par it runs sequentially.
func buildSorted(ls []node, d, par int) *node {
	switch len(ls) {
	case 0:
		return nil
	case 1:
		return &ls[0]
	}
	if d >= par || len(ls) < 1<<12 {
		s := slab{size: min(len(ls), 1<<12)}
		return buildSeq(ls, d, &s)
	}
	split := splitNodes(ls, d)
	var l *node
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l = buildSorted(ls[:split], d+1, par)
	}()
	r := buildSorted(ls[split:], d+1, par)
	wg.Wait()
	var s slab
	s.size = 1
	return join(l, r, s.get)
}

func buildSeq(ls []node, d int, s *slab) *node {
	switch len(ls) {
	case 0:
		return nil
	case 1:
		return &ls[0]
	}
	split := splitNodes(ls, d)
	return join(buildSeq(ls[:split], d+1, s), buildSeq(ls[split:], d+1, s), s.get)
}

// splitNodes returns the index of the first leaf whose bit d is 1.
func splitNodes(ls []node, d int) int {
	return sort.Search(len(ls), func(i int) bool { return bit(&ls[i].leaf.path, d) })
}

// slab hands out inner nodes from chunks, so a build costs one allocation
// per few thousand nodes instead of one per node. Update does not use it:
// a chunk stays reachable while any of its nodes is, and nodes written by
// one block outlive it for thousands of blocks, so chunks there would pin
// dead versions.
type slab struct {
	free []node
	size int
}

func (s *slab) get() *node {
	if len(s.free) == 0 {
		s.free = make([]node, s.size)
	}
	n := &s.free[0]
	s.free = s.free[1:]
	return n
}

// parDepth is the depth above which subtrees are built in parallel: enough
// subtrees to keep every processor busy.
func parDepth() int {
	d := 0
	for 1<<d < 2*runtime.GOMAXPROCS(0) {
		d++
	}
	return d
}

// parallel runs f over [0, n) split into one range per processor.
func parallel(n int, f func(lo, hi int)) {
	p := runtime.GOMAXPROCS(0)
	if p == 1 || n < 2 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		lo, hi := n*w/p, n*(w+1)/p
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
