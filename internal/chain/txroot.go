package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
)

// The payload hash is a binary Merkle tree over the transactions' hashes,
// shaped as in RFC 6962 and CometBFT's crypto/merkle: a tree of n > 1
// leaves splits at the largest power of two below n. The prefixes 0x00 and
// 0x01 keep a leaf from ever being read as an inner node (a second
// preimage); the tree is CometBFT's over the same leaf bytes.
//
// The root departs from both in one step: it is SHA-256(0x02 || n as 8
// bytes big-endian || tree root), so it commits to the count n. The shape
// of a path depends on n but its aunts do not show it, so without this a
// proof of the leaf at index i could be passed off as one at another
// index of a block with another count (3 of 4 verifying as 2 of 3, say);
// with it, Total and Index are proven along with the transaction, for one
// hash more.
const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
	rootPrefix  = 0x02
)

// maxProofAunts bounds a proof's aunts before anything is hashed: 64 is
// the depth of any tree with a uint64 count, far above what MaxBlockTxs
// needs (14), so the bound costs honest proofs nothing.
const maxProofAunts = 64

// ErrTxProof is wrapped by every error of TxProof.Verify.
var ErrTxProof = errors.New("chain: transaction proof")

func leafHash(tx Hash) Hash {
	var b [1 + len(Hash{})]byte
	b[0] = leafPrefix
	copy(b[1:], tx[:])
	return sha256.Sum256(b[:])
}

func innerHash(l, r Hash) Hash {
	var b [1 + 2*len(Hash{})]byte
	b[0] = innerPrefix
	copy(b[1:], l[:])
	copy(b[1+len(l):], r[:])
	return sha256.Sum256(b[:])
}

