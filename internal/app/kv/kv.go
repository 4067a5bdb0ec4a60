// Package kv is the key/value application: a transaction is the bytes
// "key=value" (printable, no newline, at most 64 KiB), the same shape as
// CometBFT's kvstore example so the two systems can be compared on the
// same work. Executing it sets key to value.
package kv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// MaxTx is the largest transaction the application accepts.
const MaxTx = 64 << 10

// keyPrefix separates this application's keys in the shared state area.
const keyPrefix = "kv/"

// State is the durable key/value area the application reads its state
// from (implemented by store.Store); the node writes it.
type State interface {
	AppGet(key string) ([]byte, bool)
	AppState() (height uint64, root chain.Hash)
}

// App is the key/value application.
type App struct{ st State }

var _ app.Application = (*App)(nil)

// New returns the application over st.
func New(st State) *App { return &App{st: st} }

// Name implements app.Application.
func (*App) Name() string { return "kv" }

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

// CheckTx implements app.Application.
func (*App) CheckTx(tx []byte) error {
	_, _, err := Parse(tx)
	return err
}

// Execute implements app.Application. The state root chains the previous
// root with a digest of the block's writes, in sorted key order, so every
// validator that executes the same blocks computes the same root.
func (a *App) Execute(height uint64, txs [][]byte) (app.BlockResult, error) {
	_, prev := a.st.AppState()
	res := app.BlockResult{Height: height, Results: make([]app.TxResult, len(txs))}
	puts := make(map[string][]byte)
	for i, tx := range txs {
		r := app.TxResult{Hash: chain.TxHash(tx)}
		k, v, err := Parse(tx)
		if err != nil {
			r.Error = err.Error()
		} else {
			r.OK = true
			puts[keyPrefix+string(k)] = v
		}
		res.Results[i] = r
	}
	keys := make([]string, 0, len(puts))
	for k := range puts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write(prev[:])
	h.Write(binary.BigEndian.AppendUint64(nil, height))
	for _, k := range keys {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(k))))
		h.Write([]byte(k))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(puts[k]))))
		h.Write(puts[k])
	}
	copy(res.StateRoot[:], h.Sum(nil))
	res.Puts = puts
	return res, nil
}

// Info implements app.Application.
func (a *App) Info() (uint64, chain.Hash) { return a.st.AppState() }

// Query implements app.Application: the value of a key.
func (a *App) Query(key string) ([]byte, error) {
	v, ok := a.st.AppGet(keyPrefix + key)
	if !ok {
		return nil, app.ErrNotFound
	}
	return v, nil
}

// CheckProposal implements app.ProposalChecker: every transaction of a
// proposal must be a key=value pair that CheckTx would admit.
func (*App) CheckProposal(txs [][]byte) error {
	for i, tx := range txs {
		if _, _, err := Parse(tx); err != nil {
			return fmt.Errorf("kv: proposal entry %d: %w", i, err)
		}
	}
	return nil
}

var _ app.ProposalChecker = (*App)(nil)
