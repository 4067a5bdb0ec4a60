// Package keys reads and writes ed25519 key files: the validator keys of
// nodes and the account keys of wallet users. A key file is a small JSON
// document readable by its owner only; it holds the 32-byte seed from
// which the key pair is derived, and, for convenience, the public key and
// address.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/strategos/strategos/internal/chain"
)

// file is the on-disk form of a key.
type file struct {
	Type    string `json:"type"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	Seed    string `json:"seed"`
	ChainID string `json:"chain_id,omitempty"` // the chain a demo account was funded on
}

const keyType = "ed25519"

// New returns a fresh key from crypto/rand.
func New() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keys: generate: %w", err)
	}
	return priv, nil
}

// Write stores key at path with mode 0600; it refuses to overwrite an
// existing file, so that no key is ever lost by accident.
func Write(path string, key ed25519.PrivateKey) error { return WriteFor(path, key, "") }

// WriteFor is Write for an account of a known chain: the file records the
// chain id, so that a wallet can sign for that chain without asking a node.
func WriteFor(path string, key ed25519.PrivateKey, chainID string) error {
	pub := key.Public().(ed25519.PublicKey)
	b, err := json.MarshalIndent(file{
		Type:    keyType,
		Address: chain.AddressOf(pub).String(),
		PubKey:  hex.EncodeToString(pub),
		Seed:    hex.EncodeToString(key.Seed()),
		ChainID: chainID,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("keys: encode: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return f.Close()
}

// Read loads a key file and checks that its public key and address, if
// present, match the seed.
func Read(path string) (ed25519.PrivateKey, error) {
	k, _, err := ReadFor(path)
	return k, err
}

// ReadFor is Read that also returns the chain id the file records, if any.
func ReadFor(path string) (ed25519.PrivateKey, string, error) {
	k, f, err := read(path)
	return k, f.ChainID, err
}

func read(path string) (ed25519.PrivateKey, file, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, file{}, fmt.Errorf("keys: read %s: %w", path, err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, file{}, fmt.Errorf("keys: %s is not a key file: %w", path, err)
	}
	if f.Type != keyType {
		return nil, file{}, fmt.Errorf("keys: %s: unsupported key type %q", path, f.Type)
	}
	seed, err := hex.DecodeString(f.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, file{}, fmt.Errorf("keys: %s: seed must be %d hex-encoded bytes", path, ed25519.SeedSize)
	}
	key := ed25519.NewKeyFromSeed(seed)
	pub := key.Public().(ed25519.PublicKey)
	if f.PubKey != "" && f.PubKey != hex.EncodeToString(pub) {
		return nil, file{}, fmt.Errorf("keys: %s: public key does not match the seed", path)
	}
	if f.Address != "" && f.Address != chain.AddressOf(pub).String() {
		return nil, file{}, fmt.Errorf("keys: %s: address does not match the seed", path)
	}
	return key, f, nil
}

// ParsePubKey decodes a hex ed25519 public key.
func ParsePubKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("keys: public key: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, errors.New("keys: public key must be 32 bytes")
	}
	return ed25519.PublicKey(b), nil
}
