package config

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestInitLoad(t *testing.T) {
	dir := t.TempDir()
	if err := Init(InitOptions{Nodes: 4, Out: dir, App: "kv", APIPort: 9000, P2PPort: 9100, RPCPort: 9200}); err != nil {
		t.Fatal(err)
	}
	var chainID string
	for i := range 4 {
		h, err := Load(filepath.Join(dir, "node"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if h.Node.Index != uint32(i) || h.Genesis.App != "kv" || len(h.Genesis.Validators) != 4 {
			t.Fatalf("node %d: %+v", i, h.Node)
		}
		if chainID == "" {
			chainID = h.Genesis.ChainID
		} else if chainID != h.Genesis.ChainID {
			t.Fatal("nodes disagree on the chain id")
		}
		if h.Node.APIListen != "127.0.0.1:"+strconv.Itoa(9000+i) || h.Node.Peers[i].Addr != "127.0.0.1:"+strconv.Itoa(9100+i) {
			t.Fatalf("addresses: %+v", h.Node)
		}
		if h.Node.RPCListen != "127.0.0.1:"+strconv.Itoa(9200+i) {
			t.Fatalf("rpc_listen %q, want 127.0.0.1:%d", h.Node.RPCListen, 9200+i)
		}
		if _, err := h.Genesis.ValidatorSet(); err != nil {
			t.Fatal(err)
		}
	}
	for k := range DemoAccounts {
		if _, err := os.Stat(filepath.Join(dir, "keys", "account"+strconv.Itoa(k)+".key")); err != nil {
			t.Fatal(err)
		}
	}
	if err := Init(InitOptions{Nodes: 4, Out: dir}); err == nil {
		t.Fatal("Init overwrote an existing network")
	}
}

func TestLoadDetectsWrongKey(t *testing.T) {
	dir := t.TempDir()
	if err := Init(InitOptions{Nodes: 2, Out: dir}); err != nil {
		t.Fatal(err)
	}
	k1, _ := os.ReadFile(filepath.Join(dir, "node1", KeyFile))
	os.WriteFile(filepath.Join(dir, "node0", KeyFile), k1, 0o600)
	if _, err := Load(filepath.Join(dir, "node0")); err == nil {
		t.Fatal("loaded a node whose key belongs to another validator")
	}
}

func TestInitErrors(t *testing.T) {
	for _, o := range []InitOptions{
		{Nodes: 0, Out: t.TempDir()},
		{Nodes: 4, Out: ""},
		{Nodes: 4, Out: t.TempDir(), App: "nosuch"},
		{Nodes: 4, Out: t.TempDir(), Hosts: []string{"a", "b"}},
		{Nodes: 4, Out: t.TempDir(), APIPort: 65534},
		{Nodes: 4, Out: t.TempDir(), RPCPort: 65534},
	} {
		if err := Init(o); err == nil {
			t.Errorf("Init(%+v) succeeded", o)
		}
	}
}

// Without --rpc-port, node i serves the RPC on CometBFT's port plus i.
func TestInitDefaultRPCPort(t *testing.T) {
	dir := t.TempDir()
	if err := Init(InitOptions{Nodes: 2, Out: dir}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		h, err := Load(filepath.Join(dir, "node"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if want := "127.0.0.1:" + strconv.Itoa(DefaultRPCPort+i); h.Node.RPCListen != want {
			t.Errorf("node %d: rpc_listen %q, want %q", i, h.Node.RPCListen, want)
		}
	}
}
