//go:build linux

package faults

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/keys"
)

// The demo accounts that `strategos init --app bank` funds.
const (
	demoAccounts = config.DemoAccounts
	demoFunds    = config.DemoBalance
	freshAddrs   = 5 // recipients without a key
)

// followFor is how long a sender follows a transfer on the node that
// accepted it before it submits the same body to another node.
const followFor = 4 * time.Second

// workload is a steady stream of bank transfers. Each demo account is a
// sender with one transfer in flight at a time: it signs the transfer
// in-process (bank.Sign), submits it to a random reachable honest node,
// and follows it there until it is committed; if that node dies, is cut
// off or forgets it, the sender submits the same body elsewhere (one
// transfer, one hash: it must still commit once). One transfer in eight
// also goes to a second node at the same moment. A shared token bucket
// caps the rate at which transfers start.
type workload struct {
	c       *cluster
	chainID string
	keys    []ed25519.PrivateKey
	addrs   []chain.Address
	client  *http.Client
	tokens  chan struct{}
	seed    uint64

	gen, dlv         context.Context // stop starting transfers; stop delivering them
	stopGen, stopDlv context.CancelFunc
	wg               sync.WaitGroup

	mu       sync.Mutex
	txs      []*transfer
	counts   map[string]int
	problems []string
}

// transfer is one signed transfer and what became of it.
type transfer struct {
	from, to      int
	amount, nonce uint64
	body          []byte
	hash          string
	sent          time.Time
	attempts      int

	// Under workload.mu.
	status    string // "" while in flight, "committed", "rejected"
	height    uint64
	ackNode   int
	acked     time.Time
	rejection string
}

func (tr *transfer) String() string {
	return fmt.Sprintf("transfer %s (account %d nonce %d -> %d, %d units)", tr.hash, tr.from, tr.nonce, tr.to, tr.amount)
}

// startWorkload starts the senders, offering at most rate transfers a
// second. Cleanup stops them.
func startWorkload(c *cluster, rate int, seed uint64) *workload {
	c.t.Helper()
	w := &workload{c: c, client: &http.Client{Timeout: 3 * time.Second}, tokens: make(chan struct{}, 2),
		seed: seed, counts: map[string]int{}}
	for i := range demoAccounts {
		path := filepath.Join(c.dir, "keys", fmt.Sprintf("account%d.key", i))
		key, chainID, err := keys.ReadFor(path)
		if err != nil {
			c.t.Fatal(err)
		}
		if chainID == "" || (w.chainID != "" && chainID != w.chainID) {
			c.t.Fatalf("%s records chain %q (account0.key: %q)", path, chainID, w.chainID)
		}
		w.chainID = chainID
		w.keys = append(w.keys, key)
		w.addrs = append(w.addrs, chain.AddressOf(key.Public().(ed25519.PublicKey)))
	}
	rng := rand.New(rand.NewPCG(seed, 0xfa17))
	for range freshAddrs {
		var a chain.Address
		for k := range a {
			a[k] = byte(rng.Uint32())
		}
		w.addrs = append(w.addrs, a)
	}
	w.gen, w.stopGen = context.WithCancel(context.Background())
	w.dlv, w.stopDlv = context.WithCancel(context.Background())
	w.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-w.gen.Done():
				return
			case <-tick.C:
				select {
				case w.tokens <- struct{}{}:
				default:
				}
			}
		}
	})
	for s := range demoAccounts {
		w.wg.Go(func() { w.sender(s, rand.New(rand.NewPCG(seed, uint64(s)))) })
	}
	c.t.Cleanup(func() { w.stop(0) })
	return w
}

// stop stops starting transfers, lets those in flight finish for up to
// grace, then stops delivering and waits for the senders.
func (w *workload) stop(grace time.Duration) {
	w.stopGen()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	w.stopDlv()
	<-done
	w.client.CloseIdleConnections()
}

func (w *workload) sender(s int, rng *rand.Rand) {
	var nonce uint64
	for {
		select {
		case <-w.gen.Done():
			return
		case <-w.tokens:
		}
		to := rng.IntN(len(w.addrs) - 1)
		if to >= s {
			to++
		}
		amount := 1 + rng.Uint64N(1000)
		body, err := bank.Sign(w.keys[s], w.chainID, w.addrs[to], amount, nonce)
		if err != nil {
			w.problem(fmt.Sprintf("bank.Sign: %v", err))
			return
		}
		tr := &transfer{from: s, to: to, amount: amount, nonce: nonce, body: body,
			hash: chain.TxHash(body).String(), sent: time.Now()}
		w.mu.Lock()
		w.txs = append(w.txs, tr)
		w.mu.Unlock()
		w.deliver(tr, rng)
		w.mu.Lock()
		st := tr.status
		w.mu.Unlock()
		switch st {
		case "committed":
			nonce++
		case "rejected":
			return // a finding already recorded; the nonce is now uncertain
		default:
			return // delivery stopped with the transfer in flight
		}
	}
}

