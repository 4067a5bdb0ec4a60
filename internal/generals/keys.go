package generals

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// signedOrder is an SM order: a value and a chain of signatures, the
// commander's first. Link k is signer k's ed25519 signature over the value,
// every earlier link (signer and signature) and its own id, so each signer
// vouches for exactly the order it received.
type signedOrder struct {
	value   Value
	signers []int
	sigs    [][]byte
}

// String writes the order in the paper's notation, e.g. "attack:C:L2".
func (o signedOrder) String() string {
	var b strings.Builder
	b.WriteString(o.value.String())
	for _, s := range o.signers {
		b.WriteString(":")
		b.WriteString(Name(s))
	}
	return b.String()
}

// digest is what link k of a chain signs.
func linkDigest(v Value, signers []int, sigs [][]byte, k int) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte("strategos/generals/sm/v1"))
	h.Write([]byte{byte(v)})
	var id [4]byte
	for i := 0; i < k; i++ {
		binary.BigEndian.PutUint32(id[:], uint32(signers[i]))
		h.Write(id[:])
		h.Write(sigs[i])
	}
	binary.BigEndian.PutUint32(id[:], uint32(signers[k]))
	h.Write(id[:])
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// appendContent appends to b the value and the first k+1 links of a chain,
// the signature of link k excluded: what link k signs, unhashed, as a cache
// key.
func appendContent(b []byte, v Value, signers []int, sigs [][]byte, k int) []byte {
	b = append(b, byte(v))
	for i := 0; i < k; i++ {
		b = binary.BigEndian.AppendUint16(b, uint16(signers[i]))
		b = append(b, sigs[i]...)
	}
	return binary.BigEndian.AppendUint16(b, uint16(signers[k]))
}

// keyring holds every general's ed25519 key pair, derived from the seed so
// that runs are reproducible, and caches signatures and verdicts: ed25519
// is deterministic, so a cached answer is the answer. The caches make
// searches over many runs with the same keys affordable; they are keyed by
// the full content signed or checked, so they never vouch for anything
// that was not actually signed or verified.
type keyring struct {
	priv    []ed25519.PrivateKey
	pub     []ed25519.PublicKey
	signed  map[string][]byte // content of a link -> its signature
	checked map[string]string // full chain -> "" or why it fails
	scratch []byte            // builds cache keys without allocating
}

func newKeyring(seed uint64, n int) *keyring {
	k := &keyring{
		priv:    make([]ed25519.PrivateKey, n),
		pub:     make([]ed25519.PublicKey, n),
		signed:  make(map[string][]byte),
		checked: make(map[string]string),
	}
	for i := range n {
		var in [16]byte
		binary.BigEndian.PutUint64(in[:8], seed)
		binary.BigEndian.PutUint64(in[8:], uint64(i))
		s := sha256.Sum256(append([]byte("strategos/generals/key/v1"), in[:]...))
		k.priv[i] = ed25519.NewKeyFromSeed(s[:])
		k.pub[i] = k.priv[i].Public().(ed25519.PublicKey)
	}
	return k
}

// signLink returns the signature of link k of a chain by its signer. Only
// the run's code calls it for a loyal signer; traitors reach it through a
// coalition, which signs for traitors only.
func (k *keyring) signLink(v Value, signers []int, sigs [][]byte, i int) []byte {
	k.scratch = appendContent(k.scratch[:0], v, signers, sigs, i)
	if s, ok := k.signed[string(k.scratch)]; ok {
		return s
	}
	d := linkDigest(v, signers, sigs, i)
	s := ed25519.Sign(k.priv[signers[i]], d[:])
	k.signed[string(k.scratch)] = s
	return s
}

// extend returns o relayed by signer: a copy with signer's link appended.
func (k *keyring) extend(o signedOrder, signer int) signedOrder {
	out := signedOrder{
		value:   o.value,
		signers: append(append(make([]int, 0, len(o.signers)+1), o.signers...), signer),
		sigs:    append(append(make([][]byte, 0, len(o.sigs)+1), o.sigs...), nil),
	}
	last := len(out.signers) - 1
	out.sigs[last] = k.signLink(out.value, out.signers, out.sigs, last)
	return out
}

// check says why an order received in round r from sender is not valid, or
// returns "" if it is: exactly r distinct signers, the commander first, the
// sender last, and every signature verifies.
func (k *keyring) check(o signedOrder, r, sender int) string {
	n := len(k.pub)
	if len(o.signers) != r || len(o.sigs) != r {
		return fmt.Sprintf("%d signatures in round %d", len(o.signers), r)
	}
	if o.signers[0] != 0 {
		return "the first signature is not the commander's"
	}
	if o.signers[r-1] != sender {
		return fmt.Sprintf("the last signature is not the sender's (%s)", Name(sender))
	}
	for i, s := range o.signers {
		if s < 0 || s >= n || (i > 0 && s == 0) || slices.Contains(o.signers[:i], s) {
			return "a signer is repeated or unknown"
		}
	}
	k.scratch = append(appendContent(k.scratch[:0], o.value, o.signers, o.sigs, r-1), o.sigs[r-1]...)
	if why, ok := k.checked[string(k.scratch)]; ok {
		return why
	}
	full := string(k.scratch)
	why := ""
	for i, s := range o.signers {
		d := linkDigest(o.value, o.signers, o.sigs, i)
		if !ed25519.Verify(k.pub[s], d[:], o.sigs[i]) {
			why = fmt.Sprintf("the signature of %s does not verify", Name(s))
			break
		}
	}
	k.checked[full] = why
	return why
}
