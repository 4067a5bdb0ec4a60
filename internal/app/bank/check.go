package bank

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// Codes of the application's refusals (app.TxError.Code), one per kind.
const (
	CodeMalformed uint32 = iota + 1
	CodeWrongChain
	CodeBadSignature
	CodeUnknownAccount
	CodeInsufficientFunds
	CodeNonceUsed
	CodeNonceGap
)

var codes = []struct {
	kind error
	code uint32
}{
	{ErrMalformed, CodeMalformed}, {ErrWrongChain, CodeWrongChain}, {ErrBadSignature, CodeBadSignature},
	{ErrUnknownAccount, CodeUnknownAccount}, {ErrInsufficientFunds, CodeInsufficientFunds},
	{ErrNonceUsed, CodeNonceUsed}, {ErrNonceGap, CodeNonceGap},
}

// refuse returns err as the application's refusal, with its kind's code.
func refuse(err error) *app.TxError {
	for _, c := range codes {
		if errors.Is(err, c.kind) {
			return app.Refuse(c.code, err)
		}
	}
	return app.Refuse(CodeMalformed, err)
}

// lane is what a sender has pending in the mempool: how many transfers,
// the nonce after the last of them, and what they spend in all.
type lane struct {
	count, next, spend uint64
}

// parse decodes each transaction that is not decoded yet, for this chain,
// and sets its Lane to the sender. It returns the refusal of those that
// do not decode.
func (a *App) parse(txs []*app.Tx, errs []error) {
	for i, tx := range txs {
		if _, ok := tx.Parsed.(Tx); ok {
			continue
		}
		t, err := a.decodeHashed(tx.Bytes, tx.Hash)
		if err != nil {
			errs[i] = refuse(err)
			continue
		}
		tx.Parsed, tx.Lane = t, t.From().String()
	}
}

