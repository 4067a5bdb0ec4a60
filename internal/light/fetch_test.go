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
