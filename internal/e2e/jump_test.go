//go:build unix

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDownValidatorJumpsAhead stops a validator under load until the
// others are far past it, starts it again as it was (no flag, no wipe),
// and checks that the same process jumps to a peer's snapshot by itself,
// is ready within a minute, and that every validator agrees on every
// height and every accepted transaction committed exactly once.
func TestDownValidatorJumpsAhead(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const victim, behind = 3, 150
	all := []int{0, 1, 2, 3}
	c := newCluster(t, clusterOptions{nodes: 4, signLog: true})
	for i := range c.nodes {
		c.editConfig(i, map[string]any{"snapshot_interval": 100, "state_sync_behind": behind})
	}
	c.startAll()
	f := c.follow(all)
	load := c.startLoadKeys(100, 1000)
	c.waitHeight(all, 30, 60*time.Second)

	c.stop(victim)
	stoppedAt := time.Now()
	left, err := c.height(0)
	if err != nil {
		t.Fatal(err)
	}
	signedBefore := maxRound(t, c.nodes[victim].signLog)
	c.waitHeight([]int{0, 1, 2}, left+20*behind, 120*time.Second)
	c.start(victim)
	restarted := time.Now()
	waitFor(t, 60*time.Second, "the validator back from its outage ready", func() (bool, string) {
		code, err := c.getJSON(c.api(victim)+"/readyz", new(struct{}))
		return code == 200, fmt.Sprint(code, err)
	})
	t.Logf("down %v; ready %v after its restart", restarted.Sub(stoppedAt).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	log, err := os.ReadFile(c.nodes[victim].logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stopping to restore a snapshot", "the store now starts at the snapshot's height"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the validator's log lacks %q: it did not jump", want)
		}
	}
	if lives := c.nodes[victim].lives; lives != 2 {
		t.Errorf("validator %d had %d lives; want 2 (one restart, by the test)", victim, lives)
	}
	e, err := c.earliest([]int{victim})
	if err != nil || e[0] <= left {
		t.Errorf("after the jump the validator keeps heights from %v (%v); it left at %d", e, err, left)
	}

	// It follows the chain with the others, and they agree.
	_, hi, err := c.minMax(all)
	if err != nil {
		t.Fatal(err)
	}
	c.waitHeight(all, hi+10, 60*time.Second)
	load.stop()
	_, hi, err = c.minMax(all)
	if err != nil {
		t.Fatal(err)
	}
	c.waitHeight(all, hi+5, 30*time.Second)
	chain := f.stop()
	idx := txIndex(chain)
	accepted, _, _, _ := load.results()
	checkNoDuplicates(t, chain, idx, accepted)
	load.checkProblems(t)
	for _, tx := range accepted {
		if _, ok := idx[tx.hash]; !ok {
			t.Errorf("tx %s (accepted by node %d) never committed", tx.hash, tx.node)
		}
	}
	// It kept its record of what it signed: it never signed against it,
	// and it voted again after the jump.
	a, err := auditSignLogFile(c.nodes[victim].signLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range a.violations {
		t.Errorf("validator %d signed against its record: %s", victim, v)
	}
	if a.lastLifeVotes == 0 || a.lastLifeMinVote <= signedBefore {
		t.Errorf("after its restart the validator voted %d times, the lowest in round %d; want votes above round %d: %v", a.lastLifeVotes, a.lastLifeMinVote, signedBefore, a)
	}
}
