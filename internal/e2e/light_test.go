//go:build unix

package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/light"
)

// TestLightClient runs the light client against a real kv network, first
// through an honest node, then through a proxy that lies in each way a
// node can: every lie is refused with an error that names what failed.
func TestLightClient(t *testing.T) {
	c := newCluster(t, clusterOptions{nodes: 4})
	c.startAll()
	c.waitHeight([]int{0, 1, 2, 3}, 3, 60*time.Second)
	c.submitKV(0, "colour=blue")
	c.submitKV(1, "shape=round")
	c.waitValues([]int{0, 1, 2, 3}, []string{"colour", "shape"}, 60*time.Second)
	genesisPath := filepath.Join(c.dir, "node0", config.GenesisFile)
	g, err := config.LoadGenesis(genesisPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The honest node, with the others as witnesses.
	lc, err := light.NewClient(g, c.api(0), []string{c.api(1), c.api(2)})
	if err != nil {
		t.Fatal(err)
	}
	var v light.Value
	waitFor(t, 30*time.Second, "a certified value of colour", func() (bool, string) {
		v, err = lc.KV(ctx, "colour", 0)
		return err == nil && string(v.Value) == "blue", fmt.Sprint(v.Value, err)
	})
	absent, err := lc.KV(ctx, "no-such-key", 0)
	if err != nil || absent.Value != nil {
		t.Fatalf("absent key: %v %q", err, absent.Value)
	}
	old, err := lc.KV(ctx, "colour", v.Height)
	if err != nil || old.Height != v.Height || string(old.Value) != "blue" {
		t.Fatalf("colour at height %d: %v %+v", v.Height, err, old)
	}

	// The CLI prints the value only once verified.
	out, err := exec.Command(binary, "verify", "kv", "colour", "--node", c.api(3), "--genesis", genesisPath,
		"--witness", c.api(1), "--json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"verified":true`) || !strings.Contains(string(out), `"value":"blue"`) {
		t.Fatalf("strategos verify kv: %v: %s", err, out)
	}

	p := newLiar(t, c.api(0))
	lying, err := light.NewClient(g, p.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	lying.MaxAge = 0
	cases := []struct {
		name string
		lie  lie
		key  string
		at   uint64 // 0: the latest
		want string
	}{
		{"wrong value", lieValue, "colour", 0, "proof of key"},
		{"proof of another key", lieOtherKey, "colour", 0, "for key"},
		{"proof of another height", lieOtherHeight, "colour", v.Height, "of height"},
		{"too few signatures", lieDropVotes, "colour", 0, "certificate"},
		{"duplicated signer", lieDupVote, "colour", 0, "certificate"},
		{"foreign signer", lieForeignVote, "colour", 0, "certificate"},
		{"forged signature", lieForgeSig, "colour", 0, "certificate"},
		{"a block not certified (a fork's proposal)", lieForkBlock, "colour", 0, "certificate"},
		{"claims beside the certificate", lieClaimRoot, "colour", 0, "commit of height"},
		{"value for an absent key", lieValue, "no-such-key", 0, "proof of key"},
	}
	for _, tc := range cases {
		p.mode.Store(int32(tc.lie))
		_, err := lying.KV(ctx, tc.key, tc.at)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name %q", tc.name, err, tc.want)
		}
		t.Logf("%s: %v", tc.name, err)
	}

	// A stale state presented as the latest.
	p.mode.Store(int32(lieStale))
	lying.MaxAge = 2 * time.Second
	waitFor(t, 30*time.Second, "a stale answer refused", func() (bool, string) {
		_, err := lying.KV(ctx, "colour", 0)
		return err != nil && strings.Contains(err.Error(), "stale"), fmt.Sprint(err)
	})
}

// lie is one way the proxy lies.
type lie int32

const (
	lieNone lie = iota
	lieValue
	lieOtherKey
	lieOtherHeight
	lieDropVotes
	lieDupVote
	lieForeignVote
	lieForgeSig
	lieForkBlock
	lieClaimRoot
	lieStale
)

// liar is a proxy in front of a node that rewrites its answers.
type liar struct {
	t    *testing.T
	node string
	srv  *httptest.Server
	mode atomic.Int32
}

func newLiar(t *testing.T, node string) *liar {
	l := &liar{t: t, node: node}
	l.srv = httptest.NewServer(http.HandlerFunc(l.serve))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *liar) serve(w http.ResponseWriter, r *http.Request) {
	path, q := r.URL.Path, r.URL.Query()
	mode := lie(l.mode.Load())
	switch {
	case mode == lieOtherKey && strings.HasPrefix(path, "/v1/proofs/kv/"):
		path = "/v1/proofs/kv/shape"
	case mode == lieOtherHeight && q.Get("height") != "":
		var h uint64
		fmt.Sscan(q.Get("height"), &h)
		q.Set("height", fmt.Sprint(h-1))
	case mode == lieStale && strings.HasPrefix(path, "/v1/proofs/"):
		// A state some 30 heights old, still kept, as if it were the
		// latest.
		if h := l.latestProven(path); h > 30 {
			q.Set("height", fmt.Sprint(h-30))
		}
	}
	resp, err := http.Get(l.node + path + "?" + q.Encode())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		body = l.rewrite(mode, path, body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	w.Write(body)
}

// latestProven returns the height of the node's latest proof at path.
func (l *liar) latestProven(path string) uint64 {
	resp, err := http.Get(l.node + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var a struct {
		Height uint64 `json:"height"`
	}
	json.NewDecoder(resp.Body).Decode(&a)
	return a.Height
}

// rewrite changes an answer as mode says. Numbers stay json.Numbers: a
// block time in nanoseconds does not survive a float64.
func (l *liar) rewrite(mode lie, path string, body []byte) []byte {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return body
	}
	switch {
	case mode == lieValue && strings.HasPrefix(path, "/v1/proofs/"):
		m["value"] = hex.EncodeToString([]byte("red"))
	case mode == lieClaimRoot && strings.HasPrefix(path, "/v1/commits/"):
		m["state_root"] = strings.Repeat("ab", 32)
	case strings.HasPrefix(path, "/v1/commits/"):
		cert, _ := m["certificate"].(map[string]any)
		if cert == nil {
			return body
		}
		l.rewriteCert(mode, cert)
	default:
		return body
	}
	out, err := json.Marshal(m)
	if err != nil {
		l.t.Errorf("liar: %v", err)
	}
	return out
}

func (l *liar) rewriteCert(mode lie, cert map[string]any) {
	qc, _ := cert["qc"].(map[string]any)
	votes, _ := qc["votes"].([]any)
	if len(votes) == 0 {
		return
	}
	switch mode {
	case lieDropVotes:
		qc["votes"] = votes[:len(votes)/2]
	case lieDupVote:
		qc["votes"] = append([]any{votes[0]}, votes[:len(votes)-1]...)
	case lieForeignVote:
		last := map[string]any{}
		for k, v := range votes[len(votes)-1].(map[string]any) {
			last[k] = v
		}
		last["signer"] = 7
		qc["votes"] = append(votes[:len(votes)-1:len(votes)-1], last)
	case lieForgeSig:
		v := votes[0].(map[string]any)
		sig, _ := hex.DecodeString(v["sig"].(string))
		sig[0] ^= 1
		v["sig"] = hex.EncodeToString(sig)
	case lieForkBlock:
		// Another block at the height: the same header with other
		// transactions, which no quorum certified.
		headers := cert["headers"].([]any)
		h := headers[0].(map[string]any)
		other := chain.TxRoot([]chain.Hash{chain.TxHash([]byte("fork=1"))})
		h["payload_hash"] = other.String()
	}
}

// TestLightClientBank: a transfer waited for and verified, and both
// accounts verified after it, through the CLI a wallet user runs.
func TestLightClientBank(t *testing.T) {
	c := newCluster(t, clusterOptions{nodes: 4, app: "bank"})
	c.startAll()
	c.waitHeight([]int{0, 1, 2, 3}, 2, 60*time.Second)
	genesis := filepath.Join(c.dir, "node0", config.GenesisFile)
	key := filepath.Join(c.dir, "keys", "account0.key")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("strategos %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	from := strings.TrimSpace(run("keys", "show", key))
	to := strings.Repeat("ab", 20)
	out := run("tx", "transfer", "--key", key, "--to", to, "--amount", "7", "--node", c.api(1),
		"--wait", "--verify", "--genesis", genesis)
	if !strings.Contains(out, "committed at height") || !strings.Contains(out, "verified: transaction") {
		t.Fatalf("transfer: %s", out)
	}
	var acct struct {
		Verified bool   `json:"verified"`
		Balance  uint64 `json:"balance"`
		Nonce    uint64 `json:"nonce"`
	}
	waitFor(t, 30*time.Second, "the recipient's verified balance", func() (bool, string) {
		out, err := exec.Command(binary, "verify", "account", to, "--node", c.api(2), "--genesis", genesis,
			"--witness", c.api(3), "--json").CombinedOutput()
		if err != nil {
			return false, string(out)
		}
		json.Unmarshal(out, &acct)
		return acct.Verified && acct.Balance == 7, string(out)
	})
	out = run("query", "account", from, "--node", c.api(0), "--verify", "--genesis", genesis)
	if err := json.Unmarshal([]byte(out), &acct); err != nil || !acct.Verified || acct.Nonce != 1 {
		t.Fatalf("query account --verify: %v: %s", err, out)
	}
	// A genesis of another network verifies nothing.
	other := newCluster(t, clusterOptions{nodes: 4, app: "bank"})
	bad, err := exec.Command(binary, "verify", "account", to, "--node", c.api(2),
		"--genesis", filepath.Join(other.dir, "node0", config.GenesisFile)).CombinedOutput()
	if err == nil || !strings.Contains(string(bad), "error") {
		t.Fatalf("verified against another genesis: %v: %s", err, bad)
	}
}
