package keys

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.key")
	k, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(p, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	got, err := Read(p)
	if err != nil || !got.Equal(k) {
		t.Fatalf("read back a different key: %v", err)
	}
	if err := Write(p, k); err == nil {
		t.Fatal("overwrote an existing key file")
	}
}

func TestReadRejects(t *testing.T) {
	dir := t.TempDir()
	k, _ := New()
	good := filepath.Join(dir, "good.key")
	if err := Write(good, k); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	other, _ := New()
	cases := map[string]string{
		"garbage":      "not json",
		"wrong type":   strings.Replace(string(b), `"ed25519"`, `"rsa"`, 1),
		"short seed":   `{"type":"ed25519","seed":"abcd"}`,
		"bad address":  strings.Replace(string(b), chain.AddressOf(k.Public().(ed25519.PublicKey)).String(), chain.AddressOf(other.Public().(ed25519.PublicKey)).String(), 1),
		"missing file": "",
	}
	for name, content := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if content != "" {
			os.WriteFile(p, []byte(content), 0o600)
		}
		if _, err := Read(p); err == nil {
			t.Errorf("%s: Read succeeded", name)
		}
	}
}
