package bank

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// State is the durable key/value area the application reads its state
// from (implemented by store.Store). The application writes it only at
// genesis; the node commits each block's writes (app.BlockResult.Puts).
type State interface {
	AppGet(key string) ([]byte, bool)
	AppPut(puts map[string][]byte, deletes []string) error
	AppState() (height uint64, root chain.Hash)
}

// ErrInvariant wraps the error Execute returns when a block would break
// an invariant of the ledger; the node must stop.
var ErrInvariant = errors.New("bank: invariant violated")

// App is the bank application. It is safe for concurrent use: CheckTx,
// CheckTxAt, Account and Query may run while Execute runs (they read the
// committed state); Execute calls must not overlap.
type App struct {
	st      State
	chainID string
	sigs    *sigCache
}

var _ app.Application = (*App)(nil)

// New returns the application over st for the chain chainID, with a
// verified-signature cache of DefaultCacheSize entries. Call InitGenesis
// before the first Execute.
func New(st State, chainID string) *App {
	return &App{st: st, chainID: chainID, sigs: newSigCache(DefaultCacheSize)}
}

// Name implements app.Application.
func (*App) Name() string { return "bank" }

// InitGenesis writes the genesis allocations, their total supply and the
// genesis digest in one AppPut. On a state already initialised it only
// checks that the allocations are the same ones and changes nothing, so a
// restarting node calls it every time.
func (a *App) InitGenesis(accounts []config.GenesisAccount) error {
	allocs, gd, supply, err := genesisState(a.chainID, accounts)
	if err != nil {
		return err
	}
	if have, ok := a.st.AppGet(keyGenesis); ok {
		if !bytes.Equal(have, gd[:]) {
			return errors.New("bank: state was initialised from a different genesis")
		}
		return nil
	}
	if h, _ := a.st.AppState(); h > 0 {
		return fmt.Errorf("bank: state executed to height %d holds no bank genesis (another app's state?)", h)
	}
	puts := make(map[string][]byte, len(allocs)+2)
	for _, al := range allocs {
		puts[acctKey(al.addr)] = account{balance: al.balance}.encode()
	}
	puts[keySupply] = binary.BigEndian.AppendUint64(nil, supply)
	puts[keyGenesis] = gd[:]
	if err := a.st.AppPut(puts, nil); err != nil {
		return fmt.Errorf("bank: init genesis: %w", err)
	}
	return nil
}

