// Package kv is the key/value application: a transaction is the bytes
// "key=value" (printable, no newline, at most 64 KiB), the same shape as
// CometBFT's kvstore example so the two systems can be compared on the
// same work. Executing it sets key to value.
package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unicode"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/authstate"
)

// MaxTx is the largest transaction the application accepts.
const MaxTx = 64 << 10

// keyPrefix separates this application's keys in the shared state area.
const keyPrefix = "kv/"

// App is the key/value application.
type App struct {
	st   app.State
	tree *authstate.Lazy
}

// New returns the application over st.
func New(st app.State) *App {
	return &App{st: st, tree: authstate.NewLazy(st, keyPrefix, func(k []byte) ([]byte, error) { return k, nil })}
}

// CodeInvalid is the code of a transaction that is not key=value.
const CodeInvalid uint32 = 1

// Parse splits a transaction into key and value, checking its shape.
func Parse(tx []byte) (key, value []byte, err error) {
	if len(tx) == 0 {
		return nil, nil, errors.New("kv: empty transaction")
	}
	if len(tx) > MaxTx {
		return nil, nil, fmt.Errorf("kv: transaction of %d bytes exceeds %d", len(tx), MaxTx)
	}
	i := bytes.IndexByte(tx, '=')
	if i < 0 {
		return nil, nil, errors.New("kv: transaction must be key=value")
	}
	if i == 0 {
		return nil, nil, errors.New("kv: empty key")
	}
	if !printable(tx) {
		return nil, nil, errors.New("kv: transaction must be printable text without newlines")
	}
	return tx[:i], tx[i+1:], nil
}

// printable reports whether b is UTF-8 text of printable characters. The
// common case, printable ASCII, is checked a byte at a time.
func printable(b []byte) bool {
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			for _, r := range string(b[i:]) {
				if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
					return false
				}
			}
			return true
		}
	}
	return true
}

// parsed is a transaction's key and value, kept in app.Tx.Parsed so that
// a transaction checked at admission or when its proposal was judged is
// not parsed again at execution.
type parsed struct{ key, value []byte }

// parse returns tx's key and value, parsing it only the first time.
func parse(tx *app.Tx) (key, value []byte, err error) {
	if p, ok := tx.Parsed.(parsed); ok {
		return p.key, p.value, nil
	}
	k, v, err := Parse(tx.Bytes)
	if err == nil {
		tx.Parsed = parsed{k, v}
	}
	return k, v, err
}

// Info implements app.Application.
func (a *App) Info(context.Context) (app.Info, error) {
	h, root := a.st.AppState()
	return app.Info{Name: "kv", Version: "1", Height: h, AppHash: root}, nil
}

// InitChain implements app.Application: the state starts empty, and its
// app hash is the empty tree's root (32 zero bytes).
func (a *App) InitChain(context.Context, app.Genesis) ([]byte, error) {
	t, err := a.tree.Tree()
	if err != nil {
		return nil, err
	}
	_, root := t.Latest()
	return root, nil
}

// CheckTx implements app.Application: a transaction must be key=value.
func (*App) CheckTx(_ context.Context, _ app.CheckKind, txs []*app.Tx) ([]error, error) {
	errs := make([]error, len(txs))
	for i, tx := range txs {
		if _, _, err := parse(tx); err != nil {
			errs[i] = app.Refuse(CodeInvalid, err)
		}
	}
	return errs, nil
}

// PrepareProposal implements app.Application: the mempool's candidates
// are the block.
func (*App) PrepareProposal(_ context.Context, p app.Proposal) ([]*app.Tx, error) {
	return p.Txs, nil
}

// ProcessProposal implements app.Application: every transaction must be
// a key=value pair that CheckTx would admit.
func (*App) ProcessProposal(_ context.Context, p app.Proposal) (bool, error) {
	for _, tx := range p.Txs {
		if _, _, err := parse(tx); err != nil {
			return false, nil
		}
	}
	return true, nil
}

// FinalizeBlock implements app.Application. A key=value sets key; an
// empty value deletes it (the tree proves absence, not empty values).
// The app hash is the root of the authenticated tree of the state after
// the block, which depends only on that state.
func (a *App) FinalizeBlock(_ context.Context, b app.Block) (app.BlockResult, error) {
	t, err := a.tree.Tree()
	if err != nil {
		return app.BlockResult{}, err
	}
	if h, _ := a.st.AppState(); b.Height != h+1 {
		return app.BlockResult{}, fmt.Errorf("kv: finalize height %d after %d", b.Height, h)
	}
	res := app.BlockResult{TxResults: make([]app.TxResult, len(b.Txs))}
	// The tree takes the block's writes in block order (of a key written
	// twice the later wins), and so does the map of puts: no per-key
	// bookkeeping, whose allocations were most of this function's cost.
	w := &app.Writes{Puts: make(map[string][]byte, len(b.Txs))}
	keys, values := make([][]byte, 0, len(b.Txs)), make([][]byte, 0, len(b.Txs))
	var deleted map[string]bool // keys in w.Deletes, which are rare
	for i, tx := range b.Txs {
		k, v, err := parse(tx)
		if err != nil {
			res.TxResults[i] = app.TxResult{Code: CodeInvalid, Log: err.Error()}
			continue
		}
		keys, values = append(keys, k), append(values, v)
		sk := keyPrefix + string(k)
		if len(v) > 0 {
			w.Puts[sk] = v
			continue
		}
		// The store deletes before it puts: a key deleted and then set
		// again in the block ends set, as here.
		delete(w.Puts, sk)
		if !deleted[sk] {
			if deleted == nil {
				deleted = make(map[string]bool)
			}
			deleted[sk] = true
			w.Deletes = append(w.Deletes, sk)
		}
	}
	root, err := t.Apply(b.Height, keys, values)
	if err != nil {
		return app.BlockResult{}, err
	}
	res.AppHash, res.Writes = root, w
	return res, nil
}

// Commit implements app.Application: the node made the writes durable
// with the block.
func (*App) Commit(context.Context) error { return nil }

// Query implements app.Application: Data is the key; the answer's Value
// is nil when the key has no value. Without Prove and Height it reads the
// store; with either it reads the authenticated tree of that height (0:
// the latest) and, with Prove, gives the ICS23 proof.
func (a *App) Query(_ context.Context, q app.Query) (app.QueryResult, error) {
	if q.Prove || q.Height != 0 {
		return a.proven(q)
	}
	height, _ := a.st.AppState()
	res := app.QueryResult{Key: q.Data, Height: height}
	v, ok, err := a.st.AppGet(keyPrefix + string(q.Data))
	if err != nil {
		return res, err
	}
	if ok {
		res.Value, res.Log = v, "exists"
	} else {
		res.Log = "does not exist"
	}
	return res, nil
}

func (a *App) proven(q app.Query) (app.QueryResult, error) {
	res := app.QueryResult{Key: q.Data, Height: q.Height}
	if len(q.Data) == 0 {
		res.Code, res.Log = CodeInvalid, "kv: empty key"
		return res, nil
	}
	return a.tree.Query(q.Data, q, res)
}

// Close implements app.Application.
func (*App) Close() error { return nil }
