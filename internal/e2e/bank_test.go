//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
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
)

// TestBankLedger runs a four-validator bank network and checks the ledger
// end to end. Ten goroutines, one per funded demo account, sign transfers
// in-process (bank.Sign) to random recipients (other demo accounts and
// fresh addresses) and submit each to a random node, some to every node
// at once, while a replayer resends accepted bodies to random nodes; the
// wallet CLI signs and submits some more (`tx transfer --wait`, and `tx
// sign` whose output is posted as the body). Around that it checks
// refusals: a committed transfer replayed to any node, an overdraft (also
// one that only the sender's pending transfers make an overdraft), a
// transfer for another chain, a bad signature, an unknown sender, a used
// nonce and one far ahead are all answered 400 and never applied; one
// body sent to two nodes at once is accepted by both and commits once. Once
// every accepted transfer is final it checks, on every node, the tx
// status of every transfer, identical balances and nonces that match a
// model of the committed transfers, a conserved total supply, and that
// the nodes agree on the chain, which holds every committed transfer in
// exactly one block.
func TestBankLedger(t *testing.T) {
	needBinary(t)
	t.Parallel()
	began := time.Now()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STRATEGOS_E2E_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("STRATEGOS_E2E_SEED=%q: %v", s, err)
		}
	}
	t.Logf("transfer schedule seed %d (rerun it with STRATEGOS_E2E_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0xba4c))

	c := newCluster(t, clusterOptions{nodes: 4, app: "bank"})
	c.startAll()
	l := newLedger(t, c, rng)
	all := []int{0, 1, 2, 3}

	// Phase 1: concurrent signed transfers, each to a random node (some
	// to every node at once), while a replayer resends accepted bodies to
	// random nodes.
	const perSender = 40
	phase := time.Now()
	ctx, stopStorm := context.WithCancel(context.Background())
	storm := make(chan map[string]int, 1)
	go func() { storm <- l.replayStorm(ctx, streamRNG(seed, 99)) }()
	var wg sync.WaitGroup
	var stuck atomic.Int32
	for s := range l.accts {
		srng := streamRNG(seed, s)
		wg.Go(func() {
			if !l.sendMany(s, perSender, srng) {
				stuck.Add(1)
			}
		})
	}
	wg.Wait()
	stopStorm()
	replays := <-storm
	if n := stuck.Load(); n > 0 {
		t.Fatalf("%d senders could not send all their transfers", n)
	}
	t.Logf("phase 1: %d transfers accepted in %v (%d nonce-gap refusals retried while gossip caught up); replayed bodies answered %v",
		len(l.accepted()), time.Since(phase).Round(time.Millisecond), l.gapRetries, replays)
	l.waitFinal(20 * time.Second)

	// Replays of committed transfers, to the node that accepted them and
	// to another one, once that node has committed them too.
	for _, tr := range l.sample(rng, 3) {
		l.replay(tr, tr.node)
		l.replay(tr, (tr.node+1+rng.IntN(len(c.nodes)-1))%len(c.nodes))
	}

	// Phase 2: the wallet CLI and the edge cases, concurrently, each on
	// senders of its own so that the nonces stay known.
	phase = time.Now()
	const overdrafter = 8
	l.guarded = overdrafter // nobody credits it while its overdrafts are checked
	for k, s := range []int{0, 1, 2} {
		wg.Go(func() { l.cliTransfer(s, k%len(c.nodes), streamRNG(seed, 100+s)) })
	}
	for k, s := range []int{3, 4} {
		wg.Go(func() { l.cliSign(s, (k+1)%len(c.nodes), 2, streamRNG(seed, 100+s)) })
	}
	for k, s := range []int{5, 6, 7} {
		wg.Go(func() { l.sameBodyTwice(s, k%len(c.nodes), (k+2)%len(c.nodes), 3, streamRNG(seed, 100+s)) })
	}
	wg.Go(func() { l.overdrafts(overdrafter, 1, streamRNG(seed, 100+overdrafter)) })
	wg.Go(func() { l.foreignAndForged(9, streamRNG(seed, 109)) })
	wg.Wait()
	t.Logf("phase 2 (CLI and edge cases) took %v", time.Since(phase).Round(time.Millisecond))
	l.waitFinal(20 * time.Second)

	// Replays of what the CLI and the twice-sent bodies committed.
	for _, tr := range l.accepted() {
		if tr.via != viaHTTP {
			l.replay(tr, (tr.node+1)%len(c.nodes))
		}
	}
	t.Logf("%d replays of committed transfers refused", l.replays)

	l.checkAll(all)
	l.checkRefusedUnknown(all)
	t.Logf("bank ledger: %d transfers committed, %d refused as they should be, %d accounts checked on %d nodes, in %v",
		len(l.accepted()), len(l.refused), len(l.touched()), len(all), time.Since(began).Round(time.Millisecond))
	c.stopAll()
}