// Supply returns the total supply recorded at genesis, and false if the
// state has no genesis yet.
func (a *App) Supply() (uint64, bool) {
	b, ok := a.st.AppGet(keySupply)
	if !ok || len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// load returns the committed account of addr and whether it exists.
func (a *App) load(addr chain.Address) (account, bool, error) {
	b, ok := a.st.AppGet(acctKey(addr))
	if !ok {
		return account{}, false, nil
	}
	acct, err := decodeAccount(b)
	return acct, err == nil, err
}

// Account returns the committed balance and next nonce of addr; zero for
// an unknown (or unreadable) account.
func (a *App) Account(addr chain.Address) (balance, nonce uint64) {
	acct, _, _ := a.load(addr)
	return acct.balance, acct.nonce
}

// CheckTx implements app.Application: body must be a well-formed transfer
// signed for this chain, from a known account holding at least its amount,
// with a nonce not below the account's next committed nonce. A nonce
// ahead of it passes (the mempool decides whether to hold it). It changes
// no state; a verified signature is remembered for Execute.
func (a *App) CheckTx(body []byte) error {
	t, err := a.decode(body)
	if err != nil {
		return err
	}
	acct, ok, err := a.load(t.From())
	if err != nil {
		return err
	}
	if !ok {
		return errorf(ErrUnknownAccount, "unknown account %s", t.From())
	}
	if t.Nonce < acct.nonce {
		return errorf(ErrNonceUsed, "nonce %d already used, next is %d", t.Nonce, acct.nonce)
	}
	if t.Amount > acct.balance {
		return errorf(ErrInsufficientFunds, "insufficient funds: balance %d, amount %d", acct.balance, t.Amount)
	}
	return a.verify(t)
}

// CheckTxAt checks body as CheckTx does, but against a sender state the
// caller supplies instead of the committed one, and returns the decoded
// transfer. It reads no state and changes none.
//
// It is for a mempool that admits a sequence of transfers from one
// account before any commits. For the sender t.From() (use Decode to learn
// it), with committed balance and nonce from Account, and the pending
// transfers p_1..p_k already admitted with nonces nonce..nonce+k-1:
//
//	next      = nonce + k                             (the pending nonce)
//	available = balance - (p_1.Amount + ... + p_k.Amount)  (0 if negative)
//
// A transfer with t.Nonce < next is refused (ErrNonceUsed: used or already
// pending); one with t.Amount > available is refused
// (ErrInsufficientFunds). One with t.Nonce > next passes: the caller
// compares t.Nonce with next and holds or refuses a gap as it chooses.
// CheckTxAt does not look the sender up: for a sender with nothing
// pending, CheckTx gives the clearer answer (an unknown account is
// "unknown account", not "insufficient funds").
// Execute applies a transfer only with exactly the next nonce, so a held
// gap can never commit out of order.
func (a *App) CheckTxAt(body []byte, next, available uint64) (Tx, error) {
	t, err := Decode(body)
	if err != nil {
		return Tx{}, err
	}
	if err := a.CheckDecodedAt(t, next, available); err != nil {
		return Tx{}, err
	}
	return t, nil
}

// CheckDecodedAt is CheckTxAt for a transfer the caller decoded with
// Decode: admission decodes once and checks a whole batch.
func (a *App) CheckDecodedAt(t Tx, next, available uint64) error {
	if t.ChainID != a.chainID {
		return errorf(ErrWrongChain, "transaction is for chain %q, this is %q", t.ChainID, a.chainID)
	}
	if t.Nonce < next {
		return errorf(ErrNonceUsed, "nonce %d already used or pending, next is %d", t.Nonce, next)
	}
	if t.Amount > available {
		return errorf(ErrInsufficientFunds, "insufficient funds: %d available after pending transfers, amount %d", available, t.Amount)
	}
	return a.verify(t)
}

// decode decodes body and checks that it is for this chain.
func (a *App) decode(body []byte) (Tx, error) {
	t, err := Decode(body)
	if err != nil {
		return Tx{}, err
	}
	if t.ChainID != a.chainID {
		return Tx{}, errorf(ErrWrongChain, "transaction is for chain %q, this is %q", t.ChainID, a.chainID)
	}
	return t, nil
}

// verify checks t's signature unless the cache already saw its body
// verify, and remembers a success.
func (a *App) verify(t Tx) error {
	if a.sigs.has(t.Hash) {
		return nil
	}
	if err := t.Verify(a.chainID); err != nil {
		return err
	}
	a.sigs.add(t.Hash)
	return nil
}

// Execute implements app.Application. Each transfer applies when it is
// valid against the state left by the transfers before it in the block
// (exactly the sender's next nonce, enough balance); otherwise its result
// says why and it changes nothing. The invariants are checked before the
// block's writes are committed; a violation returns an error wrapping
// ErrInvariant and commits nothing.
func (a *App) Execute(height uint64, txs [][]byte) (app.BlockResult, error) {
	prevHeight, prev := a.st.AppState()
	if height != prevHeight+1 {
		return app.BlockResult{}, fmt.Errorf("bank: execute height %d after %d", height, prevHeight)
	}
	if prevHeight == 0 {
		gd, ok := a.st.AppGet(keyGenesis)
		if !ok || len(gd) != len(prev) {
			return app.BlockResult{}, errors.New("bank: genesis not initialised (InitGenesis was not called)")
		}
		copy(prev[:], gd)
	}
	supply, ok := a.Supply()
	if !ok {
		return app.BlockResult{}, errors.New("bank: no supply recorded (InitGenesis was not called)")
	}
	w := &working{st: a.st, accts: make(map[chain.Address]*entry)}
	res := app.BlockResult{Height: height, Results: make([]app.TxResult, len(txs))}
	var applied []chain.Hash
	senders := make(map[chain.Address]bool)
	for i, tx := range txs {
		t, reason, err := a.apply(w, tx)
		r := app.TxResult{Hash: t.Hash}
		if t.Hash.IsZero() {
			r.Hash = chain.TxHash(tx) // undecodable: apply had no hash to give
		} else if !senders[t.From()] {
			senders[t.From()] = true
			res.Senders = append(res.Senders, t.From())
		}
		if err != nil {
			return app.BlockResult{}, fmt.Errorf("bank: execute height %d: %w", height, err)
		}
		if reason != nil {
			r.Error = reason.Error()
			r.Later = errors.Is(reason, ErrNonceGap)
		} else {
			r.OK = true
			applied = append(applied, r.Hash)
		}
		res.Results[i] = r
	}
	changed := w.changed()
	if err := checkInvariants(changed, supply); err != nil {
		return app.BlockResult{}, fmt.Errorf("%w at height %d: %v", ErrInvariant, height, err)
	}
	puts := make(map[string][]byte, len(changed))
	for _, e := range changed {
		puts[acctKey(e.addr)] = e.cur.encode()
	}
	res.StateRoot = stateRoot(prev, height, changed)
	res.Puts = puts
	for _, h := range applied {
		a.sigs.forget(h)
	}
	return res, nil
}

// apply applies one transfer to w. It returns the reason a transfer is
// rejected, or an error that must stop execution (unreadable state, an
// overflow that a conserved supply makes impossible).
func (a *App) apply(w *working, body []byte) (t Tx, reason, fatal error) {
	t, err := Decode(body)
	if err != nil {
		return Tx{}, err, nil
	}
	reason, fatal = a.applyDecoded(w, t)
	return t, reason, fatal
}

func (a *App) applyDecoded(w *working, t Tx) (reason, fatal error) {
	if t.ChainID != a.chainID {
		return errorf(ErrWrongChain, "transaction is for chain %q, this is %q", t.ChainID, a.chainID), nil
	}
	from, err := w.get(t.From())
	if err != nil {
		return nil, err
	}
	switch {
	case !from.exists:
		return errorf(ErrUnknownAccount, "unknown account %s", t.From()), nil
	case t.Nonce < from.cur.nonce:
		return errorf(ErrNonceUsed, "nonce %d already used, next is %d", t.Nonce, from.cur.nonce), nil
	case t.Nonce > from.cur.nonce:
		return errorf(ErrNonceGap, "nonce %d is ahead of the next nonce %d", t.Nonce, from.cur.nonce), nil
	case t.Nonce == math.MaxUint64:
		return errorf(ErrNonceUsed, "nonce space of account %s exhausted", t.From()), nil
	case t.Amount > from.cur.balance:
		return errorf(ErrInsufficientFunds, "insufficient funds: balance %d, amount %d", from.cur.balance, t.Amount), nil
	}
	if err := a.verify(t); err != nil {
		return err, nil
	}
	to, err := w.get(t.To)
	if err != nil {
		return nil, err
	}
	credited := to.cur.balance + t.Amount
	if credited < to.cur.balance {
		return nil, fmt.Errorf("%w: crediting %d to account %s holding %d overflows", ErrInvariant, t.Amount, t.To, to.cur.balance)
	}
	from.cur.balance -= t.Amount
	from.cur.nonce++
	from.sent++
	from.dirty = true
	to.cur.balance = credited
	to.exists, to.dirty = true, true
	return nil, nil
}

// Info implements app.Application.
func (a *App) Info() (uint64, chain.Hash) { return a.st.AppState() }

// AccountJSON is the JSON answer of Query for an address.
type AccountJSON struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}

