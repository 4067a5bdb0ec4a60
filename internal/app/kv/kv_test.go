package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/apptest"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/smt"
	"github.com/strategos/strategos/internal/smt/smttest"
	"github.com/strategos/strategos/internal/store"
)

var ctx = context.Background()

var (
	_ app.State = (*store.Store)(nil)
)

// memState is the shared in-memory app.State.
type memState = apptest.MemState

func newMemState() *memState { return apptest.NewMemState() }

// exec finalizes txs at the state's next height and commits the writes
// and the application, as the node does.
func exec(t *testing.T, a *App, st *memState, txs ...string) app.BlockResult {
	t.Helper()
	h, _ := st.AppState()
	b := app.Block{Height: h + 1}
	for _, tx := range txs {
		b.Txs = append(b.Txs, app.NewTx([]byte(tx)))
	}
	res, err := a.FinalizeBlock(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TxResults) != len(txs) || res.Writes == nil {
		t.Fatalf("%d results for %d transactions, writes %v", len(res.TxResults), len(txs), res.Writes)
	}
	if err := st.Commit(b.Height, res.AppHash, res.Writes); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return res
}

func txs(ss ...string) []*app.Tx {
	out := make([]*app.Tx, len(ss))
	for i, s := range ss {
		out[i] = app.NewTx([]byte(s))
	}
	return out
}

// junk are transactions that are not key=value, with what their refusal
// says.
var junk = map[string]string{
	"":                                  "empty transaction",
	"no-equals":                         "must be key=value",
	"=v":                                "empty key",
	"a=\nb":                             "printable text",
	"a=b\tc":                            "printable text",
	"a=\xff":                            "printable text",
	"k=" + strings.Repeat("v", MaxTx-1): "exceeds",
}

func TestParse(t *testing.T) {
	for tx, want := range map[string][2]string{
		"a=b":        {"a", "b"},
		"k=v  ":      {"k", "v  "},
		"k=":         {"k", ""},
		"k=a=b":      {"k", "a=b"},
		"clé=värde":  {"clé", "värde"},
		"sp ace=x y": {"sp ace", "x y"},
	} {
		k, v, err := Parse([]byte(tx))
		if err != nil || string(k) != want[0] || string(v) != want[1] {
			t.Errorf("Parse(%q) = %q, %q, %v; want %q", tx, k, v, err, want)
		}
	}
	if _, _, err := Parse([]byte("k=" + strings.Repeat("v", MaxTx-2))); err != nil {
		t.Errorf("a transaction of MaxTx bytes refused: %v", err)
	}
	for tx, want := range junk {
		if _, _, err := Parse([]byte(tx)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%.20q) = %v, want %q", tx, err, want)
		}
	}
}

func TestCheckTx(t *testing.T) {
	st := newMemState()
	a := New(st)
	for _, kind := range []app.CheckKind{app.CheckNew, app.CheckRecheck} {
		in := txs("a=b", "no-equals", "k=", "=v", "x=y=z")
		errs, err := a.CheckTx(ctx, kind, in)
		if err != nil || len(errs) != len(in) {
			t.Fatalf("CheckTx: %v, %v", errs, err)
		}
		for i, bad := range []bool{false, true, false, true, false} {
			if !bad {
				if errs[i] != nil {
					t.Errorf("kind %d, %q refused: %v", kind, in[i].Bytes, errs[i])
				}
				continue
			}
			var te *app.TxError
			if !errors.As(errs[i], &te) || te.Code != CodeInvalid || te.Log == "" {
				t.Errorf("kind %d, %q: %v, want code %d", kind, in[i].Bytes, errs[i], CodeInvalid)
			}
		}
		// A valid transaction carries its key and value to execution,
		// parsed once; nothing is in a lane.
		for _, tx := range in {
			k, v, err := Parse(tx.Bytes)
			p, ok := tx.Parsed.(parsed)
			if err == nil && (!ok || !bytes.Equal(p.key, k) || !bytes.Equal(p.value, v)) || err != nil && tx.Parsed != nil || tx.Lane != "" {
				t.Errorf("%q: parsed %v, lane %q", tx.Bytes, tx.Parsed, tx.Lane)
			}
		}
	}
	for tx := range junk {
		errs, err := a.CheckTx(ctx, app.CheckNew, txs(tx))
		if err != nil || code(errs[0]) != CodeInvalid {
			t.Errorf("CheckTx(%.20q) = %v, %v", tx, errs, err)
		}
	}
	if len(st.KV) != 0 || st.Height != 0 {
		t.Fatal("CheckTx changed the state")
	}
}

