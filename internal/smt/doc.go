// Package smt is the ledger's authenticated key/value state: a compact,
// binary, sparse Merkle tree held in memory, whose proofs are ICS23
// proofs that verify under ics23.SmtSpec, so that a light client (or an
// IBC counterparty) can check a value against the app hash alone.
//
// Hashing scheme (the one of Celestia's SMT, for which ics23.SmtSpec was
// written):
//
//	path(key)    = SHA-256(key), 256 bits, most significant bit first;
//	               bit d chooses the left (0) or right (1) child at depth d
//	leaf         = SHA-256(0x00 || SHA-256(key) || SHA-256(value))
//	inner        = SHA-256(0x01 || left || right)
//	empty        = 32 zero bytes (an empty subtree, and the empty tree's root)
//
// The tree is compact: a subtree that holds a single leaf is that leaf, so a
// leaf sits at the depth where its path first differs from every other
// path, and an inner node has an empty child only above two or more leaves
// that share a longer prefix.
//
// Versions are immutable. Update copies the changed paths and shares the
// rest with the version it started from, so every version stays readable
// and provable, and readers need no lock.
//
// An empty value cannot be proven (an ICS23 leaf needs a value), so an empty
// value means "absent": Update deletes the key. The empty tree has no leaf
// to anchor a non-existence proof, which ICS23 cannot express; Prove returns
// ErrEmptyTree there and VerifyProof accepts non-membership against the
// empty root with an empty proof.
package smt