// Query implements app.Application. The key "supply" answers
// {"supply":N}; an address (40 hex digits) answers AccountJSON, with a
// zero balance and nonce for an unknown account. Another key is an error.
func (a *App) Query(key string) ([]byte, error) {
	if key == "supply" {
		s, ok := a.Supply()
		if !ok {
			return nil, app.ErrNotFound
		}
		return json.Marshal(struct {
			Supply uint64 `json:"supply"`
		}{s})
	}
	addr, err := ParseAddress(key)
	if err != nil {
		return nil, err
	}
	bal, nonce := a.Account(addr)
	return json.Marshal(AccountJSON{Address: addr.String(), Balance: bal, Nonce: nonce})
}

// CheckProposal implements app.ProposalChecker: every transaction of a
// proposal must decode as a transfer. Signatures, chain, balances and
// nonces are left to Execute, which rejects a bad transfer on its own
// without holding up the block (and signatures were checked at admission
// by whoever admitted it; verifying ten thousand again here would delay
// every vote).
func (*App) CheckProposal(txs [][]byte) error {
	for i, tx := range txs {
		if _, err := Decode(tx); err != nil {
			return fmt.Errorf("bank: proposal entry %d: %w", i, err)
		}
	}
	return nil
}

var _ app.ProposalChecker = (*App)(nil)
