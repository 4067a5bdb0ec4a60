package rpc_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/testbin"
	"github.com/strategos/strategos/internal/testnet"
)

// `strategos testnet --rpc-port R` serves node i's RPC on 127.0.0.1:R+i
// and names it in testnet.json.
func TestTestnetServesTheRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	ports := func() int {
		p, err := testbin.FreePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	api, p2p, rpc := ports(), ports(), ports()
	home := filepath.Join(t.TempDir(), "net")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- testnet.Run(ctx, testnet.Options{Nodes: 2, Behavior: byzantine.Honest, Home: home, APIPort: api, P2PPort: p2p,
			RPCPort: rpc, App: "kv", Out: io.Discard})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("testnet: %v", err)
		}
	}()
	var man testnet.Manifest
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(home, "testnet.json"))
		if err == nil && json.Unmarshal(b, &man) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no testnet.json")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, n := range man.Nodes {
		want := "http://127.0.0.1:" + strconv.Itoa(rpc+i)
		if n.RPC != want {
			t.Errorf("testnet.json node %d: rpc %q, want %q", i, n.RPC, want)
		}
		c, err := rpchttp.New(strings.Replace(n.RPC, "http://", "tcp://", 1), "/websocket")
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		st := waitHeight(t, cctx, c, 1)
		ccancel()
		if st.NodeInfo.Network != man.ChainID || st.NodeInfo.Other.RPCAddress != "tcp://127.0.0.1:"+strconv.Itoa(rpc+i) {
			t.Errorf("node %d: status %+v", i, st.NodeInfo)
		}
	}
}