func code(err error) uint32 {
	var te *app.TxError
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestProcessProposal(t *testing.T) {
	a := New(newMemState())
	process := func(in ...*app.Tx) bool {
		t.Helper()
		ok, err := a.ProcessProposal(ctx, app.Proposal{Height: 1, Txs: in})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !process(txs("a=b", "k=v  ")...) || !process() {
		t.Fatal("pairs refused")
	}
	for j := range junk {
		if process(txs("a=b", j)...) {
			t.Errorf("proposal holding %.20q accepted", j)
		}
	}
	cands := txs("a=b", "c=d")
	got, err := a.PrepareProposal(ctx, app.Proposal{Height: 1, Txs: cands, MaxBytes: 1 << 20})
	if err != nil || len(got) != 2 || got[0] != cands[0] || got[1] != cands[1] {
		t.Fatalf("PrepareProposal: %v, %v", got, err)
	}
}

func TestFinalizeBlock(t *testing.T) {
	st := newMemState()
	a := New(st)
	root, err := a.InitChain(ctx, app.Genesis{ChainID: "c"})
	if err != nil || !bytes.Equal(root, make([]byte, 32)) {
		t.Fatalf("InitChain: %x, %v; want the empty tree's root, 32 zero bytes", root, err)
	}
	res := exec(t, a, st, "a=1", "no-equals", "b=2", "a=3", "", "c=")
	for i, want := range []uint32{0, CodeInvalid, 0, 0, CodeInvalid, 0} {
		r := res.TxResults[i]
		if r.Code != want || (r.Log != "") != (want != 0) || r.Later {
			t.Errorf("tx %d: %+v, want code %d", i, r, want)
		}
	}
	if !strings.Contains(res.TxResults[1].Log, "key=value") {
		t.Errorf("log %q", res.TxResults[1].Log)
	}
	// The last write of a key in a block wins; a rejected one writes
	// nothing; an empty value deletes.
	want := map[string][]byte{"kv/a": []byte("3"), "kv/b": []byte("2")}
	if !maps.EqualFunc(res.Writes.Puts, want, bytes.Equal) || !slices.Equal(res.Writes.Deletes, []string{"kv/c"}) {
		t.Fatalf("writes %q, deletes %q", res.Writes.Puts, res.Writes.Deletes)
	}
	if len(res.AppHash) != 32 || res.ValidatorUpdates != 0 || res.Recheck.All || len(res.Recheck.Lanes) != 0 {
		t.Fatalf("result %+v", res)
	}
	info, err := a.Info(ctx)
	if err != nil || info.Name != "kv" || info.Height != 1 || !bytes.Equal(info.AppHash, res.AppHash) {
		t.Fatalf("info %+v, %v", info, err)
	}
	// A block of rejected transactions changes neither the state nor
	// its hash.
	before := maps.Clone(st.KV)
	res2 := exec(t, a, st, "junk")
	if res2.TxResults[0].Code != CodeInvalid || len(res2.Writes.Puts) != 0 || !bytes.Equal(res2.AppHash, res.AppHash) {
		t.Fatalf("block of junk: %+v", res2)
	}
	if !maps.EqualFunc(before, st.KV, bytes.Equal) {
		t.Fatal("a rejected transaction changed the state")
	}
}

func TestQuery(t *testing.T) {
	st := newMemState()
	a := New(st)
	exec(t, a, st, "name=strategos", "empty=")
	query := func(q app.Query) app.QueryResult {
		t.Helper()
		r, err := a.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := query(app.Query{Data: []byte("name")}); r.Code != 0 || string(r.Value) != "strategos" || r.Log != "exists" || string(r.Key) != "name" || r.Height != 1 {
		t.Fatalf("present key: %+v", r)
	}
	// key= deletes key: the tree proves absence, not empty values.
	if r := query(app.Query{Data: []byte("empty"), Height: 1}); r.Code != 0 || r.Value != nil || r.Log != "does not exist" {
		t.Fatalf("key with an empty value: %+v", r)
	}
	for _, k := range []string{"absent", "nam", "kv/name", ""} {
		if r := query(app.Query{Data: []byte(k)}); r.Code != 0 || r.Value != nil || r.Log != "does not exist" {
			t.Fatalf("absent key %q: %+v", k, r)
		}
	}
	if r, err := a.Query(ctx, app.Query{Data: []byte("name"), Height: 7}); !errors.Is(err, app.ErrNotKept) {
		t.Fatalf("a height not kept answered: %+v, %v", r, err)
	}
	st.GetErr = errors.New("disk on fire")
	if _, err := a.Query(ctx, app.Query{Data: []byte("name")}); err == nil {
		t.Fatal("an unreadable state answered")
	}
}

// TestAppHashDeterminism feeds two apps the same blocks: they reach the
// same app hash, height after height; another block, or the same block at
// another height, gives another.
func TestAppHashDeterminism(t *testing.T) {
	blocks := [][]string{
		{"a=1", "b=2"},
		{},
		{"a=2", "junk", "c=3", "a=4"},
		{"b=2"},
	}
	sa, sb := newMemState(), newMemState()
	a, b := New(sa), New(sb)
	seen := map[string]bool{}
	for h, blk := range blocks {
		ra, rb := exec(t, a, sa, blk...), exec(t, b, sb, blk...)
		if !bytes.Equal(ra.AppHash, rb.AppHash) {
			t.Fatalf("height %d: %x, %x", h+1, ra.AppHash, rb.AppHash)
		}
		// The app hash is of the state alone: a block that changes
		// nothing (the empty one, and b=2 again) keeps it.
		if changes := h != 1 && h != 3; seen[string(ra.AppHash)] == changes {
			t.Fatalf("height %d: app hash %x repeated %v, want %v", h+1, ra.AppHash, !changes, !changes)
		}
		seen[string(ra.AppHash)] = true
	}
	if !maps.EqualFunc(sa.KV, sb.KV, bytes.Equal) {
		t.Fatal("the two states differ")
	}
	// The hash commits to the state a block left: the same writes, in
	// any order or repeated, or deleting an absent key, give the same
	// hash; other writes another.
	first := func(blk ...string) []byte {
		st := newMemState()
		return exec(t, New(st), st, blk...).AppHash
	}
	h0 := first(blocks[0]...)
	for _, same := range [][]string{{"b=2", "a=1"}, {"a=1", "b=2", "a=1"}, {"a=0", "b=2", "a=1", "junk"}, {"a=1", "b=2", "c="}} {
		if !bytes.Equal(first(same...), h0) {
			t.Errorf("block %q: another hash than %q's", same, blocks[0])
		}
	}
	for _, other := range [][]string{{"a=1", "b=3"}, {"a=1"}, {"a=1", "b=2", "c=1"}, {"a=1", "b=2", "a=2"}, {"a=12"}, {"a1=", "b=2"}} {
		if bytes.Equal(first(other...), h0) {
			t.Errorf("block %q: the same hash as %q's", other, blocks[0])
		}
	}
}

// TestOnStore runs the application on the real store: blocks committed
// as the node commits them, a restart, and queries.
func TestOnStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	genesis := chain.Hash{2}
	st, err := store.Open(path, "kv-test", genesis)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { st.Close() }()
	a := New(st)
	if _, err := a.InitChain(ctx, app.Genesis{ChainID: "kv-test"}); err != nil {
		t.Fatal(err)
	}
	twin := newMemState()
	tw := New(twin)
	var parent *chain.Block
	for i, blk := range [][]string{{"a=1", "bad"}, {"a=2", "b=3"}} {
		res, err := a.FinalizeBlock(ctx, app.Block{Height: uint64(i + 1), Txs: txs(blk...)})
		if err != nil {
			t.Fatal(err)
		}
		b := &chain.Block{Height: 1, Round: 1, Parent: genesis, QC: chain.GenesisQC(genesis)}
		if parent != nil {
			ph := parent.Hash("kv-test")
			b.Height, b.Round, b.Parent = parent.Height+1, parent.Round+1, ph
			b.QC = &chain.QC{Round: parent.Round, BlockHash: ph, Votes: []chain.Signature{{Signer: 1, Sig: bytes.Repeat([]byte{1}, 64)}}}
		}
		for _, tx := range blk {
			b.Payload = append(b.Payload, []byte(tx))
		}
		h := b.Hash("kv-test")
		qc := &chain.QC{Round: b.Round, BlockHash: h, Votes: []chain.Signature{{Signer: 2, Sig: bytes.Repeat([]byte{2}, 64)}}}
		w := store.AppWrite{Root: res.AppHash, Puts: res.Writes.Puts, Deletes: res.Writes.Deletes}
		if err := st.CommitExecuted(consensus.Commit{Block: b, Hash: h, QC: qc}, w); err != nil {
			t.Fatal(err)
		}
		if err := a.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		parent = b
		if want := exec(t, tw, twin, blk...); !bytes.Equal(res.AppHash, want.AppHash) {
			t.Fatalf("height %d: the store's app hash differs from the in-memory one", i+1)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = store.Open(path, "kv-test", genesis); err != nil {
		t.Fatal(err)
	}
	a = New(st)
	info, err := a.Info(ctx)
	if h, root := twin.AppState(); err != nil || info.Height != 2 || info.Height != h || !bytes.Equal(info.AppHash, root) {
		t.Fatalf("info after restart %+v, %v", info, err)
	}
	for k, want := range map[string]string{"a": "2", "b": "3"} {
		if r, err := a.Query(ctx, app.Query{Data: []byte(k)}); err != nil || string(r.Value) != want || r.Height != 2 {
			t.Errorf("query %q: %+v, %v", k, r, err)
		}
	}
	if r, err := a.Query(ctx, app.Query{Data: []byte("bad")}); err != nil || r.Value != nil {
		t.Errorf("query of a key never written: %+v, %v", r, err)
	}
}

// TestAppHashFormula recomputes, independently of the code that does it,
// the app hash after each block: the root of the sparse Merkle tree of
// the whole state (smttest's oracle), whatever the order of the writes.
// The block writes many keys, so that an order other than the path order
// shows.
func TestAppHashFormula(t *testing.T) {
	st := newMemState()
	a := New(st)
	var blk []string
	want := map[string][]byte{}
	for i := range 40 {
		k := fmt.Sprintf("key-%d", (i*7)%40)
		blk = append(blk, k+"=v"+k)
		want[k] = []byte("v" + k)
	}
	blk = append(blk, "key-3=last", "junk", "key-9=")
	want["key-3"] = []byte("last")
	delete(want, "key-9")
	for height := uint64(1); height <= 2; height++ {
		res := exec(t, a, st, blk...)
		if sum := smttest.Root(want); !bytes.Equal(res.AppHash, sum) {
			t.Fatalf("height %d: app hash %x, want %x", height, res.AppHash, sum)
		}
	}
	// A proof at height 2 verifies against that root.
	r, err := a.Query(ctx, app.Query{Data: []byte("key-3"), Height: 2, Prove: true})
	if err != nil || string(r.Value) != "last" || r.ProofSpec != smt.Spec {
		t.Fatalf("proof query: %+v, %v", r, err)
	}
	if err := smt.VerifyProof(smttest.Root(want), []byte("key-3"), r.Value, r.Proof); err != nil {
		t.Fatal(err)
	}
	r, err = a.Query(ctx, app.Query{Data: []byte("key-9"), Height: 1, Prove: true})
	if err != nil || r.Value != nil {
		t.Fatalf("absent key: %+v, %v", r, err)
	}
	if err := smt.VerifyProof(smttest.Root(want), []byte("key-9"), nil, r.Proof); err != nil {
		t.Fatal(err)
	}
}

// Within one block a key set and then deleted ends absent, and one
// deleted and then set ends set, in the store (which deletes before it
// puts) as in the tree.
func TestFinalizeBlockDeleteAndSetAgain(t *testing.T) {
	st := newMemState()
	a := New(st)
	if _, err := a.InitChain(ctx, app.Genesis{ChainID: "c"}); err != nil {
		t.Fatal(err)
	}
	exec(t, a, st, "x=0", "y=0")
	res := exec(t, a, st, "x=1", "x=", "y=", "y=2", "z=", "z=", "w=1", "w=", "w=3")
	want := map[string][]byte{"kv/y": []byte("2"), "kv/w": []byte("3")}
	if !maps.EqualFunc(st.KV, want, bytes.Equal) {
		t.Fatalf("state %q, want %q", st.KV, want)
	}
	if sum := smttest.Root(map[string][]byte{"y": []byte("2"), "w": []byte("3")}); !bytes.Equal(res.AppHash, sum) {
		t.Fatalf("app hash %x, want %x", res.AppHash, sum)
	}
	if d := res.Writes.Deletes; len(d) != len(slices.Compact(slices.Sorted(slices.Values(d)))) {
		t.Fatalf("deletes %q repeat a key", d)
	}
}
