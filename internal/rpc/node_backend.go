package rpc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/node"
)

// NodeBackend is a validator, whose home is h, as the RPC's Backend.
func NodeBackend(n *node.Node, h *config.Home) Backend { return nodeBackend{n: n, h: h} }

type nodeBackend struct {
	n *node.Node
	h *config.Home
}

var _ Backend = nodeBackend{}

func (b nodeBackend) Chain() Chain {
	return Chain{
		ChainID: b.h.Genesis.ChainID, Genesis: b.h.Genesis, Validators: b.n.Validators(),
		Self: b.h.Node.Index, PubKey: b.n.PubKey(),
		P2PListen: b.h.Node.P2PListen, RPCListen: b.h.Node.RPCListen, Peers: b.h.Node.Peers,
	}
}

func (b nodeBackend) Status() Status {
	st := b.n.Status()
	store := b.n.Store()
	executed, _ := store.AppState()
	links := make([]Link, len(st.Links))
	for i, l := range st.Links {
		links[i] = Link{Validator: l.Validator, Out: l.Out, In: l.In}
	}
	return Status{
		Height: store.CommittedHeight(), Executed: executed, Earliest: store.EarliestHeight(), Pending: st.Pending, PendingBytes: b.n.PendingBytes(),
		Links: links, AppError: st.AppError,
	}
}

func (b nodeBackend) Block(height uint64) (*chain.Block, chain.Hash, bool) {
	blk, h, _, ok := b.n.Store().CommittedBlock(height)
	return blk, h, ok
}

func (b nodeBackend) BlockByHash(h chain.Hash) (*chain.Block, bool) {
	blk, ok := b.n.Store().Block(h)
	if !ok {
		return nil, false
	}
	// The store also holds blocks that were proposed and never committed.
	if _, at, _, ok := b.n.Store().CommittedBlock(blk.Height); !ok || at != h {
		return nil, false
	}
	return blk, true
}

func (b nodeBackend) Results(height uint64) (Results, bool, error) {
	outs, root, ok, err := b.n.Outcomes(height)
	if err != nil || !ok {
		return Results{}, ok, err
	}
	r := Results{Txs: make([]Outcome, len(outs)), AppHash: root}
	for i, o := range outs {
		r.Txs[i] = Outcome{Code: o.Code, Log: o.Log}
	}
	return r, true, nil
}

func (b nodeBackend) Tx(h chain.Hash) (TxStatus, bool, error) {
	st, ok, err := b.n.Tx(h)
	if err != nil || !ok {
		return TxStatus{}, ok, err
	}
	return TxStatus{Status: st.Status, Height: st.Height, Code: st.Code, Log: st.Error}, true, nil
}

func (b nodeBackend) SubmitBatch(txs [][]byte) ([]chain.Hash, []error) {
	hs, errs := b.n.SubmitBatch(txs)
	for i, err := range errs {
		switch {
		case node.IsDuplicate(err), errors.Is(err, node.ErrCommitted):
			errs[i] = fmt.Errorf("%w: %v", ErrInCache, err)
		case node.IsBusy(err):
			errs[i] = fmt.Errorf("%w: %v", ErrFull, err)
		}
	}
	return hs, errs
}

// dryChecker is an application whose CheckTx counts what it admits as
// pending (the bank: a sender's next nonce), and that can judge a
// transaction without admitting it.
type dryChecker interface {
	DryCheckTx(ctx context.Context, txs []*app.Tx) ([]error, error)
}

// checkTime bounds check_tx's call to the application.
const checkTime = 10 * time.Second

// CheckTx asks the application about tx without admitting it: an
// application that keeps state across CheckTx calls is asked through its
// dry run; another (kv, or one over ABCI, as CometBFT's check_tx does)
// through CheckTx itself.
func (b nodeBackend) CheckTx(ctx context.Context, tx []byte) error {
	ctx, cancel := context.WithTimeout(ctx, checkTime)
	defer cancel()
	a := b.n.App()
	txs := app.NewTxs([][]byte{tx})
	var errs []error
	var err error
	if d, ok := a.(dryChecker); ok {
		errs, err = d.DryCheckTx(ctx, txs)
	} else {
		errs, err = a.CheckTx(ctx, app.CheckNew, txs)
	}
	if err != nil {
		return err
	}
	if len(errs) != 1 {
		return fmt.Errorf("%w: %d answers to one transaction", app.ErrUnavailable, len(errs))
	}
	return errs[0]
}

func (b nodeBackend) Info(ctx context.Context) (app.Info, error) { return b.n.App().Info(ctx) }

func (b nodeBackend) Query(ctx context.Context, q app.Query) (app.QueryResult, error) {
	return b.n.App().Query(ctx, q)
}

func (b nodeBackend) Registry() *prometheus.Registry { return b.n.Registry() }