// splitPoint returns the size of the left subtree of a tree of n > 1
// leaves: the largest power of two below n.
func splitPoint(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// countedRoot binds a tree root to its count of leaves.
func countedRoot(total uint64, tree Hash) Hash {
	var b [1 + 8 + len(Hash{})]byte
	b[0] = rootPrefix
	binary.BigEndian.PutUint64(b[1:], total)
	copy(b[9:], tree[:])
	return sha256.Sum256(b[:])
}

// TxRoot returns the Merkle root over the transaction hashes (TxHash of
// each, in block order), bound to their count. A block without
// transactions has SHA-256 of the empty string, as in RFC 6962: no other
// root equals it short of a SHA-256 preimage, since those hash 41 bytes.
func TxRoot(hashes []Hash) Hash {
	if len(hashes) == 0 {
		return sha256.Sum256(nil)
	}
	return countedRoot(uint64(len(hashes)), treeRoot(hashes))
}

// treeRoot returns the root of the tree over hashes (at least one): the
// CometBFT/RFC 6962 root, which TxRoot binds to the count.
func treeRoot(hashes []Hash) Hash {
	// Bottom-up, pairing neighbours and carrying an odd last node up a
	// level unchanged: this builds exactly the split-at-a-power-of-two
	// tree, in one buffer and without recursion.
	level := make([]Hash, len(hashes))
	for i, h := range hashes {
		level[i] = leafHash(h)
	}
	for n := len(level); n > 1; n = (n + 1) / 2 {
		for i := 0; i < n/2; i++ {
			level[i] = innerHash(level[2*i], level[2*i+1])
		}
		if n%2 == 1 {
			level[n/2] = level[n-1]
		}
	}
	return level[0]
}

// PayloadHash returns the digest of a list of transactions that a block's
// header carries: TxRoot of their hashes. It does not depend on chainID,
// kept so that callers need not change: the header's hash covers the chain
// id, and the root is only ever trusted through a header.
func PayloadHash(chainID string, txs [][]byte) Hash {
	return TxRoot(TxHashes(txs))
}

// PayloadHashOf is PayloadHash for transactions whose hashes the caller
// already holds (TxHash of each, in block order), so none is hashed twice.
func PayloadHashOf(hashes []Hash) Hash { return TxRoot(hashes) }

// TxProof proves that a transaction hash is the leaf at Index of a tree of
// Total leaves with a given root. Aunts are the roots of the sibling
// subtrees on the path, the leaf's sibling first: about log2(Total) of
// them.
type TxProof struct {
	Index, Total uint64
	Aunts        []Hash
}

// ProveTx returns the proof that hashes[index] is in TxRoot(hashes).
func ProveTx(hashes []Hash, index int) (TxProof, error) {
	if index < 0 || index >= len(hashes) {
		return TxProof{}, fmt.Errorf("chain: prove transaction %d of %d: out of range", index, len(hashes))
	}
	p := TxProof{Index: uint64(index), Total: uint64(len(hashes))}
	// Down from the root, the sibling of each subtree on the path; the
	// siblings' sizes sum to below n, so this hashes O(n) in all.
	sub, i := hashes, index
	for len(sub) > 1 {
		k := splitPoint(len(sub))
		if i < k {
			p.Aunts = append(p.Aunts, treeRoot(sub[k:]))
			sub = sub[:k]
		} else {
			p.Aunts = append(p.Aunts, treeRoot(sub[:k]))
			sub, i = sub[k:], i-k
		}
	}
	for l, r := 0, len(p.Aunts)-1; l < r; l, r = l+1, r-1 {
		p.Aunts[l], p.Aunts[r] = p.Aunts[r], p.Aunts[l]
	}
	return p, nil
}

// Verify checks that txHash is the leaf at p.Index of the tree of p.Total
// leaves whose root is root. The errors wrap ErrTxProof and name what
// failed. Sizes are checked before anything is hashed, so a proof from an
// untrusted source costs at most maxProofAunts hashes.
func (p TxProof) Verify(root, txHash Hash) error {
	switch {
	case p.Total == 0:
		return fmt.Errorf("%w: total is 0: an empty block proves no transaction", ErrTxProof)
	case p.Total > MaxBlockTxs:
		return fmt.Errorf("%w: total %d exceeds %d", ErrTxProof, p.Total, MaxBlockTxs)
	case p.Index >= p.Total:
		return fmt.Errorf("%w: index %d not below total %d", ErrTxProof, p.Index, p.Total)
	case len(p.Aunts) > maxProofAunts:
		return fmt.Errorf("%w: %d aunts exceed %d", ErrTxProof, len(p.Aunts), maxProofAunts)
	}
	// The path from the root: bit d of left is set when the path goes
	// left at depth d, so the aunt there is a right sibling.
	var left uint64
	depth := 0
	for n, i := p.Total, p.Index; n > 1; depth++ {
		k := uint64(splitPoint(int(n)))
		if i < k {
			left |= 1 << depth
			n = k
		} else {
			n, i = n-k, i-k
		}
	}
	if len(p.Aunts) != depth {
		return fmt.Errorf("%w: %d aunts, want %d for index %d of %d", ErrTxProof, len(p.Aunts), depth, p.Index, p.Total)
	}
	h := leafHash(txHash)
	for j, a := range p.Aunts {
		if d := depth - 1 - j; left&(1<<d) != 0 {
			h = innerHash(h, a)
		} else {
			h = innerHash(a, h)
		}
	}
	if h = countedRoot(p.Total, h); h != root {
		return fmt.Errorf("%w: computed root %s, want %s", ErrTxProof, h.Short(), root.Short())
	}
	return nil
}

// txProofJSON is TxProof's JSON form, hashes in hex: Hash has no text
// form of its own, and giving it one would change every JSON that holds a
// Hash.
type txProofJSON struct {
	Index uint64   `json:"index"`
	Total uint64   `json:"total"`
	Aunts []string `json:"aunts"`
}

// MarshalJSON encodes p as {"index","total","aunts":[hex]}.
func (p TxProof) MarshalJSON() ([]byte, error) {
	j := txProofJSON{Index: p.Index, Total: p.Total, Aunts: make([]string, len(p.Aunts))}
	for i, a := range p.Aunts {
		j.Aunts[i] = a.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form of MarshalJSON, refusing more than
// maxProofAunts aunts before parsing them.
func (p *TxProof) UnmarshalJSON(b []byte) error {
	var j txProofJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("chain: decode transaction proof: %w", err)
	}
	if len(j.Aunts) > maxProofAunts {
		return fmt.Errorf("chain: decode transaction proof: %d aunts exceed %d", len(j.Aunts), maxProofAunts)
	}
	q := TxProof{Index: j.Index, Total: j.Total, Aunts: make([]Hash, len(j.Aunts))}
	for i, s := range j.Aunts {
		h, err := ParseHash(s)
		if err != nil {
			return fmt.Errorf("chain: decode transaction proof: aunt %d: %w", i, err)
		}
		q.Aunts[i] = h
	}
	*p = q
	return nil
}