// streamRNG returns the random stream number stream of seed: each sender
// and each part of the test draws from its own.
func streamRNG(seed uint64, stream int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(stream)))
}

// How a transfer reached the network.
const (
	viaHTTP      = "http"            // signed with bank.Sign, POST /v1/txs
	viaCLI       = "cli-transfer"    // strategos tx transfer --wait
	viaCLISign   = "cli-sign"        // strategos tx sign, its output POSTed
	viaTwice     = "same-body-twice" // POSTed to two nodes at once
	viaBroadcast = "every-node"      // POSTed to every node at once
	viaOverdraft = "before-overdraft"
)

// transfer is a transfer that a node accepted (202), or that the CLI
// reported committed.
type transfer struct {
	from, to  int // account indices into ledger.addrs
	amount    uint64
	nonce     uint64
	body      []byte
	hash      string
	node      int    // the node that accepted it (the first, if several)
	via       string // one of the via constants
	status    string // once final: committed or rejected ("lost" if its node forgot it)
	height    uint64
	rejection string
}

func (tr *transfer) String() string {
	return fmt.Sprintf("transfer %s (%s, account %d nonce %d -> account %d, %d units, accepted by node %d)",
		tr.hash, tr.via, tr.from, tr.nonce, tr.to, tr.amount, tr.node)
}

// refusal is a transaction that must be answered 400 and never applied.
type refusal struct {
	what string
	body []byte
	hash string
	node int
}

// ledger drives a bank network: it holds the demo keys, the next nonce of
// every sender, and every transfer accepted or refused.
type ledger struct {
	t       *testing.T
	c       *cluster
	chainID string
	keyDir  string
	keys    []ed25519.PrivateKey // demo accounts 0..9
	addrs   []chain.Address      // demo accounts, then fresh recipients
	accts   []int                // the senders: 0..9
	next    []uint64             // next nonce of each demo account; each sender's goroutine owns its own
	client  *http.Client
	// guarded is a demo account that recipient never picks (-1: none).
	// The overdraft checks read the account's balance and then submit
	// amounts just above it: a credit that another sender's transfer
	// commits in between would make such a transfer covered, and a 202
	// the right answer. Set before the goroutines that read it start.
	guarded int

	mu         sync.Mutex
	transfers  []*transfer
	refused    []refusal
	gapRetries int
	replays    int // committed transfers replayed and refused
}

func newLedger(t *testing.T, c *cluster, rng *rand.Rand) *ledger {
	t.Helper()
	l := &ledger{t: t, c: c, keyDir: filepath.Join(c.dir, "keys"), client: &http.Client{Timeout: 5 * time.Second}, guarded: -1}
	t.Cleanup(l.client.CloseIdleConnections)
	for i := range demoAccounts {
		key, chainID, err := keys.ReadFor(l.keyFile(i))
		if err != nil {
			t.Fatal(err)
		}
		if chainID == "" {
			t.Fatalf("%s records no chain id", l.keyFile(i))
		}
		if l.chainID == "" {
			l.chainID = chainID
		} else if chainID != l.chainID {
			t.Fatalf("%s records chain %q, account0.key %q", l.keyFile(i), chainID, l.chainID)
		}
		l.keys = append(l.keys, key)
		l.addrs = append(l.addrs, chain.AddressOf(key.Public().(ed25519.PublicKey)))
		l.accts = append(l.accts, i)
	}
	l.next = make([]uint64, demoAccounts)
	for range 5 {
		var a chain.Address
		for k := range a {
			a[k] = byte(rng.Uint32())
		}
		l.addrs = append(l.addrs, a)
	}
	for i := range c.nodes {
		var st struct {
			ChainID string `json:"chain_id"`
			App     string `json:"app"`
		}
		if _, err := c.getJSON(c.api(i)+"/v1/status", &st); err != nil {
			t.Fatal(err)
		}
		if st.ChainID != l.chainID || st.App != "bank" {
			t.Fatalf("node %d: status says chain %q app %q; the key files say chain %q", i, st.ChainID, st.App, l.chainID)
		}
	}
	// Genesis: every demo account holds its funds, nonce 0.
	for i := range demoAccounts {
		for _, n := range []int{0, len(c.nodes) - 1} {
			a := l.account(n, i)
			if a.Balance != demoFunds || a.Nonce != 0 || a.PendingNonce != 0 {
				t.Fatalf("node %d: demo account %d at genesis is %+v, want balance %d and nonces 0", n, i, a, demoFunds)
			}
		}
	}
	return l
}

func (l *ledger) keyFile(i int) string {
	return filepath.Join(l.keyDir, fmt.Sprintf("account%d.key", i))
}

