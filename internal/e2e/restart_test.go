//go:build unix

package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestKillRestartCatchUp SIGKILLs one validator of four under load, lets
// the other three go on, restarts it with the same home and checks that it
// catches up, that every validator holds the same chain, and that accepted
// transactions committed exactly once and are readable on the restarted
// node.
func TestKillRestartCatchUp(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const victim = 2
	c := newCluster(t, clusterOptions{nodes: 4})
	c.startAll()
	load := c.startLoad(80)
	others := []int{0, 1, 3}
	all := []int{0, 1, 2, 3}

	// Kill once the chain is at height 10 and the victim has accepted
	// some load (so its transactions are in play when it dies).
	waitFor(t, 30*time.Second, "height 10 and load on the victim", func() (bool, string) {
		_, hi, err := c.minMax(all)
		n := load.acceptedBy(victim)
		return err == nil && hi >= 10 && n >= 20, fmt.Sprintf("height %d, %d txs accepted by node %d, err %v", hi, n, victim, err)
	})
	c.kill(victim)
	killedAt := time.Now()
	lo, _, err := c.minMax(others)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node %d at height %d of the others", victim, lo)

	// The other three keep committing without it.
	c.waitHeight(others, lo+30, 90*time.Second)
	_, target, err := c.minMax(others)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("others at height %d after %v without node %d; restarting it", target, time.Since(killedAt).Round(time.Millisecond), victim)
	c.start(victim)
	c.waitAPI(victim, 20*time.Second)
	restarted := time.Now()
	c.waitHeight([]int{victim}, target, 60*time.Second)
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d within 2 heights of the others", victim), func() (bool, string) {
		hs, err := c.heights(all)
		if err != nil {
			return false, err.Error()
		}
		hi := max(hs[0], hs[1], hs[3])
		return hs[victim]+2 >= hi, fmt.Sprintf("heights %v", hs)
	})
	t.Logf("node %d caught up to height %d in %v", victim, target, time.Since(restarted).Round(time.Millisecond))

	// The network recovers from the kill in well under a second (leader
	// reputation skips the dead validator), so the load has run only
	// briefly: keep it going, with all four validators up, until it has
	// offered enough to judge.
	waitFor(t, 60*time.Second, "200 transactions accepted", func() (bool, string) {
		accepted, _, _, _ := load.results()
		return len(accepted) >= 200, fmt.Sprintf("%d accepted", len(accepted))
	})
	// Stop the load and give pending transactions a few heights to commit.
	load.stop()
	_, hi, err := c.minMax(all)
	if err != nil {
		t.Fatal(err)
	}
	c.waitHeight(all, hi+5, 30*time.Second)
	final, _, err := c.minMax(all)
	if err != nil {
		t.Fatal(err)
	}

	chain := c.checkAgreement(all, final)
	idx := txIndex(chain)
	accepted, connErrs, refused, _ := load.results()
	checkNoDuplicates(t, chain, idx, accepted)
	load.checkProblems(t)

	var committed []sentTx
	var lost, excused int
	for _, tx := range accepted {
		if _, ok := idx[tx.hash]; ok {
			committed = append(committed, tx)
			continue
		}
		// The victim may lose what it accepted but had not gossiped yet
		// when it was killed; anything else accepted must commit.
		if tx.node == victim && !tx.at.After(killedAt) && killedAt.Sub(tx.at) < time.Second {
			excused++
			continue
		}
		lost++
		if lost <= 10 {
			t.Errorf("tx %s (k%d, accepted by node %d at %v, %v before the kill) never committed by height %d",
				tx.hash, tx.seq, tx.node, tx.at.Format("15:04:05.000"), killedAt.Sub(tx.at).Round(time.Millisecond), final)
		}
	}
	t.Logf("load: %d txs accepted (%d by node %d), %d committed, %d lost by the kill (allowed), %d lost otherwise; %d connection errors, refusals %v; %d committed txs in %d blocks",
		len(accepted), load.acceptedBy(victim), victim, len(committed), excused, lost, connErrs, refused, len(idx), final)
	if len(accepted) < 200 {
		t.Errorf("only %d txs accepted: the load generator did not load the network", len(accepted))
	}
	if len(committed)*10 < len(accepted)*9 {
		t.Errorf("only %d of %d accepted txs committed (want at least 90%%)", len(committed), len(accepted))
	}
	if lost > 0 {
		t.Errorf("%d accepted txs lost that the kill cannot explain", lost)
	}

	// The restarted node serves the committed state, including what was
	// committed while it was down.
	checkKV(t, c, victim, committed, idx, 60)
	if code, err := c.getJSON(c.api(victim)+"/v1/kv/never-written", new(struct{})); code != 404 {
		t.Errorf("GET /v1/kv/never-written on node %d: status %d (%v), want 404", victim, code, err)
	}

	c.stopAll()
}

// checkKV reads about n committed keys, spread over the whole run, from
// node i and checks their values.
func checkKV(t *testing.T, c *cluster, i int, committed []sentTx, idx map[string][]uint64, n int) {
	t.Helper()
	if len(committed) == 0 {
		t.Errorf("no committed transaction to read back")
		return
	}
	step := max(1, len(committed)/n)
	checked := 0
	for k := 0; k < len(committed); k += step {
		tx := committed[k]
		var got struct {
			Key    string `json:"key"`
			Value  string `json:"value"`
			Height uint64 `json:"height"`
		}
		if _, err := c.getJSON(c.api(i)+"/v1/kv/"+tx.key, &got); err != nil {
			t.Errorf("node %d: %v", i, err)
			continue
		}
		if got.Key != tx.key || got.Value != tx.value {
			t.Errorf("node %d: GET /v1/kv/%s = %+v, want value %q", i, tx.key, got, tx.value)
		}
		if at := idx[tx.hash][0]; got.Height < at {
			t.Errorf("node %d: GET /v1/kv/%s answers state height %d, but the tx committed at height %d", i, tx.key, got.Height, at)
		}
		checked++
	}
	t.Logf("node %d serves the right value for %d sampled committed keys", i, checked)
}
