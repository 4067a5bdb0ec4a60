package chain

import (
	"crypto/ed25519"
	"math"
	"strings"
	"testing"
)

func testKey(i byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = i
	return ed25519.NewKeyFromSeed(seed)
}

func testPub(i byte) ed25519.PublicKey { return testKey(i).Public().(ed25519.PublicKey) }

func mustSet(t *testing.T, n int) *ValidatorSet {
	t.Helper()
	var vs []Validator
	for i := range n {
		vs = append(vs, Validator{PubKey: testPub(byte(i + 1)), Power: uint64(i + 1)})
	}
	s, err := NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewValidatorSetRejects(t *testing.T) {
	half := uint64(MaxTotalPower/2 + 1)
	tests := []struct {
		name string
		vals []Validator
		want string
	}{
		{"nil set", nil, "empty"},
		{"empty set", []Validator{}, "empty"},
		{"short key", []Validator{{PubKey: testPub(1)[:31], Power: 1}}, "31 bytes"},
		{"long key", []Validator{{PubKey: append(testPub(1), 0), Power: 1}}, "33 bytes"},
		{"no key", []Validator{{Power: 1}}, "0 bytes"},
		{"bad key after a good one", []Validator{{PubKey: testPub(1), Power: 1}, {PubKey: make([]byte, 5), Power: 1}}, "validator 1"},
		{"duplicate key", []Validator{{PubKey: testPub(1), Power: 1}, {PubKey: testPub(2), Power: 1}, {PubKey: testPub(1), Power: 2}}, "validator 2: duplicate"},
		{"zero power", []Validator{{PubKey: testPub(1), Power: 1}, {PubKey: testPub(2), Power: 0}}, "validator 1: zero"},
		{"one power above the maximum", []Validator{{PubKey: testPub(1), Power: MaxTotalPower + 1}}, "exceeds"},
		{"power that would wrap", []Validator{{PubKey: testPub(1), Power: 1}, {PubKey: testPub(2), Power: math.MaxUint64}}, "exceeds"},
		{"sum above the maximum", []Validator{{PubKey: testPub(1), Power: half}, {PubKey: testPub(2), Power: half}}, "exceeds"},
	}
	for _, tt := range tests {
		s, err := NewValidatorSet(tt.vals)
		if err == nil || s != nil {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "chain: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to mention %q", tt.name, err, tt.want)
		}
	}
}

func TestNewValidatorSetAccepts(t *testing.T) {
	key := testPub(1)
	vals := []Validator{{PubKey: key, Power: 3}, {PubKey: testPub(2), Power: MaxTotalPower - 3}}
	s, err := NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.TotalPower() != MaxTotalPower || s.Power(0) != 3 || s.Power(2) != 0 {
		t.Fatalf("len %d, total %d, powers %d %d", s.Len(), s.TotalPower(), s.Power(0), s.Power(2))
	}
	if !s.Has(1) || s.Has(2) || s.Has(math.MaxUint32) {
		t.Fatal("Has is wrong at the boundary")
	}
	// The set owns its keys: changing the caller's slices changes nothing.
	h := s.Hash(testChain)
	key[0] ^= 1
	vals[0].Power = 99
	if !s.Get(0).PubKey.Equal(testPub(1)) || s.Hash(testChain) != h {
		t.Fatal("the set aliases its input")
	}
}

func TestValidatorSetHash(t *testing.T) {
	a := mustSet(t, 3)
	if a.Hash(testChain) != mustSet(t, 3).Hash(testChain) {
		t.Fatal("not deterministic")
	}
	if a.Hash(testChain) == mustSet(t, 4).Hash(testChain) || a.Hash(testChain) == a.Hash("other-chain") {
		t.Fatal("hash ignores membership or chain id")
	}
	b, err := NewValidatorSet([]Validator{{PubKey: testPub(1), Power: 1}, {PubKey: testPub(2), Power: 2}, {PubKey: testPub(3), Power: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash(testChain) == b.Hash(testChain) {
		t.Fatal("hash ignores power")
	}
	if Genesis(testChain, a).Hash(testChain) == Genesis(testChain, b).Hash(testChain) {
		t.Fatal("genesis does not commit to the validator set")
	}
}

func TestParseHash(t *testing.T) {
	for _, h := range []Hash{{}, {1, 2, 3}, sampleBlock().Hash(testChain)} {
		got, err := ParseHash(h.String())
		if err != nil || got != h {
			t.Errorf("ParseHash(%s) = %v, %v", h, got, err)
		}
		if up, err := ParseHash(strings.ToUpper(h.String())); err != nil || up != h {
			t.Errorf("upper case: %v, %v", up, err)
		}
		if len(h.String()) != 64 || h.Short() != h.String()[:8] {
			t.Errorf("String %q, Short %q", h.String(), h.Short())
		}
	}
	good := sampleBlock().Hash(testChain).String()
	for _, s := range []string{"", "0", good[:63], good[:62], good + "00", "zz" + good[2:], " " + good[1:], "0x" + good[2:]} {
		if h, err := ParseHash(s); err == nil || !h.IsZero() || !strings.HasPrefix(err.Error(), "chain: parse hash") {
			t.Errorf("ParseHash(%q) = %v, %v; want an error", s, h, err)
		}
	}
}
