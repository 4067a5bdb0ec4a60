package bank

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/authstate"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// ErrInvariant wraps the error FinalizeBlock returns when a block would
// break an invariant of the ledger; the node must stop.
var ErrInvariant = errors.New("bank: invariant violated")

// App is the bank application. It is safe for concurrent use: CheckTx,
// Account and Query may run while FinalizeBlock runs (they read the
// committed state); the consensus calls never overlap one another.
type App struct {
	st      app.State
	chainID string
	sigs    *sigCache
	ahead   chan []Tx // transfers of proposals, verified ahead of execution
	done    chan struct{}
	closed  sync.Once

	mu      sync.Mutex
	pending map[chain.Address]*lane // admitted to the mempool, not committed
	touched []chain.Address         // senders of the last finalized block

	tree *authstate.Lazy // the accounts, authenticated: the app hash is its root
}

var _ app.Application = (*App)(nil)

// New returns the application over st for the chain chainID, with a
// verified-signature cache of DefaultCacheSize entries. The node calls
// InitChain before the first block; Close stops its verifier.
func New(st app.State, chainID string) *App {
	a := &App{
		st: st, chainID: chainID, sigs: newSigCache(DefaultCacheSize),
		ahead: make(chan []Tx, aheadDepth), done: make(chan struct{}),
		pending: make(map[chain.Address]*lane),
		tree:    authstate.NewLazy(st, keyAcctPrefix, treeKey),
	}
	go a.verifyAhead()
	return a
}

// aheadDepth is how many proposals' transfers wait for verification
// ahead of their execution; beyond it, execution verifies them itself.
const aheadDepth = 16

// Close implements app.Application.
func (a *App) Close() error {
	a.closed.Do(func() { close(a.done) })
	return nil
}

// Info implements app.Application.
func (a *App) Info(context.Context) (app.Info, error) {
	h, root := a.st.AppState()
	return app.Info{Name: "bank", Version: "1", Height: h, AppHash: root}, nil
}

// InitChain implements app.Application: the genesis app state is the JSON
// list of allocations ([]config.GenesisAccount). It writes them, their
// total supply and the genesis digest in one AppPut, and returns the
// digest. On a state already initialised it only checks that the
// allocations are the same ones and changes nothing.
func (a *App) InitChain(_ context.Context, g app.Genesis) ([]byte, error) {
	allocs, gd, supply, err := a.parseGenesis(g)
	if err != nil {
		return nil, err
	}
	have, ok, err := a.st.AppGet(keyGenesis)
	if err != nil {
		return nil, err
	}
	if ok {
		if !bytes.Equal(have, gd[:]) {
			return nil, errors.New("bank: state was initialised from a different genesis")
		}
		return a.root()
	}
	if h, _ := a.st.AppState(); h > 0 {
		return nil, fmt.Errorf("bank: state executed to height %d holds no bank genesis (another app's state?)", h)
	}
	puts := make(map[string][]byte, len(allocs)+2)
	for _, al := range allocs {
		puts[acctKey(al.addr)] = account{balance: al.balance}.encode()
	}
	putGenesis(puts, gd, supply)
	if err := a.st.AppPut(puts, nil); err != nil {
		return nil, fmt.Errorf("bank: init genesis: %w", err)
	}
	return a.root()
}

// parseGenesis decodes and checks the genesis app state (genesisState).
func (a *App) parseGenesis(g app.Genesis) ([]alloc, chain.Hash, uint64, error) {
	var accounts []config.GenesisAccount
	if len(g.AppState) > 0 {
		if err := json.Unmarshal(g.AppState, &accounts); err != nil {
			return nil, chain.Hash{}, 0, fmt.Errorf("bank: genesis app state: %w", err)
		}
	}
	return genesisState(a.chainID, accounts)
}

// putGenesis adds to puts what the state keeps of the genesis outside
// the accounts: its digest and total supply.
func putGenesis(puts map[string][]byte, gd chain.Hash, supply uint64) {
	puts[keySupply] = binary.BigEndian.AppendUint64(nil, supply)
	puts[keyGenesis] = gd[:]
}

// root returns the app hash of the stored state: its tree's root.
func (a *App) root() ([]byte, error) {
	t, err := a.tree.Tree()
	if err != nil {
		return nil, err
	}
	_, r := t.Latest()
	return r, nil
}

// Supply returns the total supply recorded at genesis, and false if the
// state has no genesis yet.
func (a *App) Supply() (uint64, bool, error) {
	b, ok, err := a.st.AppGet(keySupply)
	if err != nil || !ok || len(b) != 8 {
		return 0, false, err
	}
	return binary.BigEndian.Uint64(b), true, nil
}

// load returns the committed account of addr and whether it exists.
func (a *App) load(addr chain.Address) (account, bool, error) {
	b, ok, err := a.st.AppGet(acctKey(addr))
	if err != nil || !ok {
		return account{}, false, err
	}
	acct, err := decodeAccount(b)
	return acct, err == nil, err
}

// Account returns the committed balance and next nonce of addr (zero for
// an unknown account), and its next nonce once the transfers pending in
// this validator's mempool apply.
func (a *App) Account(addr chain.Address) (balance, nonce, pendingNonce uint64, err error) {
	acct, _, err := a.load(addr)
	if err != nil {
		return 0, 0, 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	pendingNonce = acct.nonce
	if l := a.pending[addr]; l != nil && l.count > 0 {
		// max: a block may have committed some of them a moment ago.
		pendingNonce = max(pendingNonce, l.next)
	}
	return acct.balance, acct.nonce, pendingNonce, nil
}

// applyDecoded applies one transfer to w. It returns the reason a
// transfer is rejected, or an error that must stop execution (unreadable
// state, an overflow that a conserved supply makes impossible).
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

// AccountJSON is the JSON answer of Query for an address.
type AccountJSON struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
	Nonce   uint64 `json:"nonce"`
}