// CheckTx implements app.Application. A new transfer must be well-formed,
// signed for this chain, from a known account, with exactly the nonce
// after the sender's committed and pending transfers, and an amount the
// sender holds once those pending transfers are paid; it then counts as
// pending. A nonce ahead is refused (ErrNonceGap): a client submits its
// nonces in order. Signatures are checked in batches on every core.
//
// A recheck is given, after a commit, the transfers still pending of some
// senders, in the order they were admitted: the senders' pending state is
// rebuilt from them, and those that no longer follow (their nonce was used
// by another transfer, or the sender can no longer pay) are refused.
func (a *App) CheckTx(_ context.Context, kind app.CheckKind, txs []*app.Tx) ([]error, error) {
	errs := make([]error, len(txs))
	a.parse(txs, errs)
	if kind == app.CheckNew {
		var todo []Tx
		for i, tx := range txs {
			if errs[i] == nil && !a.sigs.has(tx.Hash) {
				todo = append(todo, tx.Parsed.(Tx))
			}
		}
		a.verifyAll(todo)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if kind == app.CheckRecheck {
		for i, tx := range txs {
			if errs[i] == nil {
				delete(a.pending, tx.Parsed.(Tx).From())
			}
		}
	}
	committed := make(map[chain.Address]account)
	for _, i := range checkOrder(txs, errs, kind) {
		err := a.admit(txs[i].Parsed.(Tx), committed, kind)
		var te *app.TxError
		if errors.As(err, &te) {
			errs[i] = te
		} else if err != nil {
			return nil, err // the state could not be read
		}
	}
	return errs, nil
}

// checkOrder returns the positions of the transfers to check, in the
// order to check them: as given for new ones, and for a recheck each
// sender's in nonce order, whatever order concurrent admissions left them
// in.
func checkOrder(txs []*app.Tx, errs []error, kind app.CheckKind) []int {
	order := make([]int, 0, len(txs))
	for i := range txs {
		if errs[i] == nil {
			order = append(order, i)
		}
	}
	if kind == app.CheckRecheck {
		slices.SortStableFunc(order, func(x, y int) int {
			tx, ty := txs[x].Parsed.(Tx), txs[y].Parsed.(Tx)
			if c := bytes.Compare(tx.PubKey, ty.PubKey); c != 0 {
				return c
			}
			return cmp.Compare(tx.Nonce, ty.Nonce)
		})
	}
	return order
}

// admit checks one transfer against its sender's committed state and
// pending transfers, and counts it as pending. The caller holds a.mu.
func (a *App) admit(t Tx, committed map[chain.Address]account, kind app.CheckKind) error {
	from := t.From()
	acct, ok := committed[from]
	if !ok {
		var exists bool
		var err error
		if acct, exists, err = a.load(from); err != nil {
			return err
		}
		if !exists {
			return refuse(errorf(ErrUnknownAccount, "unknown account %s: it has no funds", from))
		}
		committed[from] = acct
	}
	l := a.pending[from]
	next, spend := acct.nonce, uint64(0)
	if l != nil {
		next, spend = l.next, l.spend
	}
	available := uint64(0)
	if acct.balance > spend {
		available = acct.balance - spend
	}
	if err := a.admissible(t, next, available, acct, kind); err != nil {
		return refuse(err)
	}
	if kind == app.CheckNew {
		if err := a.verify(t); err != nil {
			return refuse(err)
		}
	}
	if l == nil {
		l = &lane{}
		a.pending[from] = l
	}
	l.count++
	l.next = t.Nonce + 1
	l.spend += t.Amount
	return nil
}

// admissible says why t cannot follow a sender's pending transfers, if it
// cannot: next is the nonce it must have, available what the sender can
// still spend.
func (a *App) admissible(t Tx, next, available uint64, acct account, kind app.CheckKind) error {
	if kind == app.CheckRecheck {
		switch {
		case t.Nonce < next:
			return errorf(ErrNonceUsed, "nonce %d was used by another committed transfer", t.Nonce)
		case t.Nonce > next:
			return errorf(ErrNonceGap, "nonce %d no longer follows the sender's next nonce %d", t.Nonce, next)
		case t.Amount > available:
			return errorf(ErrInsufficientFunds, "insufficient funds once earlier transfers committed: balance %d, amount %d", acct.balance, t.Amount)
		}
		return nil
	}
	switch {
	case t.Nonce > next:
		return errorf(ErrNonceGap, "nonce %d is ahead of the next nonce %d (pending transfers included): submit the missing nonces first", t.Nonce, next)
	case t.Nonce < next:
		return errorf(ErrNonceUsed, "nonce %d already used or pending, next is %d", t.Nonce, next)
	case t.Amount > available:
		return errorf(ErrInsufficientFunds, "insufficient funds: %d available after pending transfers, amount %d", available, t.Amount)
	}
	return nil
}

// PrepareProposal implements app.Application: the mempool's candidates,
// in the order they came, are the block.
func (*App) PrepareProposal(_ context.Context, p app.Proposal) ([]*app.Tx, error) {
	return p.Txs, nil
}

// ProcessProposal implements app.Application: every transaction of a
// proposal must decode as a transfer. Signatures, chain, balances and
// nonces are left to FinalizeBlock, which rejects a bad transfer on its
// own without holding up the block; signatures not verified yet are
// verified now, beside consensus, so that execution finds them done.
func (a *App) ProcessProposal(_ context.Context, p app.Proposal) (bool, error) {
	errs := make([]error, len(p.Txs))
	a.parse(p.Txs, errs)
	var todo []Tx
	for i, tx := range p.Txs {
		if errs[i] != nil {
			return false, nil
		}
		if !a.sigs.has(tx.Hash) {
			todo = append(todo, tx.Parsed.(Tx))
		}
	}
	if len(todo) > 0 {
		select {
		case a.ahead <- todo:
		default: // execution verifies them itself
		}
	}
	return true, nil
}

func (a *App) verifyAhead() {
	for {
		select {
		case <-a.done:
			return
		case ts := <-a.ahead:
			a.verifyAll(ts)
		}
	}
}

// Query implements app.Application. Path "supply" answers {"supply":N};
// path "account" (or "") with Data the address, as its 20 bytes or 40 hex
// digits, answers AccountJSON, with a zero balance and nonce for an
// unknown account. An earlier Height is read from the authenticated tree
// of that height; with Prove, the answer is the tree's, with its proof:
// Value is then the account's canonical encoding (see authstate).
func (a *App) Query(_ context.Context, q app.Query) (app.QueryResult, error) {
	height, _ := a.st.AppState()
	res := app.QueryResult{Key: q.Data, Height: height}
	switch q.Path {
	case "supply", "/supply":
		s, _, err := a.Supply()
		if err != nil {
			return res, err
		}
		res.Value = fmt.Appendf(nil, `{"supply":%d}`, s)
		return res, nil
	case "", "account", "/account":
	default:
		res.Code, res.Log = 1, fmt.Sprintf("bank: unknown query path %q (account, supply)", q.Path)
		return res, nil
	}
	var addr chain.Address
	if len(q.Data) == len(addr) {
		copy(addr[:], q.Data)
	} else if parsed, err := ParseAddress(string(q.Data)); err == nil {
		addr = parsed
	} else {
		res.Code, res.Log = 1, err.Error()
		return res, nil
	}
	if q.Prove {
		// From the authenticated tree: Value is the account's canonical
		// encoding (balance, nonce: 8 bytes each, big-endian), nil when
		// the account does not exist.
		return a.tree.Query(addr[:], q, res)
	}
	var bal, nonce uint64
	if q.Height != 0 && q.Height != height {
		old, err := a.tree.Query(addr[:], q, res)
		if err != nil || old.Value == nil {
			old.Value = fmt.Appendf(nil, `{"address":%q,"balance":0,"nonce":0}`, addr.String())
			return old, err
		}
		acct, err := decodeAccount(old.Value)
		if err != nil {
			return res, err
		}
		res.Height, bal, nonce = old.Height, acct.balance, acct.nonce
	} else {
		var err error
		if bal, nonce, _, err = a.Account(addr); err != nil {
			return res, err
		}
	}
	res.Value = fmt.Appendf(nil, `{"address":%q,"balance":%d,"nonce":%d}`, addr.String(), bal, nonce)
	return res, nil
}
