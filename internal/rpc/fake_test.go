package rpc

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// fake is a Backend over an in-memory chain that a test grows block by
// block. A transaction whose bytes start with "bad" is refused by its
// application (code 7); one starting with "fail" is admitted and then
// rejected in its block (code 9); "busy" finds the mempool full.
type fake struct {
	mu       sync.Mutex
	ch       Chain
	blocks   []*chain.Block // height h at h-1
	hashes   []chain.Hash
	results  []Results
	executed uint64
	earliest uint64 // as if pruned below
	txs      map[chain.Hash]TxStatus
	pending  [][]byte
	batches  []int // the size of each SubmitBatch call
	links    []Link
	reg      *prometheus.Registry
	info     app.Info
	queries  []app.Query
}

const fakeChain = "fake-chain"

var fakeGenesisTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeKey is validator i's key, the same in every run.
func fakeKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256(fmt.Appendf(nil, "validator %d", i))
	return ed25519.NewKeyFromSeed(seed[:])
}

func newFake(t testing.TB, n int) *fake {
	t.Helper()
	var vals []chain.Validator
	g := config.Genesis{ChainID: fakeChain, Time: fakeGenesisTime, App: "kv"}
	var peers []config.Peer
	for i := range n {
		pub := fakeKey(i).Public().(ed25519.PublicKey)
		vals = append(vals, chain.Validator{PubKey: pub, Power: 1})
		g.Validators = append(g.Validators, config.GenesisValidator{Index: uint32(i), Address: chain.AddressOf(pub).String(),
			PubKey: hex.EncodeToString(pub), Power: 1})
		peers = append(peers, config.Peer{Index: uint32(i), Addr: fmt.Sprintf("127.0.0.1:%d", 26600+i)})
	}
	set, err := chain.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return &fake{
		ch: Chain{ChainID: fakeChain, Genesis: g, Validators: set, Self: 0, PubKey: vals[0].PubKey,
			P2PListen: "127.0.0.1:26600", RPCListen: "127.0.0.1:26657", Peers: peers},
		txs: make(map[chain.Hash]TxStatus), reg: prometheus.NewRegistry(),
		info: app.Info{Name: "kv", Data: "fake kv", Version: "1.0", AppVersion: 3},
	}
}

// commit appends a block of txs, executed at once.
func (f *fake) commit(txs ...[]byte) (*chain.Block, chain.Hash) {
	f.mu.Lock()
	defer f.mu.Unlock()
	height := uint64(len(f.blocks)) + 1
	parent := chain.Genesis(fakeChain, f.ch.Validators).Hash(fakeChain)
	if height > 1 {
		parent = f.hashes[height-2]
	}
	b := &chain.Block{
		Height: height, Round: 2 * height, Parent: parent, Payload: txs, Proposer: uint32(height) % uint32(f.ch.Validators.Len()),
		Time:       fakeGenesisTime.Add(time.Duration(height) * time.Second).UnixNano(),
		ExecHeight: height - 1, StateRoot: rootOf(height - 1),
		QC: &chain.QC{Round: 2*height - 1, BlockHash: parent, Votes: []chain.Signature{{Signer: 0, Sig: []byte("s0")}, {Signer: 1, Sig: []byte("s1")}}},
	}
	h := b.Hash(fakeChain)
	r := Results{AppHash: fmt.Appendf(nil, "apphash-%d", height)}
	for _, tx := range txs {
		o := Outcome{}
		if bytes.HasPrefix(tx, []byte("fail")) {
			o = Outcome{Code: 9, Log: "failed in its block"}
		}
		r.Txs = append(r.Txs, o)
		st := TxStatus{Status: "committed", Height: height}
		if o.Code != 0 {
			st = TxStatus{Status: "rejected", Height: height, Code: o.Code, Log: o.Log}
		}
		f.txs[chain.TxHash(tx)] = st
	}
	var left [][]byte
	for _, p := range f.pending {
		if f.txs[chain.TxHash(p)].Height == 0 {
			left = append(left, p)
		}
	}
	f.pending = left
	f.blocks, f.hashes, f.results = append(f.blocks, b), append(f.hashes, h), append(f.results, r)
	f.executed = height
	return b, h
}