// recipient picks a recipient for sender s: mostly another demo account
// (never s, never l.guarded), sometimes a fresh address.
func (l *ledger) recipient(s int, rng *rand.Rand) int {
	if rng.IntN(5) == 0 {
		return demoAccounts + rng.IntN(len(l.addrs)-demoAccounts)
	}
	var others []int
	for k := range demoAccounts {
		if k != s && k != l.guarded {
			others = append(others, k)
		}
	}
	return others[rng.IntN(len(others))]
}

// sign signs a transfer of demo account s. It runs on the senders'
// goroutines, where the test cannot stop; it panics if bank.Sign refuses,
// which only a bug of this test can cause (a zero amount, a transfer to
// the sender itself).
func (l *ledger) sign(s, to int, amount, nonce uint64) []byte {
	body, err := bank.Sign(l.keys[s], l.chainID, l.addrs[to], amount, nonce)
	if err != nil {
		panic(fmt.Sprintf("bank.Sign(account %d -> %d, amount %d, nonce %d): %v", s, to, amount, nonce, err))
	}
	return body
}

// hashOf is the hash a node answers for a POST /v1/txs body: SHA-256 of
// the body less one trailing newline (`tx sign` prints one), every other
// byte kept.
func hashOf(body []byte) string {
	if b, ok := bytes.CutSuffix(body, []byte("\n")); ok {
		body, _ = bytes.CutSuffix(b, []byte("\r"))
	}
	return chain.TxHash(body).String()
}

