package testnet

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/byzantine"
)

func options(home string) Options {
	return Options{Nodes: 4, Behavior: byzantine.Honest, Home: home, APIPort: 8080, P2PPort: 26600, App: "bank", Out: io.Discard}
}

// TestBadOptionsCreateNothing checks that options config.Init would
// refuse are refused before Run creates a temporary directory.
func TestBadOptionsCreateNothing(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, c := range []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"api port over 65535", func(o *Options) { o.APIPort = 70000 }, "--api-port"},
		{"api range past 65535", func(o *Options) { o.APIPort = 65534 }, "--api-port"},
		{"rpc range past 65535", func(o *Options) { o.RPCPort = 65534 }, "--rpc-port"},
		{"negative p2p port", func(o *Options) { o.P2PPort = -1 }, "--p2p-port"},
		{"unknown app", func(o *Options) { o.App = "chess" }, "app"},
		{"no nodes", func(o *Options) { o.Nodes = 0 }, "--nodes"},
	} {
		o := options("")
		c.edit(&o)
		err := Run(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Run = %v, want an error naming %s", c.name, err, c.want)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Fatalf("%s: Run left %v in the temporary directory", c.name, left[0].Name())
		}
	}
}

// TestFailedStartRemovesWhatItCreated checks that a start that fails
// after the network was laid out (here: the API port is taken) removes
// the home Run created, and leaves a home it did not create.
func TestFailedStartRemovesWhatItCreated(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p2p := free.Addr().(*net.TCPAddr).Port
	free.Close()

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	o := options("")
	o.Nodes, o.APIPort, o.P2PPort = 1, taken, p2p
	if err := Run(context.Background(), o); err == nil {
		t.Fatal("Run with its API port taken succeeded")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("Run left %s in the temporary directory", left[0].Name())
	}

	home := filepath.Join(t.TempDir(), "net")
	o.Home = home
	if err := Run(context.Background(), o); err == nil {
		t.Fatal("Run with its API port taken succeeded")
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Fatalf("--home %s that Run created is still there (%v)", home, err)
	}

	mine := t.TempDir() // exists before Run: it is the user's, kept
	o.Home = mine
	if err := Run(context.Background(), o); err == nil {
		t.Fatal("Run with its API port taken succeeded")
	}
	if _, err := os.Stat(mine); err != nil {
		t.Fatalf("Run removed the existing --home %s: %v", mine, err)
	}
}
