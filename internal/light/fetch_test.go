package light

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// serveCommits serves GET /v1/commits/{height} from n, as a node does.
func serveCommits(t *testing.T, n *testNet) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := strconv.ParseUint(strings.TrimPrefix(r.URL.Path, "/v1/commits/"), 10, 64)
		if err != nil {
			http.Error(w, `{"error":"bad height"}`, http.StatusBadRequest)
			return
		}
		c, err := Build(n, n.chainID, h)
		if err != nil {
			http.Error(w, `{"error":"`+err.Error()+`"}`, http.StatusNotFound)
			return
		}
		cm, err := Verify(n.chainID, n.vals, h, c)
		if err != nil {
			t.Errorf("serve %d: %v", h, err)
		}
		json.NewEncoder(w).Encode(NewResponse(cm, c))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// genesisOf is the genesis file of n's validators.
func genesisOf(n *testNet) *config.Genesis {
	g := &config.Genesis{ChainID: n.chainID}
	for i, k := range n.keys {
		g.Validators = append(g.Validators, config.GenesisValidator{
			Index: uint32(i), PubKey: hex.EncodeToString(k.Public().(ed25519.PublicKey)), Power: 1,
		})
	}
	return g
}

// Two chains signed by the same validators (more than f of them lied)
// differ from height 4: a client that asks one node and has the other as
// a witness reports the fork with both certificates; below it, both agree.
func TestWitnessReportsFork(t *testing.T) {
	a, b := newNet(t, testChain), newNet(t, testChain)
	a.grow(lagTwo, consecutive(1, 12)...)
	b.grow(lagTwo, 1, 2, 3)
	b.grow(lagTwo, consecutive(5, 13)...)
	lc, err := NewClient(genesisOf(a), serveCommits(t, a), []string{serveCommits(t, b)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := lc.Commit(ctx, 2); err != nil {
		t.Fatalf("height 2, where the chains agree: %v", err)
	}
	_, err = lc.Commit(ctx, 5)
	var fork *ForkError
	if !errors.As(err, &fork) {
		t.Fatalf("height 5: %v, want a ForkError", err)
	}
	if fork.HashA == fork.HashB || fork.A == nil || fork.B == nil || !strings.Contains(err.Error(), `"headers"`) {
		t.Errorf("fork report: %v", err)
	}
	// A witness of another chain is refused, not taken for a fork.
	other := newNet(t, "another-chain")
	other.grow(lagTwo, consecutive(1, 12)...)
	lc, _ = NewClient(genesisOf(a), serveCommits(t, a), []string{serveCommits(t, other)})
	if _, err := lc.Commit(ctx, 5); err == nil || errors.As(err, &fork) || !errors.Is(err, ErrInvalid) {
		t.Errorf("a witness of another chain: %v", err)
	}
}

// Two chains that share block 5 but split above it, the second carrying
// another root for height 5: the witness's certificate of height 5 names
// the same block with another root, and that is reported as a fork.
func TestWitnessReportsRootFork(t *testing.T) {
	a, b := newNet(t, testChain), newNet(t, testChain)
	a.grow(lagTwo, consecutive(1, 12)...)
	b.grow(lagTwo, consecutive(1, 6)...)
	b.salt = 1
	b.grow(lagTwo, consecutive(7, 12)...)
	lc, err := NewClient(genesisOf(a), serveCommits(t, a), []string{serveCommits(t, b)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = lc.Commit(context.Background(), 5)
	var fork *ForkError
	if !errors.As(err, &fork) || fork.HashA != fork.HashB {
		t.Fatalf("height 5: %v, want a ForkError over one block", err)
	}
}

// The client asks a chain only about the application its genesis runs:
// a node could otherwise serve another app's tree under the kv path.
func TestClientChecksApp(t *testing.T) {
	a := newNet(t, testChain)
	a.grow(lagTwo, consecutive(1, 12)...)
	g := genesisOf(a)
	g.App = "bank"
	lc, err := NewClient(g, serveCommits(t, a), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lc.KV(context.Background(), "k", 0); err == nil || !strings.Contains(err.Error(), "not kv") {
		t.Errorf("kv on a bank chain: %v", err)
	}
	g.App = "kv"
	lc, _ = NewClient(g, serveCommits(t, a), nil)
	if _, err := lc.Account(context.Background(), [20]byte{1}, 0); err == nil || !strings.Contains(err.Error(), "not bank") {
		t.Errorf("account on a kv chain: %v", err)
	}
}

// countingSource counts the blocks read through it.
type countingSource struct {
	*testNet
	reads int
}

func (c *countingSource) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	c.reads++
	return c.testNet.CommittedBlock(h)
}

// Through a HeaderCache, certificates are the same, and a height asked
// again, or one that cannot be certified asked again, reads no block.
func TestHeaderCache(t *testing.T) {
	n := newNet(t, testChain)
	n.grow(lagTwo, consecutive(1, 12)...)
	src := &countingSource{testNet: n}
	hc := NewHeaderCache(src, n.chainID, 64)
	c, err := Build(hc, n.chainID, 5)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(n.build(5))
	if got, _ := json.Marshal(c); string(got) != string(want) {
		t.Fatalf("cached build differs:\n%s\n%s", got, want)
	}
	first := src.reads
	for range 3 {
		Build(hc, n.chainID, 5)
		Build(hc, n.chainID, 12) // not certifiable yet: the tip
	}
	if src.reads != first+1 { // height 12 once
		t.Errorf("%d block reads after the first build's %d", src.reads-first, first)
	}
}

// A Certifier checks a height's certificate once: asked again, it reads
// nothing, and what it gives verifies.
func TestCertifierKeepsChecked(t *testing.T) {
	n := newNet(t, testChain)
	n.grow(lagTwo, consecutive(1, 12)...)
	src := &countingSource{testNet: n}
	cf := NewCertifier(src, n.chainID, n.vals, 16)
	c, cm, err := cf.Certify(5)
	if err != nil {
		t.Fatal(err)
	}
	reads := src.reads
	c2, cm2, err := cf.Certify(5)
	if err != nil || c2 != c || cm2.BlockHash != cm.BlockHash || src.reads != reads {
		t.Fatalf("second Certify: %v, %d more reads", err, src.reads-reads)
	}
	if got, err := Verify(n.chainID, n.vals, 5, c2); err != nil || got.BlockHash != n.hashes[4] {
		t.Fatalf("kept certificate: %v", err)
	}
	// Another validator set: what the store holds does not verify, and
	// the certifier says so rather than serve it.
	vs := make([]chain.Validator, 4)
	for i := range vs {
		pub, _, _ := ed25519.GenerateKey(nil)
		vs[i] = chain.Validator{PubKey: pub, Power: 1}
	}
	foreign, err := chain.NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewCertifier(src, n.chainID, foreign, 16).Certify(5); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("foreign validators: %v", err)
	}
}
