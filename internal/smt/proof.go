package smt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	ics23 "github.com/cosmos/ics23/go"
)

// MaxProofSize bounds the encoded proofs VerifyProof decodes, and with it
// what decoding may allocate. A non-existence proof carries two neighbours'
// keys and values and up to 512 steps of 33 bytes.
const MaxProofSize = 1 << 20

// Prove returns an existence proof of key if it is present, else a
// non-existence proof made of the existence proofs of its neighbours in
// path order (one of them at either end). In the empty tree it returns
// ErrEmptyTree.
func (t *Tree) Prove(key []byte) (*ics23.CommitmentProof, error) {
	if len(key) == 0 {
		return nil, ErrEmptyKey
	}
	if t.root == nil {
		return nil, ErrEmptyTree
	}
	path := sha256.Sum256(key)

	// Descend towards path, remembering the inner nodes passed.
	var stack [256]*node
	d := 0
	n := t.root
	for n != nil && n.leaf() == nil {
		stack[d] = n
		n = n.child(bit(&path, d))
		d++
	}
	var reached *leaf
	if n != nil {
		reached = n.leaf()
	}
	if reached != nil && reached.path == path {
		if !bytes.Equal(reached.key, key) {
			return nil, fmt.Errorf("smt: SHA-256 collision between keys %x and %x", key, reached.key)
		}
		return &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Exist{Exist: t.exist(reached)}}, nil
	}

	// The neighbours: the leaf reached (if any) is one of them; the other
	// is the nearest leaf in the closest sibling subtree on its side.
	var left, right *leaf
	if reached != nil {
		if bytes.Compare(reached.path[:], path[:]) < 0 {
			left = reached
		} else {
			right = reached
		}
	}
	for i := d - 1; i >= 0 && (left == nil || right == nil); i-- {
		if bit(&path, i) {
			if left == nil && stack[i].left != nil {
				left = extreme(stack[i].left, true)
			}
		} else if right == nil && stack[i].right != nil {
			right = extreme(stack[i].right, false)
		}
	}
	ne := &ics23.NonExistenceProof{Key: key}
	if left != nil {
		ne.Left = t.exist(left)
	}
	if right != nil {
		ne.Right = t.exist(right)
	}
	return &ics23.CommitmentProof{Proof: &ics23.CommitmentProof_Nonexist{Nonexist: ne}}, nil
}

// extreme returns the rightmost (or leftmost) leaf of the non-empty n.
func extreme(n *node, rightmost bool) *leaf {
	for {
		if l := n.leaf(); l != nil {
			return l
		}
		c := n.child(rightmost)
		if c == nil {
			c = n.child(!rightmost)
		}
		n = c
	}
}

// exist builds the existence proof of l, a leaf of t: one step per inner
// node from the leaf up, the sibling's hash (or the empty child) on the
// other side.
func (t *Tree) exist(l *leaf) *ics23.ExistenceProof {
	var sibs [256]*[32]byte
	var right [256]bool
	d := 0
	for n := t.root; n.leaf() == nil; d++ {
		right[d] = bit(&l.path, d)
		sibs[d] = hashOf(n.child(!right[d]))
		n = n.child(right[d])
	}
	steps := make([]*ics23.InnerOp, d)
	ops := make([]ics23.InnerOp, d)
	// One buffer for all prefixes and suffixes: 33 bytes per step.
	buf := make([]byte, 33*d)
	for i := 0; i < d; i++ {
		b := buf[33*i : 33*(i+1) : 33*(i+1)]
		b[0] = 1
		copy(b[1:], sibs[i][:])
		o := &ops[i]
		o.Hash = ics23.HashOp_SHA256
		if right[i] {
			o.Prefix = b
		} else {
			o.Prefix, o.Suffix = b[:1:1], b[1:]
		}
		steps[d-1-i] = o
	}
	return &ics23.ExistenceProof{
		Key:   l.key,
		Value: l.value,
		Leaf:  leafOp(),
		Path:  steps,
	}
}

func leafOp() *ics23.LeafOp {
	return &ics23.LeafOp{
		Hash:         ics23.HashOp_SHA256,
		PrehashKey:   ics23.HashOp_SHA256,
		PrehashValue: ics23.HashOp_SHA256,
		Length:       ics23.LengthOp_NO_PREFIX,
		Prefix:       []byte{0},
	}
}

