package bank

import (
	"context"
	"errors"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// DryCheckTx judges new transfers exactly as CheckTx does, against the
// committed state and the pending transfers, without counting them as
// pending: what the RPC's check_tx answers. Transfers given together
// are judged in order, each as if the ones before it were pending.
func (a *App) DryCheckTx(_ context.Context, txs []*app.Tx) ([]error, error) {
	errs := make([]error, len(txs))
	a.parse(txs, errs)
	var todo []Tx
	for i, tx := range txs {
		if errs[i] == nil && !a.sigs.has(tx.Hash) {
			todo = append(todo, tx.Parsed.(Tx))
		}
	}
	a.verifyAll(todo)
	a.mu.Lock()
	defer a.mu.Unlock()
	// The senders' pending state as it was, put back however this ends.
	type was struct {
		l *lane
		v lane
	}
	saved := make(map[chain.Address]was)
	for i, tx := range txs {
		if errs[i] != nil {
			continue
		}
		from := tx.Parsed.(Tx).From()
		if _, ok := saved[from]; ok {
			continue
		}
		w := was{l: a.pending[from]}
		if w.l != nil {
			w.v = *w.l
		}
		saved[from] = w
	}
	defer func() {
		for from, w := range saved {
			if w.l == nil {
				delete(a.pending, from)
			} else {
				*w.l = w.v
				a.pending[from] = w.l
			}
		}
	}()
	committed := make(map[chain.Address]account)
	for _, i := range checkOrder(txs, errs, app.CheckNew) {
		err := a.admit(txs[i].Parsed.(Tx), committed, app.CheckNew)
		var te *app.TxError
		if errors.As(err, &te) {
			errs[i] = te
		} else if err != nil {
			return nil, err
		}
	}
	return errs, nil
}
