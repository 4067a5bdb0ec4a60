package bank

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// decodeHashed decodes body, whose hash is h, and checks that it is for
// this chain.
func (a *App) decodeHashed(body []byte, h chain.Hash) (Tx, error) {
	t, err := DecodeHashed(body, h)
	if err != nil {
		return Tx{}, err
	}
	if t.ChainID != a.chainID {
		return Tx{}, errorf(ErrWrongChain, "transaction is for chain %q, this is %q", t.ChainID, a.chainID)
	}
	return t, nil
}

// FinalizeBlock implements app.Application. Each transfer applies when it
// is valid against the state left by the transfers before it in the block
// (exactly the sender's next nonce, enough balance); otherwise its result
// says why and it changes nothing. The invariants are checked before the
// block's writes are returned; a violation returns an error wrapping
// ErrInvariant and writes nothing. The writes are the node's to commit,
// with the block (BlockResult.Writes).
func (a *App) FinalizeBlock(_ context.Context, b app.Block) (app.BlockResult, error) {
	prevHeight, _ := a.st.AppState()
	if b.Height != prevHeight+1 {
		return app.BlockResult{}, fmt.Errorf("bank: finalize height %d after %d", b.Height, prevHeight)
	}
	if prevHeight == 0 {
		if _, ok, err := a.st.AppGet(keyGenesis); err != nil {
			return app.BlockResult{}, err
		} else if !ok {
			return app.BlockResult{}, errors.New("bank: genesis not initialised (InitChain was not called)")
		}
	}
	tree, err := a.tree.Tree()
	if err != nil {
		return app.BlockResult{}, err
	}
	supply, ok, err := a.Supply()
	if err != nil {
		return app.BlockResult{}, err
	}
	if !ok {
		return app.BlockResult{}, errors.New("bank: no supply recorded (InitChain was not called)")
	}
	a.verifyBlock(b.Txs)
	w := &working{st: a.st, accts: make(map[chain.Address]*entry)}
	res := app.BlockResult{TxResults: make([]app.TxResult, len(b.Txs))}
	var applied []chain.Hash
	var senders []chain.Address
	seen := make(map[chain.Address]bool)
	for i, tx := range b.Txs {
		r, t, err := a.finalizeTx(w, tx)
		if err != nil {
			return app.BlockResult{}, fmt.Errorf("bank: finalize height %d: %w", b.Height, err)
		}
		if t != nil && !seen[t.From()] {
			seen[t.From()] = true
			senders = append(senders, t.From())
		}
		if r.OK() {
			applied = append(applied, tx.Hash)
		}
		res.TxResults[i] = r
	}
	changed := w.changed()
	if err := checkInvariants(changed, supply); err != nil {
		return app.BlockResult{}, fmt.Errorf("%w at height %d: %v", ErrInvariant, b.Height, err)
	}
	puts := make(map[string][]byte, len(changed))
	keys, values := make([][]byte, len(changed)), make([][]byte, len(changed))
	for i, e := range changed {
		v := e.cur.encode()
		puts[acctKey(e.addr)] = v
		keys[i], values[i] = bytes.Clone(e.addr[:]), v
	}
	if res.AppHash, err = tree.Apply(b.Height, keys, values); err != nil {
		return app.BlockResult{}, err
	}
	res.Writes = &app.Writes{Puts: puts}
	res.Recheck.Lanes = make([]string, len(senders))
	for i, s := range senders {
		res.Recheck.Lanes[i] = s.String()
	}
	for _, h := range applied {
		a.sigs.forget(h)
	}
	a.mu.Lock()
	a.touched = senders
	a.mu.Unlock()
	return res, nil
}

// finalizeTx applies one transaction of a block to w: its result, its
// transfer when it decodes, or an error that must stop execution.
func (a *App) finalizeTx(w *working, tx *app.Tx) (app.TxResult, *Tx, error) {
	t, ok := tx.Parsed.(Tx)
	if !ok {
		d, err := DecodeHashed(tx.Bytes, tx.Hash)
		if err != nil {
			return txResult(err), nil, nil
		}
		t = d
	}
	reason, fatal := a.applyDecoded(w, t)
	if fatal != nil {
		return app.TxResult{}, nil, fatal
	}
	return txResult(reason), &t, nil
}

// txResult is the result of a transfer that reason (nil: applied)
// rejected.
func txResult(reason error) app.TxResult {
	if reason == nil {
		return app.TxResult{}
	}
	e := refuse(reason)
	return app.TxResult{Code: e.Code, Log: e.Log, Later: errors.Is(reason, ErrNonceGap)}
}

// verifyBlock verifies, in batches on every core, the signatures of a
// block's transfers that admission and verifyAhead did not check yet.
func (a *App) verifyBlock(txs []*app.Tx) {
	var todo []Tx
	for _, tx := range txs {
		if a.sigs.has(tx.Hash) {
			continue
		}
		if t, ok := tx.Parsed.(Tx); ok {
			if t.ChainID == a.chainID {
				todo = append(todo, t)
			}
		} else if t, err := a.decodeHashed(tx.Bytes, tx.Hash); err == nil {
			tx.Parsed = t
			todo = append(todo, t)
		}
	}
	a.verifyAll(todo)
}

// Commit implements app.Application. The node has made the block's writes
// durable with the block; what remains is to forget what the mempool's
// view counted as pending for the block's senders: the node rechecks
// their transfers still pending, which counts them again.
func (a *App) Commit(context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.touched {
		delete(a.pending, s)
	}
	a.touched = nil
	return nil
}
