//go:build unix

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/strategos/strategos/internal/app/bank"
)

type txView struct {
	Hash   string  `json:"hash"`
	Status string  `json:"status"`
	Height *uint64 `json:"height"`
	Error  *string `json:"error"`
}

func (l *ledger) txStatus(i int, hash string) (txView, int, error) {
	var v txView
	code, err := l.c.getJSON(l.c.api(i)+"/v1/txs/"+hash, &v)
	return v, code, err
}

// waitFinal waits until every accepted transfer is committed or rejected
// on the node that accepted it, and records its outcome; then until every
// node has executed the highest block among them. A rejection
// fails the test: every transfer sent here is valid, in nonce order, and
// affordable.
func (l *ledger) waitFinal(timeout time.Duration) {
	l.t.Helper()
	start := time.Now()
	waitFor(l.t, timeout, "every accepted transfer final on the node that accepted it", func() (bool, string) {
		pending := 0
		var last string
		for _, tr := range l.accepted() {
			if tr.status != "" {
				continue
			}
			v, code, err := l.txStatus(tr.node, tr.hash)
			switch {
			case code == http.StatusNotFound:
				l.t.Errorf("node %d answers 404 for %s, which it accepted", tr.node, tr)
				tr.status = "lost"
			case err != nil:
				pending++
				last = err.Error()
			case v.Hash != tr.hash:
				l.t.Errorf("node %d: GET /v1/txs/%s answers hash %s", tr.node, tr.hash, v.Hash)
				tr.status = "lost"
			case v.Status == "committed":
				if v.Height == nil || *v.Height == 0 {
					l.t.Errorf("node %d: %s committed without a height: %+v", tr.node, tr, v)
				} else {
					tr.height = *v.Height
				}
				tr.status = v.Status
			case v.Status == "rejected":
				tr.status, tr.rejection = v.Status, "(no reason)"
				if v.Error != nil && *v.Error != "" {
					tr.rejection = *v.Error
				}
				l.t.Errorf("node %d rejected the valid %s: %s", tr.node, tr, tr.rejection)
			case v.Status == "pending":
				pending++
				last = tr.String() + " pending"
			default:
				l.t.Errorf("node %d: %s has status %q", tr.node, tr, v.Status)
				tr.status = "lost"
			}
		}
		return pending == 0, fmt.Sprintf("%d not final, e.g. %s", pending, last)
	})
	// Let every node execute them all, so that each node's view of every
	// account is settled before the next steps read it.
	var top uint64
	for _, tr := range l.accepted() {
		top = max(top, tr.height)
	}
	l.c.waitHeight(l.all(), top, timeout)
	l.t.Logf("all %d accepted transfers final, and executed by every node, after %v more",
		len(l.accepted()), time.Since(start).Round(time.Millisecond))
}

// replay resends a committed transfer's body to node i once node i has
// committed it too: it must be refused with 400.
func (l *ledger) replay(tr *transfer, i int) {
	l.t.Helper()
	if tr.status != "committed" {
		return
	}
	waitFor(l.t, 10*time.Second, fmt.Sprintf("node %d to commit %s", i, tr), func() (bool, string) {
		v, _, err := l.txStatus(i, tr.hash)
		return err == nil && v.Status == "committed", fmt.Sprintf("%+v %v", v, err)
	})
	code, _, msg, err := l.post(context.Background(), i, tr.body)
	if err != nil {
		l.t.Error(err)
		return
	}
	if code != http.StatusBadRequest {
		l.t.Errorf("replaying the committed %s to node %d: answered %d, want 400", tr, i, code)
		return
	}
	if !strings.Contains(msg, "already committed") {
		l.t.Logf("replay of the committed %s to node %d refused with %q", tr, i, msg)
	}
	l.replays++
}