// VerifyProof decodes proof (a protobuf-encoded ics23.CommitmentProof) and
// checks it against root under ics23.SmtSpec: membership of (key, value)
// when value is non-empty, non-membership of key when value is empty.
// Against the empty root, non-membership holds with an empty proof (or an
// empty NonExistenceProof), since ICS23 cannot express it.
func VerifyProof(root, key, value, proof []byte) (err error) {
	if len(root) != 32 {
		return fmt.Errorf("smt: root is %d bytes, not 32", len(root))
	}
	if len(key) == 0 {
		return ErrEmptyKey
	}
	if len(proof) > MaxProofSize {
		return fmt.Errorf("smt: proof of %d bytes exceeds %d", len(proof), MaxProofSize)
	}
	if bytes.Equal(root, emptyHash[:]) {
		return verifyEmpty(value, proof)
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proof); err != nil {
		return fmt.Errorf("smt: decode proof: %w", err)
	}
	// ics23 panics on some malformed paths (isLeftStep, IsLeftNeighbor on
	// paths it did not expect); a proof from a peer must only fail.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("smt: malformed proof: %v", r)
		}
	}()
	if len(value) > 0 {
		ep := p.GetExist()
		if ep == nil {
			return errors.New("smt: membership needs an existence proof")
		}
		if err := checkShape(ep); err != nil {
			return err
		}
		if err := ep.Verify(ics23.SmtSpec, root, key, value); err != nil {
			return fmt.Errorf("smt: existence proof: %w", err)
		}
		return nil
	}
	np := p.GetNonexist()
	if np == nil {
		return errors.New("smt: non-membership needs a non-existence proof")
	}
	for _, ep := range []*ics23.ExistenceProof{np.Left, np.Right} {
		if ep == nil {
			continue
		}
		if err := checkShape(ep); err != nil {
			return err
		}
	}
	if np.Left != nil && np.Right != nil && (len(np.Left.Path) == 0 || len(np.Right.Path) == 0) {
		return errors.New("smt: non-existence proof: two neighbours under a single leaf")
	}
	if err := np.Verify(ics23.SmtSpec, root, key); err != nil {
		return fmt.Errorf("smt: non-existence proof: %w", err)
	}
	return nil
}

func verifyEmpty(value, proof []byte) error {
	if len(value) > 0 {
		return errors.New("smt: membership in the empty tree")
	}
	if len(proof) == 0 {
		return nil
	}
	var p ics23.CommitmentProof
	if err := p.Unmarshal(proof); err != nil {
		return fmt.Errorf("smt: decode proof: %w", err)
	}
	if np := p.GetNonexist(); np == nil || np.Left != nil || np.Right != nil {
		return errors.New("smt: only an empty proof proves non-membership in the empty tree")
	}
	return nil
}

// checkShape accepts only the steps this tree emits: leaf prefix 0x00 and
// each inner step 0x01 with the sibling on one side. SmtSpec alone admits
// more (any leaf prefix starting 0x00, any non-zero inner prefix byte),
// which no honest proof uses, and the strict shape keeps ics23's neighbour
// checks off the inputs that make them panic.
func checkShape(ep *ics23.ExistenceProof) error {
	if ep.Leaf == nil || !bytes.Equal(ep.Leaf.Prefix, []byte{0}) {
		return errors.New("smt: leaf prefix is not 0x00")
	}
	if len(ep.Path) > 256 {
		return fmt.Errorf("smt: proof path of %d steps exceeds 256", len(ep.Path))
	}
	for i, s := range ep.Path {
		if s == nil {
			return fmt.Errorf("smt: step %d missing", i)
		}
		ok := len(s.Prefix) > 0 && s.Prefix[0] == 1 &&
			(len(s.Prefix) == 1 && len(s.Suffix) == 32 || len(s.Prefix) == 33 && len(s.Suffix) == 0)
		if !ok {
			return fmt.Errorf("smt: step %d is not 0x01 with one 32-byte sibling", i)
		}
	}
	return nil
}
