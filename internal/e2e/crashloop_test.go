//go:build unix

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestCrashLoop SIGKILLs one validator of four again and again under load,
// at seeded random moments (some right after it started), and then audits
// every validator's sign log across all its lives: a validator that
// persists its safety state before it sends never signs two contradicting
// votes, proposals or timeouts, however it is killed. After each restart
// it also checks that the node resumed no lower than the rounds it had
// already signed in (see checkResume), that the validators agree on every
// common height, and that the crashed one catches up and keeps committing.
func TestCrashLoop(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const (
		victim = 1
		kills  = 12
	)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STRATEGOS_E2E_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("STRATEGOS_E2E_SEED=%q: %v", s, err)
		}
	}
	t.Logf("kill schedule seed %d (rerun it with STRATEGOS_E2E_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))

	c := newCluster(t, clusterOptions{nodes: 4, signLog: true})
	c.startAll()
	load := c.startLoad(60)
	all := []int{0, 1, 2, 3}
	others := []int{0, 2, 3}
	c.waitHeight(all, 5, 30*time.Second)

	// The kill schedule: every third life is killed within 100 ms of its
	// start (while it reloads its store and may sign at once), the others
	// after 2.5-5.5 s; the node stays down 0.1-0.7 s. The waits are the
	// schedule itself, not synchronisation.
	began := time.Now()
	lifeStart := began
	var quick, resumed int
	for k := range kills {
		up := time.Duration(2500+rng.IntN(3000)) * time.Millisecond
		if k%3 == 1 {
			up = time.Duration(rng.IntN(100)) * time.Millisecond
			quick++
		}
		down := time.Duration(100+rng.IntN(600)) * time.Millisecond
		if k > 0 && up >= time.Second && checkResume(t, c, victim, lifeStart.Add(up-200*time.Millisecond)) {
			resumed++
		}
		<-time.After(time.Until(lifeStart.Add(up)))
		c.kill(victim)
		<-time.After(down)
		c.start(victim)
		lifeStart = time.Now()
	}
	t.Logf("killed node %d %d times (%d within 100 ms of a start) in %v", victim, kills, quick, time.Since(began).Round(time.Millisecond))
	if !checkResume(t, c, victim, time.Now().Add(20*time.Second)) {
		t.Fatalf("node %d's API did not answer after its last restart", victim)
	}
	resumed++
	if resumed < kills/2 {
		t.Errorf("the resume check ran in only %d lives of node %d", resumed, victim)
	}

	// The last life catches up, stays close and keeps committing.
	_, target, err := c.minMax(others)
	if err != nil {
		t.Fatal(err)
	}
	c.waitHeight([]int{victim}, target, 60*time.Second)
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d within 3 heights of the others", victim), func() (bool, string) {
		hs, err := c.heights(all)
		if err != nil {
			return false, err.Error()
		}
		hi := max(hs[0], hs[2], hs[3])
		return hs[victim]+3 >= hi, fmt.Sprintf("heights %v", hs)
	})
	h, err := c.height(victim)
	if err != nil {
		t.Fatal(err)
	}
	c.waitHeight([]int{victim}, h+5, 30*time.Second)
	load.stop()
	load.checkProblems(t)

	lo, hi, err := c.minMax(all)
	if err != nil {
		t.Fatal(err)
	}
	if hi-lo > 5 {
		t.Errorf("nodes spread over heights %d..%d at the end", lo, hi)
	}
	chain := c.checkAgreement(all, lo)
	accepted, connErrs, _, _ := load.results()
	idx := txIndex(chain)
	committed := 0
	for _, tx := range accepted {
		if _, ok := idx[tx.hash]; ok {
			committed++
		}
	}
	_, dups := duplicates(chain, idx, nil, 0)
	t.Logf("load: %d txs accepted, %d committed by height %d, %d connection errors; %d committed more than once (TestKillRestartCatchUp checks that)",
		len(accepted), committed, lo, connErrs, dups)

	// Stop everyone so that the sign logs are complete, then audit them.
	c.stopAll()
	for _, p := range c.nodes {
		a, err := auditSignLogFile(p.signLog)
		if err != nil {
			t.Fatalf("node %d: %v", p.index, err)
		}
		t.Logf("node %d sign log: %v", p.index, a)
		for k, v := range a.violations {
			if k == 20 {
				t.Errorf("node %d: ... %d violations in all", p.index, len(a.violations))
				break
			}
			t.Errorf("SAFETY: node %d signed contradicting messages: %s", p.index, v)
		}
		if a.lives != p.lives {
			t.Errorf("node %d: its sign log shows %d lives, the test started it %d times", p.index, a.lives, p.lives)
		}
		if a.votes == 0 || a.lastLifeVotes == 0 {
			t.Errorf("node %d: sign log has %d votes, %d in its last life: the audit has nothing to check", p.index, a.votes, a.lastLifeVotes)
		}
		if p.index == victim && a.livesVoting < kills/2 {
			t.Errorf("node %d: only %d of its %d lives signed a vote: the crash loop hardly tested restarts", p.index, a.livesVoting, a.lives)
		}
		if a.lastLifeVotes > 0 && a.lastLifeMinVote <= a.beforeLastLife {
			t.Errorf("node %d: voted in round %d in its last life, but had signed round %d before", p.index, a.lastLifeMinVote, a.beforeLastLife)
		}
	}
}

// checkResume reads node i's round as soon as its API answers after a
// restart, polling until deadline, and checks that the node resumed at or
// above every round it voted or timed out in during its earlier lives: it
// never votes in those rounds again, so it must have restored them from its
// safety state. This catches lost or late-persisted safety state even when
// the node happens not to sign a contradiction afterwards. It reports
// whether the API answered in time.
func checkResume(t *testing.T, c *cluster, i int, deadline time.Time) bool {
	t.Helper()
	var st status
	for {
		var err error
		if st, err = c.status(i); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return false
		}
		<-time.After(pollEvery)
	}
	// The new life may be appending a line right now; the audit's view of
	// the earlier lives (up to the last marker) is complete regardless.
	a, err := auditSignLogFile(c.nodes[i].signLog)
	if err != nil {
		t.Fatalf("node %d: %v", i, err)
	}
	if st.Round < a.beforeLastLife {
		t.Errorf("SAFETY: node %d resumed in life %d at round %d, below round %d it had already voted or timed out in: its safety state was not restored",
			i, a.lives, st.Round, a.beforeLastLife)
	}
	return true
}
