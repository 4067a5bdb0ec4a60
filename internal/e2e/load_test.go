//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// sentTx is a transaction a node answered 202.
type sentTx struct {
	seq   int
	key   string
	value string
	hash  string
	node  int
	at    time.Time
}

// loadGen submits unique kv transactions k<seq>=v<seq>, round-robin over
// the live nodes, at a fixed rate, and records every one answered 202.
// Connection errors (a node killed or starting) are counted, not failures.
type loadGen struct {
	c      *cluster
	cancel context.CancelFunc
	done   chan struct{}
	client *http.Client

	// keys, if set, bounds the keys written: k<seq mod keys> (values stay
	// unique, and so do transactions), so that the state stops growing.
	keys int

	mu       sync.Mutex
	accepted []sentTx
	connErrs int
	refused  map[int]int // HTTP status -> count, for answers other than 202
	problems []string    // contract breaches seen by the generator
}

// startLoad starts a load generator offering about rate transactions per
// second; stop it with stop (cleanup stops it too).
func (c *cluster) startLoad(rate int) *loadGen { return c.startLoadKeys(rate, 0) }

// startLoadKeys is startLoad writing at most keys keys (0: no bound).
func (c *cluster) startLoadKeys(rate, keys int) *loadGen {
	ctx, cancel := context.WithCancel(context.Background())
	g := &loadGen{
		c: c, cancel: cancel, done: make(chan struct{}), keys: keys,
		client:  &http.Client{Timeout: 2 * time.Second},
		refused: make(map[int]int),
	}
	go g.run(ctx, time.Second/time.Duration(rate))
	c.t.Cleanup(g.stop)
	return g
}

func (g *loadGen) run(ctx context.Context, every time.Duration) {
	defer close(g.done)
	defer g.client.CloseIdleConnections()
	tick := time.NewTicker(every)
	defer tick.Stop()
	seq, next := 0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		live := g.c.live()
		if len(live) == 0 {
			continue
		}
		node := live[next%len(live)]
		next++
		seq++
		g.submit(ctx, seq, node)
	}
}

func (g *loadGen) submit(ctx context.Context, seq, node int) {
	key := seq
	if g.keys > 0 {
		key %= g.keys
	}
	tx := sentTx{seq: seq, key: fmt.Sprintf("k%d", key), value: fmt.Sprintf("v%d", seq), node: node}
	body := tx.key + "=" + tx.value
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.c.api(node)+"/v1/txs", strings.NewReader(body))
	if err != nil {
		panic(err) // a constant URL shape: cannot happen
	}
	resp, err := g.client.Do(req)
	if err != nil {
		g.mu.Lock()
		g.connErrs++
		g.mu.Unlock()
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.connErrs++
		return
	}
	switch resp.StatusCode {
	case http.StatusAccepted:
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		g.refused[resp.StatusCode]++ // allowed: the node is busy
		return
	default:
		g.refused[resp.StatusCode]++
		g.problems = append(g.problems, fmt.Sprintf("node %d answered %d to the valid tx %q: %s", node, resp.StatusCode, body, bytes.TrimSpace(raw)))
		return
	}
	var ans struct {
		Hash   string `json:"hash"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		g.problems = append(g.problems, fmt.Sprintf("node %d: 202 with undecodable body %q", node, raw))
		return
	}
	sum := sha256.Sum256([]byte(body))
	if want := hex.EncodeToString(sum[:]); ans.Hash != want || ans.Status != "pending" {
		g.problems = append(g.problems, fmt.Sprintf("node %d: 202 %+v for %q, want hash %s status pending", node, ans, body, want))
	}
	tx.hash, tx.at = ans.Hash, time.Now()
	g.accepted = append(g.accepted, tx)
}

// stop stops the generator and waits for it.
func (g *loadGen) stop() {
	g.cancel()
	<-g.done
}

// acceptedBy counts the transactions node answered 202.
func (g *loadGen) acceptedBy(node int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, tx := range g.accepted {
		if tx.node == node {
			n++
		}
	}
	return n
}

// results returns what the generator saw; call it after stop.
func (g *loadGen) results() (accepted []sentTx, connErrs int, refused map[int]int, problems []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]sentTx(nil), g.accepted...), g.connErrs, g.refused, append([]string(nil), g.problems...)
}

// checkProblems fails the test for every contract breach the generator saw.
func (g *loadGen) checkProblems(t *testing.T) {
	t.Helper()
	_, _, _, problems := g.results()
	for k, p := range problems {
		if k == 10 {
			t.Errorf("... %d problems in all", len(problems))
			break
		}
		t.Error(p)
	}
}