// post submits body to node i: it returns the HTTP status, the hash of a
// 202 answer and the error of any other.
func (l *ledger) post(ctx context.Context, i int, body []byte) (code int, hash, errMsg string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.c.api(i)+"/v1/txs", bytes.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", "", err
	}
	var ans struct {
		Hash   string `json:"hash"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return resp.StatusCode, "", "", fmt.Errorf("node %d answered %d with undecodable %q", i, resp.StatusCode, raw)
	}
	if resp.StatusCode == http.StatusAccepted {
		if want := hashOf(body); ans.Hash != want || ans.Status != "pending" {
			return resp.StatusCode, ans.Hash, "", fmt.Errorf("node %d answered 202 %s, want hash %s and status pending", i, raw, want)
		}
		return resp.StatusCode, ans.Hash, "", nil
	}
	if ans.Error == "" {
		return resp.StatusCode, "", "", fmt.Errorf("node %d answered %d without an error: %s", i, resp.StatusCode, raw)
	}
	return resp.StatusCode, "", ans.Error, nil
}

// submit posts a valid transfer to node i until it is accepted. A nonce
// gap (the node has not yet seen the sender's previous transfer, accepted
// by another node a moment ago) and a busy node are retried; the contract
// allows both refusals. Anything else fails the test.
func (l *ledger) submit(i int, body []byte) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, msg, err := l.post(context.Background(), i, body)
		switch {
		case err != nil:
			l.t.Errorf("POST %s to node %d: %v", body, i, err)
			return false
		case code == http.StatusAccepted:
			return true
		case code == http.StatusBadRequest && strings.Contains(msg, "ahead of the next nonce"),
			code == http.StatusTooManyRequests, code == http.StatusServiceUnavailable:
			if time.Now().After(deadline) {
				l.t.Errorf("node %d still refuses %s after 10 s: %d %s", i, body, code, msg)
				return false
			}
			if code == http.StatusBadRequest {
				l.mu.Lock()
				l.gapRetries++
				l.mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		default:
			l.t.Errorf("node %d refused the valid transfer %s: %d %s", i, body, code, msg)
			return false
		}
	}
}

// transferNow signs the next transfer of sender s to to and submits it
// to node i; it records and returns it, or nil if it was refused.
func (l *ledger) transferNow(s, to, i int, amount uint64, via string) *transfer {
	tr := &transfer{from: s, to: to, amount: amount, nonce: l.next[s], node: i, via: via}
	tr.body = l.sign(s, to, amount, tr.nonce)
	tr.hash = hashOf(tr.body)
	if !l.submit(i, tr.body) {
		return nil
	}
	l.next[s]++
	l.record(tr)
	return tr
}

func (l *ledger) record(tr *transfer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.transfers = append(l.transfers, tr)
}

// sendMany sends n transfers from sender s, each to a random node, or,
// one in eight, to every node at once. It reports whether all n were
// accepted.
func (l *ledger) sendMany(s, n int, rng *rand.Rand) bool {
	for range n {
		to, amount := l.recipient(s, rng), 1+rng.Uint64N(1_000_000)
		if rng.IntN(8) == 0 {
			if l.broadcast(s, to, amount) == nil {
				return false
			}
		} else if l.transferNow(s, to, rng.IntN(len(l.c.nodes)), amount, viaHTTP) == nil {
			return false
		}
		time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
	}
	return true
}

// postAll posts body to the given nodes at the same moment.
func (l *ledger) postAll(nodes []int, body []byte) []postAnswer {
	ans := make([]postAnswer, len(nodes))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for k, node := range nodes {
		wg.Go(func() {
			<-gate
			ans[k].node = node
			ans[k].code, _, ans[k].msg, ans[k].err = l.post(context.Background(), node, body)
		})
	}
	close(gate)
	wg.Wait()
	return ans
}

type postAnswer struct {
	node int
	code int
	msg  string
	err  error
}

// broadcast sends the next transfer of sender s to every node at once.
// Each node answers 202, or 400 for a nonce gap (the sender's previous
// transfer has not reached it yet); if none accepts, it goes to one node
// as usual.
func (l *ledger) broadcast(s, to int, amount uint64) *transfer {
	tr := &transfer{from: s, to: to, amount: amount, nonce: l.next[s], node: -1, via: viaBroadcast}
	tr.body = l.sign(s, to, amount, tr.nonce)
	tr.hash = hashOf(tr.body)
	ans := l.postAll(l.all(), tr.body)
	for _, a := range ans {
		if a.err != nil {
			l.t.Error(a.err)
			return nil
		}
		if a.code == http.StatusAccepted && tr.node < 0 {
			tr.node = a.node
		}
	}
	for _, a := range ans {
		switch {
		case a.code == http.StatusAccepted,
			a.code == http.StatusBadRequest && strings.Contains(a.msg, "ahead of the next nonce"),
			a.code == http.StatusBadRequest && strings.Contains(a.msg, "already committed"),
			a.code == http.StatusTooManyRequests, a.code == http.StatusServiceUnavailable:
		default:
			l.t.Error(sameBodyRefused(a, tr, "every node"))
		}
	}
	if tr.node < 0 {
		tr.node = 0
		if !l.submit(tr.node, tr.body) {
			return nil
		}
	}
	l.next[s]++
	l.record(tr)
	return tr
}

// sameBodyRefused describes a node's refusal of a valid transfer that
// other nodes received at the same moment (and gossiped to it).
func sameBodyRefused(a postAnswer, tr *transfer, where string) string {
	return fmt.Sprintf("the valid %s, sent to %s at once: node %d answered %d %q. A node that holds a transaction pending "+
		"answers a resubmission 202; this one refused a valid transaction that had just reached it by gossip, so a client that "+
		"submits to several nodes is told a transaction that will commit was refused",
		tr, where, a.node, a.code, a.msg)
}

func (l *ledger) all() []int {
	out := make([]int, len(l.c.nodes))
	for i := range out {
		out[i] = i
	}
	return out
}

// replayStorm resends the bodies of accepted transfers, pending or
// committed, to random nodes until ctx ends, and counts the answers. A
// node may accept a body it holds pending (202) and must refuse one it
// committed (400); either way the transfer must apply once, which the
// final checks verify. Any other answer fails the test.
func (l *ledger) replayStorm(ctx context.Context, rng *rand.Rand) map[string]int {
	answers := map[string]int{}
	for ctx.Err() == nil {
		time.Sleep(2 * time.Millisecond)
		trs := l.accepted()
		if len(trs) == 0 {
			continue
		}
		tr := trs[len(trs)-1-rng.IntN(min(len(trs), 40))] // mostly recent ones
		node := rng.IntN(len(l.c.nodes))
		code, _, msg, err := l.post(ctx, node, tr.body)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			l.t.Errorf("replaying %s to node %d: %v", tr, node, err)
			return answers
		case code == http.StatusAccepted:
			answers["202"]++
		case code == http.StatusBadRequest && strings.Contains(msg, "already committed"):
			answers["400 committed"]++
		case code == http.StatusBadRequest && strings.Contains(msg, "ahead of the next nonce"):
			// The sender's previous transfer has not reached this node
			// yet (the replayer picks recent ones).
			answers["400 nonce gap"]++
		case code == http.StatusBadRequest && strings.Contains(msg, "already used or pending"):
			// The body reached the node by gossip while this request
			// waited to be admitted: see sameBodyRefused.
			if answers["400 nonce used or pending"]++; answers["400 nonce used or pending"] == 1 {
				l.t.Errorf("replaying %s to node %d, which holds it pending or is receiving it by gossip: answered 400 %q, want 202",
					tr, node, msg)
			}
		default:
			l.t.Errorf("replaying %s to node %d: answered %d %s", tr, node, code, msg)
		}
	}
	return answers
}

// accepted returns the transfers accepted so far.
func (l *ledger) accepted() []*transfer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.transfers)
}

// sample picks n committed transfers.
func (l *ledger) sample(rng *rand.Rand, n int) []*transfer {
	var out []*transfer
	for _, tr := range l.accepted() {
		if tr.status == "committed" {
			out = append(out, tr)
		}
	}
	rng.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return out[:min(n, len(out))]
}
