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
	if n > 1<<31-1 {
		return nil, fmt.Errorf("smt: %d keys exceed 2^31-1", n)
	}

	// First pass in input order, where reads are sequential: hash, and
	// copy keys and values into one buffer (the tree must not share the
	// caller's slices).
	type entry struct {
		path, hash [32]byte
		i, klen    int32
	}
	offs := make([]int, n+1)
	for i := range keys {
		offs[i+1] = offs[i] + len(keys[i]) + len(values[i])
	}
	data := make([]byte, total)
	es := make([]entry, n)
	parallel(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			k, v := keys[i], values[i]
			copy(data[offs[i]:], k)
			copy(data[offs[i]+len(k):], v)
			e := &es[i]
			e.path = sha256.Sum256(k)
			e.hash = leafHash(&e.path, v)
			e.i, e.klen = int32(i), int32(len(k))
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
	for i := range es {
		b := es[i].path[0]
		sorted[next[b]] = es[i]
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
	for j := 1; j < n; j++ {
		if sorted[j].path == sorted[j-1].path {
			k, o := keys[sorted[j].i], keys[sorted[j-1].i]
			if bytes.Equal(k, o) {
				return nil, fmt.Errorf("%w %x", ErrDuplicateKey, k)
			}
			return nil, fmt.Errorf("smt: SHA-256 collision between keys %x and %x", k, o)
		}
	}

	// Leaves in path order.
	nodes := make([]leafNode, n)
	parallel(n, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			e := &sorted[j]
			kv := data[offs[e.i]:offs[e.i+1]:offs[e.i+1]]
			nodes[j] = leafNode{n: node{hash: e.hash}, l: leaf{path: e.path, key: kv[:e.klen:e.klen], value: kv[e.klen:]}}
		}
	})

	return &Tree{root: buildSorted(nodes, 0, parDepth()), n: n}, nil
}

// buildSorted builds the subtree at depth d over leaf nodes sorted by path
// that all share the first d bits. Below depth par it runs sequentially.
func buildSorted(ls []leafNode, d, par int) *node {
	switch len(ls) {
	case 0:
		return nil
	case 1:
		return &ls[0].n
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

func buildSeq(ls []leafNode, d int, s *slab) *node {
	switch len(ls) {
	case 0:
		return nil
	case 1:
		return &ls[0].n
	}
	split := splitNodes(ls, d)
	return join(buildSeq(ls[:split], d+1, s), buildSeq(ls[split:], d+1, s), s.get)
}

// splitNodes returns the index of the first leaf whose bit d is 1.
func splitNodes(ls []leafNode, d int) int {
	return sort.Search(len(ls), func(i int) bool { return bit(&ls[i].l.path, d) })
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
