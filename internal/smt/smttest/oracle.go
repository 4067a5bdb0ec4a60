// Package smttest computes the root of a sparse Merkle tree the slow,
// obvious way, for tests of the applications whose app hash the tree's
// root is: an oracle written apart from package smt, so that a test
// agreeing with both checks the rules and not one implementation.
package smttest

import "crypto/sha256"

// Root returns the root of the tree holding state (key to value; empty
// values are absent), by the rules of ics23's SmtSpec: path SHA-256(key),
// leaf SHA-256(0x00 || SHA-256(key) || SHA-256(value)), inner node
// SHA-256(0x01 || left || right), empty subtree 32 zero bytes, and a
// subtree of one leaf is that leaf.
func Root(state map[string][]byte) []byte {
	type leaf struct{ path, hash [32]byte }
	var leaves []leaf
	for k, v := range state {
		if len(v) == 0 {
			continue
		}
		kh, vh := sha256.Sum256([]byte(k)), sha256.Sum256(v)
		leaves = append(leaves, leaf{kh, sha256.Sum256(append(append([]byte{0}, kh[:]...), vh[:]...))})
	}
	var root func(ls []leaf, depth int) [32]byte
	root = func(ls []leaf, depth int) [32]byte {
		switch len(ls) {
		case 0:
			return [32]byte{}
		case 1:
			return ls[0].hash
		}
		var left, right []leaf
		for _, l := range ls {
			if l.path[depth/8]>>(7-depth%8)&1 == 0 {
				left = append(left, l)
			} else {
				right = append(right, l)
			}
		}
		l, r := root(left, depth+1), root(right, depth+1)
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
	r := root(leaves, 0)
	return r[:]
}
