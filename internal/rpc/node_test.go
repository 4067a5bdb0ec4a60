package rpc_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/daemon"
	"github.com/strategos/strategos/internal/smt"
	"github.com/strategos/strategos/internal/testbin"
)

// running is a single-validator network run by the daemon, as
// `strategos node` runs it, with its API and RPC on free ports.
type running struct {
	dir  string // the network's directory: keys/ holds its demo accounts
	home *config.Home
	api  string // http://host:port
	rpc  string // host:port
}

func startValidator(t *testing.T, app string) *running {
	t.Helper()
	dir := t.TempDir()
	h, err := testbin.OneValidator(dir, app)
	if err != nil {
		t.Fatal(err)
	}
	h.Node.APIListen, h.Node.RPCListen, h.Node.P2PListen = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	v, err := daemon.Open(h, daemon.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &running{dir: dir, home: h, api: "http://" + v.API.Addr().String(), rpc: v.RPC.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the validator stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the validator did not stop")
		}
		// Stopped means stopped: the RPC port no longer answers.
		if resp, err := http.Get("http://" + r.rpc + "/health"); err == nil {
			resp.Body.Close()
			t.Error("the RPC still answers after the validator stopped")
		}
	})
	return r
}

// TestCometBFTClient drives a real validator with CometBFT's own Go
// client, unchanged.
func TestCometBFTClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a validator")
	}
	n := startValidator(t, "kv")
	c, err := rpchttp.New("tcp://"+n.rpc, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	st := waitHeight(t, ctx, c, 1)
	if st.NodeInfo.Network != n.home.Genesis.ChainID || !bytes.Equal(st.ValidatorInfo.PubKey.Bytes(), n.home.Key.Public().(ed25519.PublicKey)) {
		t.Errorf("status: network %q, validator %X", st.NodeInfo.Network, st.ValidatorInfo.PubKey.Bytes())
	}
	info, err := c.ABCIInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Response.LastBlockHeight < 1 {
		t.Errorf("abci_info: %+v", info.Response)
	}

	// Subscriptions over the websocket, as the client makes them.
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	// Tx first: the node takes one connection's subscriptions in order,
	// so once a NewBlock event comes the Tx subscription is in place.
	txs, err := c.Subscribe(ctx, "test", types.EventQueryTx.String(), 16)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := c.Subscribe(ctx, "test", types.EventQueryNewBlock.String(), 16)
	if err != nil {
		t.Fatal(err)
	}
	var first *types.EventDataNewBlock
	select {
	case ev := <-blocks:
		nb := ev.Data.(types.EventDataNewBlock)
		first = &nb
	case <-ctx.Done():
		t.Fatal("no NewBlock event")
	}
	if first.Block.ChainID != n.home.Genesis.ChainID || first.Block.Height < 1 {
		t.Errorf("NewBlock event: %+v", first.Block.Header)
	}

	tx := types.Tx("key=value")
	res, err := c.BroadcastTxSync(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tx)
	if res.Code != 0 || !bytes.Equal(res.Hash, sum[:]) || !bytes.Equal(res.Hash, tx.Hash()) {
		t.Fatalf("broadcast_tx_sync: %+v", res)
	}
	var txEvent types.EventDataTx
	select {
	case ev := <-txs:
		txEvent = ev.Data.(types.EventDataTx)
	case <-ctx.Done():
		t.Fatal("no Tx event")
	}
	if !bytes.Equal(txEvent.Tx, tx) || txEvent.Result.Code != 0 || txEvent.Height < 1 {
		t.Fatalf("Tx event: %+v", txEvent.TxResult)
	}

	got, err := c.Tx(ctx, res.Hash, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Height != txEvent.Height || got.TxResult.Code != 0 || !bytes.Equal(got.Tx, tx) {
		t.Errorf("tx: %+v", got)
	}
	blk, err := c.Block(ctx, &got.Height)
	if err != nil {
		t.Fatal(err)
	}
	if blk.Block.Height != got.Height || len(blk.Block.Txs) <= int(got.Index) || !bytes.Equal(blk.Block.Txs[got.Index], tx) {
		t.Fatalf("block %d does not hold the transaction", got.Height)
	}
	if err := got.Proof.Validate(blk.Block.DataHash); err != nil {
		t.Errorf("the transaction's proof: %v", err)
	}
	br, err := c.BlockResults(ctx, &got.Height)
	if err != nil {
		t.Fatal(err)
	}
	if br.Height != got.Height || len(br.TxsResults) != len(blk.Block.Txs) || br.TxsResults[got.Index].Code != 0 || len(br.AppHash) == 0 {
		t.Errorf("block_results: %+v", br)
	}
	vals, err := c.Validators(ctx, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if vals.Total != 1 || !bytes.Equal(vals.Validators[0].PubKey.Bytes(), n.home.Key.Public().(ed25519.PublicKey)) {
		t.Errorf("validators: %+v", vals)
	}
	if !bytes.Equal(blk.Block.ValidatorsHash, types.NewValidatorSet(vals.Validators).Hash()) {
		t.Errorf("validators_hash does not match the validators")
	}
	q, err := c.ABCIQuery(ctx, "", []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	if q.Response.Code != 0 || string(q.Response.Value) != "value" {
		t.Errorf("abci_query: %+v", q.Response)
	}
	// With prove, one ICS23 proof of the value against the app hash of
	// the answer's height (block_results of that height carries it).
	pq, err := c.ABCIQueryWithOptions(ctx, "", []byte("key"), rpcclient.ABCIQueryOptions{Prove: true})
	if err != nil {
		t.Fatal(err)
	}
	if pq.Response.ProofOps == nil || len(pq.Response.ProofOps.Ops) != 1 || pq.Response.ProofOps.Ops[0].Type != "ics23:smt" {
		t.Fatalf("abci_query prove: %+v", pq.Response)
	}
	ph := pq.Response.Height
	at, err := c.BlockResults(ctx, &ph)
	if err != nil {
		t.Fatal(err)
	}
	if err := smt.VerifyProof(at.AppHash, []byte("key"), pq.Response.Value, pq.Response.ProofOps.Ops[0].Data); err != nil {
		t.Errorf("abci_query's proof against the app hash of height %d: %v", ph, err)
	}
	// The API tells the same story.
	resp, err := http.Get(n.api + "/v1/kv/key")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/kv/key: %d", resp.StatusCode)
	}
	// broadcast_tx_commit waits for the block.
	commit, err := c.BroadcastTxCommit(ctx, types.Tx("other=thing"))
	if err != nil {
		t.Fatal(err)
	}
	if commit.CheckTx.Code != 0 || commit.TxResult.Code != 0 || commit.Height < got.Height {
		t.Errorf("broadcast_tx_commit: %+v", commit)
	}
	// The kv application refuses a transaction without '='.
	bad, err := c.BroadcastTxSync(ctx, types.Tx("no equals sign"))
	if err != nil {
		t.Fatal(err)
	}
	if bad.Code == 0 || bad.Log == "" {
		t.Errorf("a refused transaction: %+v", bad)
	}
	if chk, err := c.CheckTx(ctx, types.Tx("k=v")); err != nil || chk.Code != 0 {
		t.Errorf("check_tx: %+v %v", chk, err)
	}
	if _, err := c.Health(ctx); err != nil {
		t.Error(err)
	}
	if g, err := c.Genesis(ctx); err != nil || g.Genesis.ChainID != n.home.Genesis.ChainID {
		t.Errorf("genesis: %v %v", g, err)
	}
	if bc, err := c.BlockchainInfo(ctx, 0, 0); err != nil || len(bc.BlockMetas) == 0 {
		t.Errorf("blockchain: %v %v", bc, err)
	}
	if h, err := c.HeaderByHash(ctx, blk.BlockID.Hash); err != nil || h.Header.Height != got.Height {
		t.Errorf("header_by_hash: %v %v", h, err)
	}
	if b, err := c.BlockByHash(ctx, blk.BlockID.Hash); err != nil || b.Block.Height != got.Height {
		t.Errorf("block_by_hash: %v %v", b, err)
	}
	if _, err := c.NetInfo(ctx); err != nil {
		t.Error(err)
	}
	if _, err := c.NumUnconfirmedTxs(ctx); err != nil {
		t.Error(err)
	}
	if err := c.UnsubscribeAll(ctx, "test"); err != nil {
		t.Error(err)
	}
}

func waitHeight(t *testing.T, ctx context.Context, c *rpchttp.HTTP, h int64) *ctypes.ResultStatus {
	t.Helper()
	for {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.SyncInfo.LatestBlockHeight >= h {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("height %d not reached", h)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