// refuse submits a transaction that must be refused with 400, whose error
// mentions want, and records it.
func (l *ledger) refuse(what string, i int, body []byte, want string) {
	l.t.Helper()
	code, _, msg, err := l.post(context.Background(), i, body)
	if err != nil {
		l.t.Error(err)
		return
	}
	if code != http.StatusBadRequest {
		l.t.Errorf("%s: node %d answered %d, want 400", what, i, code)
		if code == http.StatusAccepted {
			// It may now commit: waitFinal must not wait for it, the
			// final checks will count it.
			l.mu.Lock()
			l.refused = append(l.refused, refusal{what: what + " (wrongly accepted)", body: body, hash: hashOf(body), node: i})
			l.mu.Unlock()
		}
		return
	}
	if !strings.Contains(strings.ToLower(msg), want) {
		l.t.Errorf("%s: node %d's 400 error %q does not mention %q", what, i, msg, want)
	}
	l.mu.Lock()
	l.refused = append(l.refused, refusal{what: what, body: body, hash: hashOf(body), node: i})
	l.mu.Unlock()
}

// run runs the strategos binary and returns its stdout; a failure fails
// the test.
func (l *ledger) run(args ...string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		l.t.Errorf("strategos %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		return "", false
	}
	return stdout.String(), true
}

// cliTransfer sends a few transfers of sender s with `strategos tx
// transfer --wait` to node i, letting the CLI take the nonce from the
// node, and checks what it prints against the transfer bank.Sign makes
// from the same inputs (ed25519 signing is deterministic).
func (l *ledger) cliTransfer(s, i int, rng *rand.Rand) {
	for range 2 {
		to, amount := l.recipient(s, rng), 1+rng.Uint64N(1_000_000)
		out, ok := l.run("tx", "transfer", "--key", l.keyFile(s), "--to", l.addrs[to].String(),
			"--amount", strconv.FormatUint(amount, 10), "--node", l.c.api(i), "--wait")
		if !ok {
			return
		}
		tr := &transfer{from: s, to: to, amount: amount, nonce: l.next[s], node: i, via: viaCLI}
		tr.body = l.sign(s, to, amount, tr.nonce)
		tr.hash = hashOf(tr.body)
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		var h uint64
		if len(lines) != 2 || lines[0] != tr.hash {
			l.t.Errorf("tx transfer --wait printed %q; want the hash %s (of nonce %d) and a commit line", out, tr.hash, tr.nonce)
			return
		}
		if _, err := fmt.Sscanf(lines[1], "committed at height %d", &h); err != nil || h == 0 {
			l.t.Errorf("tx transfer --wait printed %q, want `committed at height H`", lines[1])
			return
		}
		l.next[s]++
		// --wait said committed: record it as such, and check that the
		// node agrees on the height.
		v, _, err := l.txStatus(i, tr.hash)
		if err != nil || v.Status != "committed" || v.Height == nil || *v.Height != h {
			l.t.Errorf("tx transfer --wait said %s committed at height %d; node %d says %+v (%v)", tr.hash, h, i, v, err)
		}
		tr.status, tr.height = "committed", h
		l.record(tr)
	}
}

// cliSign signs n transfers of sender s with `strategos tx sign` (which
// takes the chain id from the key file) and posts its output, trailing
// newline included, as the body to node i.
func (l *ledger) cliSign(s, i, n int, rng *rand.Rand) {
	for range n {
		to, amount := l.recipient(s, rng), 1+rng.Uint64N(1_000_000)
		nonce := l.next[s]
		out, ok := l.run("tx", "sign", "--key", l.keyFile(s), "--to", l.addrs[to].String(),
			"--amount", strconv.FormatUint(amount, 10), "--nonce", strconv.FormatUint(nonce, 10))
		if !ok {
			return
		}
		want := l.sign(s, to, amount, nonce)
		if out != string(want)+"\n" {
			l.t.Errorf("tx sign printed %q, want bank.Sign's body %q and a newline", out, want)
			return
		}
		tr := &transfer{from: s, to: to, amount: amount, nonce: nonce, node: i, via: viaCLISign, body: []byte(out), hash: hashOf(want)}
		if !l.submit(i, tr.body) {
			return
		}
		l.next[s]++
		tr.body = want
		l.record(tr)
	}
}

