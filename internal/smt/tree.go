package smt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"unsafe"
)

// Spec is the name of the ics23 spec proofs verify under ("smt").
const Spec = "smt"

// Errors callers test with errors.Is.
var (
	ErrEmptyKey     = errors.New("smt: empty key")
	ErrEmptyValue   = errors.New("smt: empty value")
	ErrDuplicateKey = errors.New("smt: duplicate key")
	ErrLength       = errors.New("smt: keys and values differ in length")
	ErrEmptyTree    = errors.New("smt: the empty tree has no leaf to prove non-existence against (ics23 cannot express it; VerifyProof accepts an empty proof against the empty root)")
)

// emptyHash is the hash of an empty subtree, and so the empty tree's root.
var emptyHash [32]byte

// node is an inner node (left and/or right set) or, with neither child, the
// first field of a leafNode. nil is the empty subtree. Nodes are never
// written once reachable from a Tree, which is what makes versions
// immutable and readers lock-free.
//
// An inner node is 48 bytes, an allocation size class of its own: with a
// pointer to its leaf it took 64, and inner nodes are most of what an
// update allocates (one per level below the batch's shared top).
type node struct {
	hash        [32]byte
	left, right *node
}

// leafNode is a leaf: its node, which has no children, and its data.
type leafNode struct {
	n node
	l leaf
}

// leaf returns n's leaf, or nil if n is an inner node. A node without
// children is always the first field of a leafNode (join never makes an
// inner node without one), so the conversion stays within that object.
func (n *node) leaf() *leaf {
	if n.left != nil || n.right != nil {
		return nil
	}
	return &(*leafNode)(unsafe.Pointer(n)).l
}

// leaf keeps its key and value so old versions can be read and proven, and
// its path so that updates and proofs never rehash the key.
type leaf struct {
	path  [32]byte // SHA-256(key)
	key   []byte
	value []byte
}

// Tree is one version of the state. It is immutable and safe for
// concurrent readers.
type Tree struct {
	root *node
	n    int
	made int // see Made
}

// New returns the empty tree.
func New() *Tree { return &Tree{} }

// Root returns the 32-byte root hash.
func (t *Tree) Root() []byte {
	if t.root == nil {
		return make([]byte, 32)
	}
	h := t.root.hash
	return h[:]
}

// Len returns the number of keys.
func (t *Tree) Len() int { return t.n }

// Made returns the bytes of nodes, keys and values that the Update which
// made t allocated (0 for a tree from New or Build): what t holds that the
// version it was made from does not. It is also about what keeping that
// version beside t costs: t replaced there about as many nodes as it
// made, besides the leaves it deleted. Counting keys and values alone
// misses most of it: an inserted key also copies the inner nodes on its
// path.
func (t *Tree) Made() int { return t.made }

// Get returns the value of key, or ok false if it is absent. The value is
// shared with the tree and must not be modified.
func (t *Tree) Get(key []byte) (value []byte, ok bool) {
	if len(key) == 0 {
		return nil, false
	}
	path := sha256.Sum256(key)
	n := t.root
	for d := 0; n != nil; d++ {
		if l := n.leaf(); l != nil {
			if l.path == path && bytes.Equal(l.key, key) {
				return l.value, true
			}
			return nil, false
		}
		n = n.child(bit(&path, d))
	}
	return nil, false
}

func (n *node) child(right bool) *node {
	if right {
		return n.right
	}
	return n.left
}

// bit reports whether bit d of path (most significant first) is 1.
func bit(path *[32]byte, d int) bool {
	return path[d>>3]&(0x80>>(d&7)) != 0
}

func hashOf(n *node) *[32]byte {
	if n == nil {
		return &emptyHash
	}
	return &n.hash
}

// innerHash is SHA-256(0x01 || left || right); a stack buffer keeps it
// allocation-free.
func innerHash(l, r *[32]byte) [32]byte {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:33], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// leafHash is SHA-256(0x00 || path || SHA-256(value)).
func leafHash(path *[32]byte, value []byte) [32]byte {
	var buf [65]byte
	copy(buf[1:33], path[:])
	vh := sha256.Sum256(value)
	copy(buf[33:], vh[:])
	return sha256.Sum256(buf[:])
}

// join makes the parent of l and r, keeping the tree compact: a subtree
// with a single leaf is that leaf, so a leaf beside an empty sibling moves
// up. mk supplies the node when a new inner node is needed.
func join(l, r *node, mk func() *node) *node {
	switch {
	case l == nil && r == nil:
		return nil
	case l == nil && r.leaf() != nil:
		return r
	case r == nil && l.leaf() != nil:
		return l
	}
	n := mk()
	n.left, n.right = l, r
	n.hash = innerHash(hashOf(l), hashOf(r))
	return n
}

func newNode() *node { return new(node) }

// leafWithData allocates a leaf node, its leaf and a copy of key and value
// in two allocations.
func leafWithData(path *[32]byte, key, value []byte) *node {
	p := new(leafNode)
	buf := make([]byte, len(key)+len(value))
	copy(buf, key)
	copy(buf[len(key):], value)
	p.l = leaf{path: *path, key: buf[:len(key):len(key)], value: buf[len(key):]}
	p.n.hash = leafHash(path, value)
	return &p.n
}

// Walk calls fn for each key and its value in path order, which depends
// only on the tree's contents, so two nodes export the same state alike.
// It stops at fn's first error and returns it. Keys and values are shared
// with the tree and must not be modified.
func (t *Tree) Walk(fn func(key, value []byte) error) error { return walk(t.root, fn) }

func walk(n *node, fn func(key, value []byte) error) error {
	if n == nil {
		return nil
	}
	if l := n.leaf(); l != nil {
		return fn(l.key, l.value)
	}
	if err := walk(n.left, fn); err != nil {
		return err
	}
	return walk(n.right, fn)
}
