package chain

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// MaxTotalPower bounds the total voting power so that quorum arithmetic
// (which multiplies power by 3) can never overflow a uint64.
const MaxTotalPower = 1 << 60

// Address identifies an account or validator: the first 20 bytes of the
// SHA-256 of its ed25519 public key.
type Address [20]byte

// AddressOf returns the address of an ed25519 public key.
func AddressOf(pub ed25519.PublicKey) Address {
	sum := sha256.Sum256(pub)
	var a Address
	copy(a[:], sum[:20])
	return a
}

// String returns the lowercase hex form of a.
func (a Address) String() string { return hex.EncodeToString(a[:]) }

// Validator is one member of the validator set.
type Validator struct {
	PubKey ed25519.PublicKey
	Power  uint64
}

// ValidatorSet is the ordered, fixed set of validators of a chain. A
// validator is identified by its index in the set.
type ValidatorSet struct {
	vals  []Validator
	total uint64
}

// NewValidatorSet checks and returns a validator set: at least one
// validator, well-formed distinct keys, positive powers, and a total power
// no larger than MaxTotalPower.
func NewValidatorSet(vals []Validator) (*ValidatorSet, error) {
	if len(vals) == 0 {
		return nil, errors.New("chain: empty validator set")
	}
	seen := make(map[string]bool, len(vals))
	var total uint64
	out := make([]Validator, len(vals))
	for i, v := range vals {
		if len(v.PubKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("chain: validator %d: public key has %d bytes, want %d", i, len(v.PubKey), ed25519.PublicKeySize)
		}
		if seen[string(v.PubKey)] {
			return nil, fmt.Errorf("chain: validator %d: duplicate public key", i)
		}
		seen[string(v.PubKey)] = true
		if v.Power == 0 {
			return nil, fmt.Errorf("chain: validator %d: zero voting power", i)
		}
		if v.Power > MaxTotalPower || total+v.Power > MaxTotalPower {
			return nil, fmt.Errorf("chain: total voting power exceeds %d", uint64(MaxTotalPower))
		}
		total += v.Power
		out[i] = Validator{PubKey: append(ed25519.PublicKey(nil), v.PubKey...), Power: v.Power}
	}
	return &ValidatorSet{vals: out, total: total}, nil
}

// Len returns the number of validators.
func (s *ValidatorSet) Len() int { return len(s.vals) }

// TotalPower returns the sum of all voting powers.
func (s *ValidatorSet) TotalPower() uint64 { return s.total }

// Has reports whether i is the index of a validator.
func (s *ValidatorSet) Has(i uint32) bool { return int64(i) < int64(len(s.vals)) }

// Get returns validator i; it panics if i is out of range, so callers check
// Has first for indices that came from outside.
func (s *ValidatorSet) Get(i uint32) Validator { return s.vals[i] }

// Power returns the voting power of validator i, or 0 if there is none.
func (s *ValidatorSet) Power(i uint32) uint64 {
	if !s.Has(i) {
		return 0
	}
	return s.vals[i].Power
}

// Hash returns a digest of the set (keys and powers in order).
func (s *ValidatorSet) Hash(chainID string) Hash {
	e := newEncoder(domainValSet, chainID)
	e.u64(uint64(len(s.vals)))
	for _, v := range s.vals {
		e.bytes(v.PubKey)
		e.u64(v.Power)
	}
	return e.sum()
}

// Signer signs messages with one validator's key. Production code uses
// ed25519; the interface exists so that Byzantine behaviours can wrap it
// (for example to corrupt signatures) without touching honest code.
type Signer interface {
	Sign(msg []byte) []byte
}

// Ed25519Signer signs with an ed25519 private key.
type Ed25519Signer struct{ Key ed25519.PrivateKey }

// Sign implements Signer.
func (s Ed25519Signer) Sign(msg []byte) []byte { return ed25519.Sign(s.Key, msg) }

// Verifier checks signatures. The default is ed25519.Verify; the simulator
// injects a memoising verifier so that a signature checked by one simulated
// validator need not be checked again by the others.
type Verifier interface {
	Verify(pub ed25519.PublicKey, msg, sig []byte) bool
}

// Ed25519Verifier verifies with crypto/ed25519.
type Ed25519Verifier struct{}

// Verify implements Verifier.
func (Ed25519Verifier) Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}