// sameBodyTwice posts one transfer of sender s to nodes a and b at the
// same moment, n times. Each node answers 202 with the transfer's hash,
// or, if it already committed it, 400; it must commit once (checked at
// the end with every other transfer).
func (l *ledger) sameBodyTwice(s, a, b, n int, rng *rand.Rand) {
	for range n {
		to, amount := l.recipient(s, rng), 1+rng.Uint64N(1_000_000)
		tr := &transfer{from: s, to: to, amount: amount, nonce: l.next[s], node: -1, via: viaTwice}
		tr.body = l.sign(s, to, amount, tr.nonce)
		tr.hash = hashOf(tr.body)
		ans := l.postAll([]int{a, b}, tr.body)
		for _, x := range ans {
			if x.err != nil {
				l.t.Error(x.err)
			} else if x.code == http.StatusAccepted && tr.node < 0 {
				tr.node = x.node
			}
		}
		for _, x := range ans {
			switch {
			case x.err != nil, x.code == http.StatusAccepted:
			case x.code == http.StatusBadRequest && strings.Contains(x.msg, "already committed"):
			default:
				l.t.Error(sameBodyRefused(x, tr, fmt.Sprintf("nodes %d and %d", a, b)))
			}
		}
		if tr.node < 0 {
			return
		}
		l.next[s]++
		l.record(tr)
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
	}
}

// overdrafts sends from sender s to node i: a transfer of more than its
// balance (400), then a valid transfer, then one that the balance covers
// but the balance less the pending transfer does not (400).
func (l *ledger) overdrafts(s, i int, rng *rand.Rand) {
	a, err := l.accountAt(i, s)
	if err != nil {
		l.t.Error(err)
		return
	}
	if a.PendingNonce != l.next[s] || a.Nonce != l.next[s] {
		l.t.Errorf("node %d: account %d is %+v, want nonce and pending nonce %d", i, s, a, l.next[s])
		return
	}
	to := l.recipient(s, rng)
	l.refuse("an overdraft", i, l.sign(s, to, a.Balance+1, l.next[s]), "insufficient funds")
	l.refuse("an overdraft of more than the total supply", (i+1)%len(l.c.nodes),
		l.sign(s, to, demoAccounts*demoFunds+1, l.next[s]), "insufficient funds")
	first := a.Balance / 2
	if l.transferNow(s, to, i, first, viaOverdraft) == nil {
		return
	}
	l.refuse("an overdraft counting the pending transfer", i, l.sign(s, to, a.Balance-first+1, l.next[s]), "insufficient funds")
}

// foreignAndForged sends transfers from sender s that no node may accept:
// one for another chain, one with a forged signature, one whose sender
// has no account, one with a nonce already used, and one far ahead.
func (l *ledger) foreignAndForged(s int, rng *rand.Rand) {
	to, amount := l.recipient(s, rng), 1+rng.Uint64N(1_000_000)
	nonce := l.next[s]
	other, err := bank.Sign(l.keys[s], l.chainID+"-other", l.addrs[to], amount, nonce)
	if err != nil {
		l.t.Error(err)
		return
	}
	l.refuse("a transfer for another chain", rng.IntN(len(l.c.nodes)), other, "chain")

	forged := l.sign(s, to, amount, nonce)
	k := bytes.Index(forged, []byte(`"sig":"`)) + len(`"sig":"`)
	if forged[k] == '0' { // change one hex digit of the signature
		forged[k] = '1'
	} else {
		forged[k] = '0'
	}
	l.refuse("a forged signature", rng.IntN(len(l.c.nodes)), forged, "signature")

	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(rng.Uint32())}, ed25519.SeedSize))
	unknown, err := bank.Sign(stranger, l.chainID, l.addrs[s], amount, 0)
	if err != nil {
		l.t.Error(err)
		return
	}
	l.refuse("a transfer from an account with no funds", rng.IntN(len(l.c.nodes)), unknown, "unknown account")

	if nonce > 0 {
		l.refuse("a used nonce", rng.IntN(len(l.c.nodes)), l.sign(s, to, amount+1, nonce-1), "nonce")
	}
	l.refuse("a nonce far ahead", rng.IntN(len(l.c.nodes)), l.sign(s, to, amount, nonce+1000), "nonce")
}
