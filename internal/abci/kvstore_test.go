package abci

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	"github.com/cometbft/cometbft/abci/server"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// testVals is a set of four validators with seeded keys.
func testVals(t *testing.T) *chain.ValidatorSet {
	t.Helper()
	vals := make([]chain.Validator, 4)
	for i := range vals {
		seed := bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize)
		vals[i] = chain.Validator{PubKey: ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), Power: 10}
	}
	set, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// freeAddr returns a loopback TCP address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveKVStore serves a fresh in-memory CometBFT kvstore at addr
// (tcp://... or unix://...) until the returned function is called.
func serveKVStore(t *testing.T, addr string) (stop func()) {
	t.Helper()
	s := server.NewSocketServer(addr, kvstore.NewInMemoryApplication())
	if err := s.Start(); err != nil {
		t.Fatalf("start kvstore at %s: %v", addr, err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			s.Stop()
		}
	}
	t.Cleanup(stop)
	return stop
}

func newTestClient(t *testing.T, addr string, opts Options) *Client {
	t.Helper()
	c, err := New(addr, testVals(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestKVStore drives CometBFT's example kvstore through a block's life:
// the handshake, admission, a proposal built and judged, a block
// finalized and committed, and reads of its state.
func TestKVStore(t *testing.T) {
	addr := "tcp://" + freeAddr(t)
	serveKVStore(t, addr)
	c := newTestClient(t, addr, Options{})
	ctx := testContext(t)

	info, err := c.Info(ctx)
	if err != nil || info.Height != 0 || info.Name != "abci" {
		t.Fatalf("info before genesis: %+v, %v", info, err)
	}
	if _, err := c.InitChain(ctx, app.Genesis{ChainID: "test", Time: 1, Validators: c.vals, InitialHeight: 1}); err != nil {
		t.Fatalf("init chain: %v", err)
	}

	txs := app.NewTxs([][]byte{[]byte("a=1"), []byte("bad"), []byte("b:2")})
	errs, err := c.CheckTx(ctx, app.CheckNew, txs)
	if err != nil {
		t.Fatalf("check tx: %v", err)
	}
	var refused *app.TxError
	if errs[0] != nil || errs[2] != nil || !errors.As(errs[1], &refused) || refused.Code != kvstore.CodeTypeInvalidTxFormat {
		t.Fatalf("check tx: %v, want only the second refused with code %d", errs, kvstore.CodeTypeInvalidTxFormat)
	}
	good := []*app.Tx{txs[0], txs[2]}

	prepared := checkPrepare(t, c, good)
	checkProcess(t, c, prepared, txs[1])
	hash := checkFinalize(t, c, prepared)

	info, err = c.Info(ctx)
	if err != nil || info.Height != 1 || !bytes.Equal(info.AppHash, hash) {
		t.Fatalf("info after height 1: %+v, %v; want height 1 and app hash %x", info, err, hash)
	}
	q, err := c.Query(ctx, app.Query{Data: []byte("b")})
	if err != nil || q.Code != 0 || string(q.Value) != "2" || q.Height != 1 {
		t.Fatalf("query b: %+v, %v; want value 2 at height 1", q, err)
	}
	q, err = c.Query(ctx, app.Query{Data: []byte("missing")})
	if err != nil || q.Value != nil {
		t.Fatalf("query missing: %+v, %v; want no value", q, err)
	}
}

// checkPrepare has the kvstore prepare a block of txs: it rewrites b:2
// as b=2, keeps a=1 (the very Tx given), and a small budget trims it.
func checkPrepare(t *testing.T, c *Client, txs []*app.Tx) []*app.Tx {
	t.Helper()
	ctx := testContext(t)
	p := app.Proposal{Height: 1, Time: 2, Proposer: 1, Txs: txs, MaxBytes: 1000}
	got, err := c.PrepareProposal(ctx, p)
	if err != nil {
		t.Fatalf("prepare proposal: %v", err)
	}
	if len(got) != 2 || got[0] != txs[0] || string(got[1].Bytes) != "b=2" || got[1].Hash != chain.TxHash([]byte("b=2")) {
		t.Fatalf("prepared %v, want a=1 (the given tx) and b=2", app.Bytes(got))
	}
	p.MaxBytes = 4
	trimmed, err := c.PrepareProposal(ctx, p)
	if err != nil || len(trimmed) != 1 || trimmed[0] != txs[0] {
		t.Fatalf("prepared within 4 bytes: %q, %v; want a=1 alone", app.Bytes(trimmed), err)
	}
	p.MaxBytes, p.MaxTxs = 1000, 1
	if one, err := c.PrepareProposal(ctx, p); err != nil || len(one) != 1 || one[0] != txs[0] {
		t.Fatalf("prepared with room for one transaction: %q, %v; want a=1 alone", app.Bytes(one), err)
	}
	return got
}

// checkProcess has the kvstore accept good and refuse it with bad.
func checkProcess(t *testing.T, c *Client, good []*app.Tx, bad *app.Tx) {
	t.Helper()
	ctx := testContext(t)
	p := app.Proposal{Height: 1, Time: 2, Proposer: 1, Txs: good}
	if ok, err := c.ProcessProposal(ctx, p); err != nil || !ok {
		t.Fatalf("process proposal of good txs: %v, %v", ok, err)
	}
	p.Txs = append(p.Txs, bad)
	if ok, err := c.ProcessProposal(ctx, p); err != nil || ok {
		t.Fatalf("process proposal with a bad tx: %v, %v; want refused", ok, err)
	}
}

// checkFinalize finalizes and commits height 1 of txs, with a double vote
// by validator 2: the kvstore finds the validator by its address and asks
// to lower its power, which is counted.
func checkFinalize(t *testing.T, c *Client, txs []*app.Tx) []byte {
	t.Helper()
	ctx := testContext(t)
	res, err := c.FinalizeBlock(ctx, app.Block{
		Height: 1, Time: 2, Proposer: 1, Txs: txs, Hash: chain.Hash{1},
		Misbehavior: []app.Misbehavior{{Validator: 2, Kind: "double-vote", Height: 1, Time: 2}},
	})
	if err != nil {
		t.Fatalf("finalize block: %v", err)
	}
	if len(res.TxResults) != len(txs) || !res.TxResults[0].OK() || !res.TxResults[1].OK() {
		t.Fatalf("finalize block: results %+v", res.TxResults)
	}
	if len(res.AppHash) == 0 || res.Writes != nil || !res.Recheck.All || res.ValidatorUpdates != 1 {
		t.Fatalf("finalize block: %+v; want an app hash, no writes, recheck all, 1 validator update", res)
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	return res.AppHash
}

// TestCheckTxBatch checks 10,000 transactions in one call, on a unix
// socket.
func TestCheckTxBatch(t *testing.T) {
	addr := "unix://" + filepath.Join(t.TempDir(), "app.sock")
	serveKVStore(t, addr)
	c := newTestClient(t, addr, Options{})
	bs := make([][]byte, 10_000)
	for i := range bs {
		bs[i] = fmt.Appendf(nil, "k%d=v", i)
		if i%1000 == 7 {
			bs[i] = fmt.Appendf(nil, "bad%d", i)
		}
	}
	errs, err := c.CheckTx(testContext(t), app.CheckRecheck, app.NewTxs(bs))
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if (e != nil) != (i%1000 == 7) {
			t.Fatalf("tx %d (%s): %v", i, bs[i], e)
		}
	}
}

// TestRestart stops the application and starts an empty one in its
// place: calls fail while it is down, and the next call after it is back
// reconnects and sees the new application.
func TestRestart(t *testing.T) {
	addr := "unix://" + filepath.Join(t.TempDir(), "app.sock")
	stop := serveKVStore(t, addr)
	c := newTestClient(t, addr, Options{})
	ctx := testContext(t)
	if _, err := c.InitChain(ctx, app.Genesis{ChainID: "test", Validators: c.vals, InitialHeight: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FinalizeBlock(ctx, app.Block{Height: 1, Txs: app.NewTxs([][]byte{[]byte("a=1")})}); err != nil {
		t.Fatal(err)
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Info(ctx); err != nil || info.Height != 1 {
		t.Fatalf("info: %+v, %v", info, err)
	}
	if _, err := c.CheckTx(ctx, app.CheckNew, app.NewTxs([][]byte{[]byte("b=2")})); err != nil {
		t.Fatal(err)
	}

	stop()
	if _, err := c.Info(ctx); !errors.Is(err, app.ErrUnavailable) {
		t.Fatalf("info while the application is down: %v, want ErrUnavailable", err)
	}
	serveKVStore(t, addr)
	if info, err := c.Info(ctx); err != nil || info.Height != 0 {
		t.Fatalf("info after the restart: %+v, %v; want height 0", info, err)
	}
	// The mempool and consensus connections were idle through the
	// restart: their next calls find the new application at once.
	if errs, err := c.CheckTx(ctx, app.CheckNew, app.NewTxs([][]byte{[]byte("b=2")})); err != nil || errs[0] != nil {
		t.Fatalf("check tx after the restart: %v, %v", errs, err)
	}
	if _, err := c.InitChain(ctx, app.Genesis{ChainID: "test", Validators: c.vals, InitialHeight: 1}); err != nil {
		t.Fatalf("init chain after the restart: %v", err)
	}
}
