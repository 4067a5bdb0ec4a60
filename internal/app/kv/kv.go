// Package kv is the key/value application: a transaction is the bytes
// "key=value" (printable, no newline, at most 64 KiB), the same shape as
// CometBFT's kvstore example so the two systems can be compared on the
// same work. Executing it sets key to value.
package kv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode"

	"github.com/strategos/strategos/internal/app"
)

// MaxTx is the largest transaction the application accepts.
const MaxTx = 64 << 10

// keyPrefix separates this application's keys in the shared state area.
const keyPrefix = "kv/"

// App is the key/value application.
type App struct{ st app.State }

var _ app.Application = (*App)(nil)

// New returns the application over st.
func New(st app.State) *App { return &App{st: st} }

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
	for _, r := range string(tx) {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return nil, nil, errors.New("kv: transaction must be printable text without newlines")
		}
	}
	return tx[:i], tx[i+1:], nil
}

// Info implements app.Application.
func (a *App) Info(context.Context) (app.Info, error) {
	h, root := a.st.AppState()
	return app.Info{Name: "kv", Version: "1", Height: h, AppHash: root}, nil
}

// InitChain implements app.Application: the state starts empty.
//
// The genesis app hash is the SHA-256 of nothing, the empty store's: an
// app hash is never empty, which clients of CometBFT's RPC expect.
func (a *App) InitChain(context.Context, app.Genesis) ([]byte, error) {
	if _, root := a.st.AppState(); len(root) > 0 {
		return root, nil
	}
	empty := sha256.Sum256(nil)
	return empty[:], nil
}

// CheckTx implements app.Application: a transaction must be key=value.
func (*App) CheckTx(_ context.Context, _ app.CheckKind, txs []*app.Tx) ([]error, error) {
	errs := make([]error, len(txs))
	for i, tx := range txs {
		if _, _, err := Parse(tx.Bytes); err != nil {
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
		if _, _, err := Parse(tx.Bytes); err != nil {
			return false, nil
		}
	}
	return true, nil
}

// FinalizeBlock implements app.Application. The app hash chains the
// previous one with a digest of the block's writes, in sorted key order,
// so every validator that finalizes the same blocks computes the same one.
func (a *App) FinalizeBlock(_ context.Context, b app.Block) (app.BlockResult, error) {
	_, prev := a.st.AppState()
	res := app.BlockResult{TxResults: make([]app.TxResult, len(b.Txs))}
	puts := make(map[string][]byte)
	for i, tx := range b.Txs {
		k, v, err := Parse(tx.Bytes)
		if err != nil {
			res.TxResults[i] = app.TxResult{Code: CodeInvalid, Log: err.Error()}
			continue
		}
		puts[keyPrefix+string(k)] = v
	}
	keys := make([]string, 0, len(puts))
	for k := range puts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write(prev)
	h.Write(binary.BigEndian.AppendUint64(nil, b.Height))
	for _, k := range keys {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(k))))
		h.Write([]byte(k))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(puts[k]))))
		h.Write(puts[k])
	}
	res.AppHash = h.Sum(nil)
	res.Writes = &app.Writes{Puts: puts}
	return res, nil
}

// Commit implements app.Application: the node made the writes durable
// with the block.
func (*App) Commit(context.Context) error { return nil }

// Query implements app.Application: Data is the key; the answer's Value
// is nil when the key has no value.
func (a *App) Query(_ context.Context, q app.Query) (app.QueryResult, error) {
	height, _ := a.st.AppState()
	res := app.QueryResult{Key: q.Data, Height: height}
	if q.Height != 0 && q.Height != height {
		res.Code, res.Log = 1, fmt.Sprintf("kv: only the latest state (height %d) is kept", height)
		return res, nil
	}
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

// Close implements app.Application.
func (*App) Close() error { return nil }
