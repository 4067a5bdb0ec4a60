package bank

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/store"
)

var _ app.State = (*store.Store)(nil)

var storeGenesis = chain.Hash{1}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, testChain, storeGenesis)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestGenesisOnStore initialises the genesis on the real store, reopens
// it as a restarted node does, and initialises again.
func TestGenesisOnStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	g := genesisOf(t, []config.GenesisAccount{{Address: addrOf(testKey(0)).String(), Balance: 42}})
	var first []byte
	for i := range 2 {
		st := openStore(t, path)
		a := newApp(t, st, testChain)
		gd, err := a.InitChain(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = gd
		} else if !bytes.Equal(gd, first) {
			t.Fatal("the genesis app hash changed across a restart")
		}
		if b, n, _, err := a.Account(addrOf(testKey(0))); err != nil || b != 42 || n != 0 {
			t.Fatalf("account %d, %d, %v", b, n, err)
		}
		if errs, err := a.CheckTx(ctx, app.CheckNew, app.NewTxs([][]byte{mustSign(t, 0, 1, 42, 0)})); err != nil || errs[0] != nil {
			t.Fatal(errs, err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// storeChain commits blocks to a real store as the node does: the block,
// its QC and the state its execution wrote, in one durable write.
type storeChain struct {
	st     *store.Store
	parent *chain.Block
}

func (c *storeChain) commit(t *testing.T, txs [][]byte, res app.BlockResult) {
	t.Helper()
	b := &chain.Block{Height: 1, Round: 1, Parent: storeGenesis, QC: chain.GenesisQC(storeGenesis), Payload: txs}
	if p := c.parent; p != nil {
		ph := p.Hash(testChain)
		b.Height, b.Round, b.Parent = p.Height+1, p.Round+1, ph
		b.QC = &chain.QC{Round: p.Round, BlockHash: ph, Votes: []chain.Signature{{Signer: 1, Sig: bytes.Repeat([]byte{1}, 64)}}}
	}
	h := b.Hash(testChain)
	qc := &chain.QC{Round: b.Round, BlockHash: h, Votes: []chain.Signature{{Signer: 2, Sig: bytes.Repeat([]byte{2}, 64)}}}
	w := store.AppWrite{Root: res.AppHash, Puts: res.Writes.Puts, Deletes: res.Writes.Deletes}
	if err := c.st.CommitExecuted(consensus.Commit{Block: b, Hash: h, QC: qc}, w); err != nil {
		t.Fatal(err)
	}
	c.parent = b
}

// TestBlocksOnStore runs a ledger on the real store, beside a twin on the
// in-memory state: admission, blocks, recheck, a restart, and queries.
func TestBlocksOnStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	accounts := []config.GenesisAccount{
		{Address: addrOf(testKey(0)).String(), Balance: 100},
		{Address: addrOf(testKey(1)).String(), Balance: 50},
	}
	st := openStore(t, path)
	a := newApp(t, st, testChain)
	gd, err := a.InitChain(ctx, genesisOf(t, accounts))
	if err != nil {
		t.Fatal(err)
	}
	twin := newFixture(t, 3, 100, 50)
	if !bytes.Equal(gd, twin.genesis) {
		t.Fatal("the store and the in-memory state start from different genesis app hashes")
	}
	c := &storeChain{st: st}
	blocks := [][][]byte{
		{mustSign(t, 0, 1, 10, 0), mustSign(t, 0, 2, 20, 1), mustSign(t, 1, 2, 5, 0)},
		{mustSign(t, 2, 0, 25, 0), []byte("junk"), mustSign(t, 0, 1, 1000, 2)},
	}
	pending := app.NewTxs(append(append([][]byte{}, blocks[0]...), mustSign(t, 0, 1, 1, 2)))
	if errs, err := a.CheckTx(ctx, app.CheckNew, pending); err != nil || errs[0] != nil || errs[1] != nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("admission: %v, %v", errs, err)
	}
	for i, blk := range blocks {
		txs := app.NewTxs(blk)
		if i == 0 {
			txs = pending[:3] // decoded at admission, as the mempool hands them over
		}
		res, err := a.FinalizeBlock(ctx, app.Block{Height: uint64(i + 1), Txs: txs})
		if err != nil {
			t.Fatal(err)
		}
		c.commit(t, blk, res)
		if err := a.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		want := twin.execTxs(t, app.NewTxs(blk)...)
		if !bytes.Equal(res.AppHash, want.AppHash) {
			t.Fatalf("height %d: the store's app hash differs from the in-memory one", i+1)
		}
		if h, root := st.AppState(); h != uint64(i+1) || !bytes.Equal(root, res.AppHash) {
			t.Fatalf("height %d: store at %d, %x", i+1, h, root)
		}
		if i == 0 {
			// The sender's last pending transfer follows the committed ones.
			if errs, err := a.CheckTx(ctx, app.CheckRecheck, pending[3:]); err != nil || errs[0] != nil {
				t.Fatalf("recheck: %v, %v", errs, err)
			}
			if _, _, p, err := a.Account(addrOf(testKey(0))); err != nil || p != 3 {
				t.Fatalf("pending nonce %d, %v", p, err)
			}
		}
	}
	// Restarted over the same file, the application reports the state it
	// executed and answers from it.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, path)
	a = newApp(t, st, testChain)
	info, err := a.Info(ctx)
	if err != nil || info.Height != 2 {
		t.Fatalf("info after restart %+v, %v", info, err)
	}
	if h, root := twin.st.AppState(); info.Height != h || !bytes.Equal(info.AppHash, root) {
		t.Fatalf("info after restart %+v, twin at %d, %x", info, h, root)
	}
	for i, want := range []AccountJSON{{Balance: 95, Nonce: 2}, {Balance: 55, Nonce: 1}, {Balance: 0, Nonce: 1}} {
		want.Address = addrOf(testKey(i)).String()
		r, err := a.Query(ctx, app.Query{Path: "account", Data: []byte(want.Address)})
		var got AccountJSON
		if err != nil || r.Code != 0 || r.Height != 2 || json.Unmarshal(r.Value, &got) != nil || got != want {
			t.Errorf("account %d: %+v (%s), %v; want %+v", i, r, r.Value, err, want)
		}
	}
	if r, err := a.Query(ctx, app.Query{Path: "supply"}); err != nil || string(r.Value) != `{"supply":150}` {
		t.Fatalf("supply: %+v, %v", r, err)
	}
	if _, err := a.InitChain(ctx, genesisOf(t, accounts)); err != nil {
		t.Fatalf("InitChain after restart: %v", err)
	}
}

func mustSign(t *testing.T, i, j int, amount, nonce uint64) []byte {
	t.Helper()
	b, err := Sign(testKey(i), testChain, addrOf(testKey(j)), amount, nonce)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
