package bank

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// Keys of the application area. Every key of the bank starts "bank/".
const (
	keyAcctPrefix = "bank/acct/"   // + address hex -> account (16 bytes)
	keyGenesis    = "bank/genesis" // genesis digest (32 bytes); marks an initialised state
	keySupply     = "bank/supply"  // total supply (8 bytes, big-endian)
)

// Domain tags of the digests, separate from every signed message's.
const (
	domainGenesis = "strategos/bank/genesis"
	digestVersion = 1
)

// account is the stored state of one address.
type account struct {
	balance uint64
	nonce   uint64 // the next nonce a transfer from it must carry
}

func (a account) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], a.balance)
	binary.BigEndian.PutUint64(b[8:], a.nonce)
	return b
}

// DecodeAccount decodes an account's canonical encoding, the value the
// state tree proves: balance and next nonce, 8 bytes each, big-endian.
// nil, an account the tree proves absent, is the empty account.
func DecodeAccount(b []byte) (balance, nonce uint64, err error) {
	if b == nil {
		return 0, 0, nil
	}
	a, err := decodeAccount(b)
	return a.balance, a.nonce, err
}

func decodeAccount(b []byte) (account, error) {
	if len(b) != 16 {
		return account{}, fmt.Errorf("bank: stored account of %d bytes, want 16", len(b))
	}
	return account{balance: binary.BigEndian.Uint64(b[:8]), nonce: binary.BigEndian.Uint64(b[8:])}, nil
}

func acctKey(a chain.Address) string { return keyAcctPrefix + a.String() }

// digest builds the SHA-256 of a versioned, domain-tagged sequence of
// fixed-width fields.
type digest struct{ buf []byte }

func newDigest(domain string) *digest {
	d := &digest{buf: make([]byte, 0, 256)}
	d.buf = append(d.buf, digestVersion)
	d.str(domain)
	return d
}

func (d *digest) u64(v uint64)    { d.buf = binary.BigEndian.AppendUint64(d.buf, v) }
func (d *digest) raw(b []byte)    { d.buf = append(d.buf, b...) }
func (d *digest) str(s string)    { d.u64(uint64(len(s))); d.buf = append(d.buf, s...) }
func (d *digest) sum() chain.Hash { return sha256.Sum256(d.buf) }

// alloc is one genesis allocation.
type alloc struct {
	addr    chain.Address
	balance uint64
}

// genesisState checks the genesis allocations and returns them in address
// order, with their digest and total supply.
func genesisState(chainID string, accounts []config.GenesisAccount) ([]alloc, chain.Hash, uint64, error) {
	allocs := make([]alloc, 0, len(accounts))
	var supply uint64
	for i, ga := range accounts {
		addr, err := ParseAddress(ga.Address)
		if err != nil {
			return nil, chain.Hash{}, 0, fmt.Errorf("bank: genesis account %d: %w", i, err)
		}
		var carry uint64
		supply, carry = bits.Add64(supply, ga.Balance, 0)
		if carry != 0 {
			return nil, chain.Hash{}, 0, fmt.Errorf("bank: genesis balances exceed %d in total", uint64(1<<64-1))
		}
		allocs = append(allocs, alloc{addr: addr, balance: ga.Balance})
	}
	slices.SortFunc(allocs, func(x, y alloc) int { return bytes.Compare(x.addr[:], y.addr[:]) })
	for i := 1; i < len(allocs); i++ {
		if allocs[i].addr == allocs[i-1].addr {
			return nil, chain.Hash{}, 0, fmt.Errorf("bank: genesis funds account %s twice", allocs[i].addr)
		}
	}
	d := newDigest(domainGenesis)
	d.str(chainID)
	d.u64(uint64(len(allocs)))
	for _, a := range allocs {
		d.raw(a.addr[:])
		d.u64(a.balance)
	}
	return allocs, d.sum(), supply, nil
}

// entry is an account as a block's execution sees it.
type entry struct {
	addr    chain.Address
	existed bool    // stored before the block
	exists  bool    // stored after the block so far
	before  account // at the start of the block
	cur     account // after the transfers applied so far
	sent    uint64  // transfers applied from this account
	dirty   bool    // changed by an applied transfer
}

// working is the set of accounts a block read or changed, over the
// committed state.
type working struct {
	st    app.State
	accts map[chain.Address]*entry
}

func (w *working) get(addr chain.Address) (*entry, error) {
	if e, ok := w.accts[addr]; ok {
		return e, nil
	}
	e := &entry{addr: addr}
	b, ok, err := w.st.AppGet(acctKey(addr))
	if err != nil {
		return nil, err
	}
	if ok {
		a, err := decodeAccount(b)
		if err != nil {
			return nil, fmt.Errorf("%w (account %s)", err, addr)
		}
		e.existed, e.exists, e.before, e.cur = true, true, a, a
	}
	w.accts[addr] = e
	return e, nil
}

// changed returns the accounts changed by the block, in address order.
func (w *working) changed() []*entry {
	var out []*entry
	for _, e := range w.accts {
		if e.dirty {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y *entry) int { return bytes.Compare(x.addr[:], y.addr[:]) })
	return out
}

// checkInvariants checks the block's changes against the rules that no
// valid execution can break: the balances of the changed accounts sum to
// what they summed to before (no value created or destroyed), no balance
// exceeds the supply, and each nonce grew by exactly the transfers its
// account sent.
func checkInvariants(changed []*entry, supply uint64) error {
	var beforeHi, beforeLo, afterHi, afterLo, c uint64
	for _, e := range changed {
		beforeLo, c = bits.Add64(beforeLo, e.before.balance, 0)
		beforeHi += c
		afterLo, c = bits.Add64(afterLo, e.cur.balance, 0)
		afterHi += c
		if e.cur.balance > supply {
			return fmt.Errorf("account %s holds %d, more than the supply %d", e.addr, e.cur.balance, supply)
		}
		if e.cur.nonce < e.before.nonce || e.cur.nonce-e.before.nonce != e.sent {
			return fmt.Errorf("account %s nonce went from %d to %d after %d transfers", e.addr, e.before.nonce, e.cur.nonce, e.sent)
		}
		if !e.existed && (e.before != account{}) {
			return fmt.Errorf("new account %s did not start empty", e.addr)
		}
	}
	if beforeHi != afterHi || beforeLo != afterLo {
		return fmt.Errorf("balances of changed accounts went from %d:%d to %d:%d (hi:lo)", beforeHi, beforeLo, afterHi, afterLo)
	}
	return nil
}

// treeKey maps a stored account key (its address in hex) to the key of
// the authenticated tree: the address's 20 bytes.
func treeKey(stored []byte) ([]byte, error) {
	a, err := ParseAddress(string(stored))
	if err != nil {
		return nil, err
	}
	return a[:], nil
}