// deliver submits tr until a node reports it final, or delivery stops.
func (w *workload) deliver(tr *transfer, rng *rand.Rand) {
	for w.dlv.Err() == nil {
		targets := w.c.reachable()
		if len(targets) == 0 {
			w.sleep(100 * time.Millisecond)
			continue
		}
		node := targets[rng.IntN(len(targets))]
		if tr.attempts == 0 && len(targets) > 1 && rng.IntN(8) == 0 {
			other := targets[(indexOf(targets, node)+1+rng.IntN(len(targets)-1))%len(targets)]
			go w.postTwin(other, tr)
		}
		tr.attempts++
		if tr.attempts > 1 {
			w.count("resubmitted")
		}
		code, msg, err := w.post(node, tr.body)
		switch {
		case err != nil:
			w.count("connection error")
			w.sleep(100 * time.Millisecond)
		case code == http.StatusAccepted,
			code == http.StatusBadRequest && strings.Contains(msg, "already committed"):
			if w.follow(tr, node) {
				return
			}
		case code == http.StatusBadRequest && strings.Contains(msg, "ahead of the next nonce"):
			// The node has not yet executed this sender's previous
			// transfer, which committed elsewhere.
			w.count("nonce gap (retried)")
			w.sleep(100 * time.Millisecond)
		case code == http.StatusBadRequest && strings.Contains(msg, "already used or pending"):
			// The node holds this body already (gossip raced the
			// request): follow it there.
			w.count("400 already pending (followed)")
			if w.follow(tr, node) {
				return
			}
		case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable:
			w.count(fmt.Sprintf("%d busy", code))
			w.sleep(200 * time.Millisecond)
		default:
			w.problem(fmt.Sprintf("node %d answered %d %q to the valid %s", node, code, msg, tr))
			w.sleep(200 * time.Millisecond)
		}
	}
}

// postTwin sends tr's body to a second node at the same moment; the
// answer does not matter, only that the transfer commits once.
func (w *workload) postTwin(node int, tr *transfer) {
	code, msg, err := w.post(node, tr.body)
	switch {
	case err != nil:
	case code == http.StatusAccepted:
		w.count("sent to two nodes")
	case code == http.StatusBadRequest && (strings.Contains(msg, "ahead of the next nonce") ||
		strings.Contains(msg, "already committed") || strings.Contains(msg, "already used or pending")):
	case code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable:
	default:
		w.problem(fmt.Sprintf("node %d answered %d %q to the valid %s sent to two nodes", node, code, msg, tr))
	}
}

// follow polls tr's status on node until it is final (true), or until
// the node forgets it, stops answering, or followFor passes (false).
func (w *workload) follow(tr *transfer, node int) bool {
	deadline := time.Now().Add(followFor)
	for w.dlv.Err() == nil && time.Now().Before(deadline) {
		var v struct {
			Hash   string  `json:"hash"`
			Status string  `json:"status"`
			Height *uint64 `json:"height"`
			Error  *string `json:"error"`
		}
		code, err := w.c.getJSON(w.c.api(node)+"/v1/txs/"+tr.hash, &v)
		switch {
		case code == http.StatusNotFound:
			w.count("forgotten by its node (resubmitted)")
			return false
		case err != nil:
			return false
		case v.Status == "committed":
			if v.Height == nil || *v.Height == 0 {
				w.problem(fmt.Sprintf("node %d: %s committed without a height", node, tr))
				return false
			}
			w.mu.Lock()
			tr.status, tr.height, tr.ackNode, tr.acked = "committed", *v.Height, node, time.Now()
			w.mu.Unlock()
			return true
		case v.Status == "rejected":
			reason := "(no reason)"
			if v.Error != nil {
				reason = *v.Error
			}
			w.mu.Lock()
			tr.status, tr.rejection, tr.ackNode, tr.acked = "rejected", reason, node, time.Now()
			w.mu.Unlock()
			w.problem(fmt.Sprintf("node %d rejected the valid %s: %s", node, tr, reason))
			return true
		}
		w.sleep(100 * time.Millisecond)
	}
	return false
}

// post submits body to node i: the HTTP status and the error message of
// any answer but 202.
func (w *workload) post(i int, body []byte) (int, string, error) {
	req, err := http.NewRequestWithContext(w.dlv, http.MethodPost, w.c.api(i)+"/v1/txs", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", err
	}
	var ans struct {
		Hash, Status, Error string
	}
	json.Unmarshal(raw, &ans)
	if resp.StatusCode == http.StatusAccepted {
		if want := chain.TxHash(body).String(); ans.Hash != want || ans.Status != "pending" {
			w.problem(fmt.Sprintf("node %d answered 202 %s, want hash %s and status pending", i, raw, want))
		}
		return resp.StatusCode, "", nil
	}
	return resp.StatusCode, ans.Error, nil
}

func (w *workload) sleep(d time.Duration) {
	select {
	case <-w.dlv.Done():
	case <-time.After(d):
	}
}

func (w *workload) count(what string) {
	w.mu.Lock()
	w.counts[what]++
	w.mu.Unlock()
}

func (w *workload) problem(p string) {
	w.mu.Lock()
	w.problems = append(w.problems, p)
	w.mu.Unlock()
}

// committedBetween counts the transfers acknowledged as committed in
// [from, to).
func (w *workload) committedBetween(from, to time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, tr := range w.txs {
		if tr.status == "committed" && !tr.acked.Before(from) && tr.acked.Before(to) {
			n++
		}
	}
	return n
}

// snapshot returns copies of every transfer, for the checker.
func (w *workload) snapshot() []transfer {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]transfer, len(w.txs))
	for k, tr := range w.txs {
		out[k] = *tr
	}
	return out
}

// summary describes the workload's counters on one line.
func (w *workload) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	keys := make([]string, 0, len(w.counts))
	for k := range w.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d; ", k, w.counts[k])
	}
	return strings.TrimSuffix(b.String(), "; ")
}

func indexOf(xs []int, x int) int {
	for k, y := range xs {
		if y == x {
			return k
		}
	}
	return -1
}