func (f *fake) Chain() Chain { return f.ch }

func (f *fake) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	bytes := 0
	for _, p := range f.pending {
		bytes += len(p)
	}
	return Status{Height: uint64(len(f.blocks)), Executed: f.executed, Earliest: max(f.earliest, 1), Pending: len(f.pending), PendingBytes: bytes, Links: f.links}
}

func (f *fake) Block(height uint64) (*chain.Block, chain.Hash, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if height == 0 || height > uint64(len(f.blocks)) {
		return nil, chain.Hash{}, false
	}
	return f.blocks[height-1], f.hashes[height-1], true
}

func (f *fake) BlockByHash(h chain.Hash) (*chain.Block, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.hashes {
		if x == h {
			return f.blocks[i], true
		}
	}
	return nil, false
}

func (f *fake) Results(height uint64) (Results, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if height == 0 || height > f.executed {
		return Results{}, false, nil
	}
	return f.results[height-1], true, nil
}

func (f *fake) Tx(h chain.Hash) (TxStatus, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.txs[h]; ok {
		return st, true, nil
	}
	return TxStatus{}, false, nil
}

func (f *fake) SubmitBatch(txs [][]byte) ([]chain.Hash, []error) {
	hs, errs := make([]chain.Hash, len(txs)), make([]error, len(txs))
	f.mu.Lock()
	f.batches = append(f.batches, len(txs))
	f.mu.Unlock()
	for i, tx := range txs {
		hs[i], errs[i] = f.submit(tx)
	}
	return hs, errs
}

func (f *fake) submit(tx []byte) (chain.Hash, error) {
	h := chain.TxHash(tx)
	if err := f.judge(tx); err != nil {
		return h, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.txs[h]; ok {
		return h, fmt.Errorf("%w: %s", ErrInCache, st.Status)
	}
	f.txs[h] = TxStatus{Status: "pending"}
	f.pending = append(f.pending, tx)
	return h, nil
}

func (f *fake) judge(tx []byte) error {
	switch {
	case bytes.HasPrefix(tx, []byte("bad")):
		return &app.TxError{Code: 7, Codespace: "fake", Log: "bad transaction"}
	case bytes.HasPrefix(tx, []byte("busy")):
		return fmt.Errorf("%w: 10 transactions already wait", ErrFull)
	}
	return nil
}

func (f *fake) CheckTx(_ context.Context, tx []byte) error { return f.judge(tx) }

func (f *fake) Info(context.Context) (app.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.info
	i.Height, i.AppHash = f.executed, fmt.Appendf(nil, "apphash-%d", f.executed)
	return i, nil
}

func (f *fake) Query(_ context.Context, q app.Query) (app.QueryResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if q.Path == "/broken" {
		return app.QueryResult{}, errors.New("fake: the application failed")
	}
	return app.QueryResult{Code: 0, Log: "exists", Key: q.Data, Value: []byte("value of " + string(q.Data)), Height: f.executed}, nil
}

func (f *fake) Registry() *prometheus.Registry { return f.reg }

// pendingTxs returns the transactions submitted and not yet in a block.
func (f *fake) pendingTxs() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.pending...)
}

// serve starts a server over f (cfg's zero fields take the defaults)
// and returns it with its URL.
func serve(t testing.TB, f *fake, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Poll == 0 {
		cfg.Poll = 5 * time.Millisecond
	}
	s, err := New(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.feed.run(ctx) }()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.closeConns()
		srv.Close()
		cancel()
		<-done
		s.ws.Wait()
	})
	return s, srv.URL
}

// rootOf is the fake chain's state root after height.
func rootOf(height uint64) []byte {
	r := sha256.Sum256(fmt.Appendf(nil, "root %d", height))
	return r[:]
}

// batchSizes returns the size of each SubmitBatch call so far.
func (f *fake) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}
