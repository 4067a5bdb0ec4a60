package rpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// cosmjsDir holds the Node.js script that TestCosmJS runs, its
// package.json pinning @cosmjs/tendermint-rpc and its lockfile;
// node_modules is installed there by `npm ci` and not committed.
const cosmjsDir = "testdata/cosmjs"

// TestCosmJS drives a real validator with cosmjs's Comet38Client, the
// JavaScript client of CometBFT 0.38, unchanged: status, abci_info,
// genesis, a broadcast and its Tx and NewBlock events over the
// websocket, tx, block, block_results, validators, blockchain,
// abci_query, broadcast_tx_commit. It needs node and npm (and, the first
// time, the npm registry): without them it is skipped, unless
// STRATEGOS_COSMJS_REQUIRE=1 (CI), which makes their absence a failure.
func TestCosmJS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a validator and Node.js")
	}
	require := os.Getenv("STRATEGOS_COSMJS_REQUIRE") == "1"
	unavailable := func(format string, args ...any) {
		t.Helper()
		if require {
			t.Fatalf(format+" (STRATEGOS_COSMJS_REQUIRE=1)", args...)
		}
		t.Skipf(format+"; set STRATEGOS_COSMJS_REQUIRE=1 to make this a failure", args...)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		unavailable("node (Node.js) is not installed: the cosmjs client cannot run")
	}
	if !installed() {
		npm, err := exec.LookPath("npm")
		if err != nil {
			unavailable("npm is not installed: cannot install @cosmjs/tendermint-rpc")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = cosmjsDir
		if out, err := cmd.CombinedOutput(); err != nil {
			unavailable("npm ci in %s: %v\n%s", cosmjsDir, err, out)
		}
	}
	n := startValidator(t, "kv")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// A node without a block has no latest hash, which cosmjs refuses
	// (from CometBFT too): start once there is one.
	c, err := rpchttp.New("tcp://"+n.rpc, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	waitHeight(t, ctx, c, 1)
	cmd := exec.CommandContext(ctx, nodeBin, "run.js", n.rpc)
	cmd.Dir = cosmjsDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node run.js: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	var res struct {
		OK      bool   `json:"ok"`
		ChainID string `json:"chain_id"`
	}
	line := strings.TrimSpace(stdout.String())
	if err := json.Unmarshal([]byte(line), &res); err != nil || !res.OK || res.ChainID != n.home.Genesis.ChainID {
		t.Fatalf("node run.js printed %q (%v), want ok on chain %s", line, err, n.home.Genesis.ChainID)
	}
	t.Logf("cosmjs: %s", line)
}

// installed reports whether npm ci has installed the pinned client.
func installed() bool {
	b, err := os.ReadFile(filepath.Join(cosmjsDir, "node_modules", "@cosmjs", "tendermint-rpc", "package.json"))
	if err != nil {
		return false
	}
	var p struct {
		Version string `json:"version"`
	}
	return json.Unmarshal(b, &p) == nil && p.Version == "0.39.0"
}
