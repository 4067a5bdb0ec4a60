package sim

import (
	"testing"
)

// failedRounds counts, per validator, the rounds it led that failed on the
// honest chain committed at or after from (virtual ms).
func failedRounds(tr *Trace, n int, from int64) []int {
	out := make([]int, n)
	for _, c := range tr.Commits {
		if c.At < from {
			continue
		}
		for _, v := range c.Failed {
			out[v]++
		}
	}
	return out
}

// A silent validator is elected leader at most a few times once its first
// failures are on the chain, instead of every n-th round: the leader rule
// has teeth. (Under round robin it would lead a quarter of ~1,000 rounds.)
func TestSilentValidatorStopsBeingElected(t *testing.T) {
	for _, n := range []int{4, 7} {
		k := (n - 1) / 3
		res, err := Run(Config{Nodes: n, Byzantine: k, Behavior: "silent", Duration: 20_000, Calm: true, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Failed() {
			t.Fatalf("n=%d: %+v", n, res)
		}
		tr := res.Trace
		blocks := len(tr.Commits)
		failed := failedRounds(tr, n, 3_000)
		for v := n - k; v < n; v++ {
			if tr.Proposed[v] != 0 {
				t.Fatalf("n=%d: silent validator %d proposed %d committed blocks", n, v, tr.Proposed[v])
			}
			if failed[v] > 2+blocks/100 {
				t.Errorf("n=%d: silent validator %d led %d failed rounds after the window (of %d blocks)", n, v, failed[v], blocks)
			}
		}
		for v := 0; v < n-k; v++ {
			if failed[v] > 0 {
				t.Errorf("n=%d: honest validator %d led %d failed rounds", n, v, failed[v])
			}
			if tr.Proposed[v] < blocks/(2*(n-k)) {
				t.Errorf("n=%d: honest validator %d proposed only %d of %d blocks", n, v, tr.Proposed[v], blocks)
			}
		}
	}
}

// A validator that crashes stops being elected, and once it restarts and
// votes again it leads again: its failures leave the window.
func TestRecoveredValidatorLeadsAgain(t *testing.T) {
	const n, crashAt, restartAt, end = 4, 4_000, 8_000, 20_000
	res, err := Run(Config{Nodes: n, Duration: end, Calm: true, Seed: 2, Outage: &Outage{Node: 0, From: crashAt, To: restartAt}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("%+v", res)
	}
	var before, during, after int
	for _, c := range res.Trace.Commits {
		if c.Proposer != 0 {
			continue
		}
		switch {
		case c.ProposedAt < crashAt:
			before++
		case c.ProposedAt < restartAt:
			during++
		default:
			after++
		}
	}
	if before == 0 || during != 0 {
		t.Fatalf("validator 0 proposed %d committed blocks before its crash and %d while down", before, during)
	}
	// Healthy, it leads about a quarter of the blocks; after the restart
	// it must be back to a fair share, not an occasional turn.
	total := 0
	for _, c := range res.Trace.Commits {
		if c.ProposedAt >= restartAt+2_000 {
			total++
		}
	}
	if after < total/8 {
		t.Fatalf("after its restart validator 0 proposed %d of %d blocks", after, total)
	}
	if f := failedRounds(res.Trace, n, crashAt+1_000)[0]; f > 3 {
		t.Fatalf("validator 0 led %d failed rounds after its crash", f)
	}
}

// An equivocating leader shows one block to one side of the honest
// validators and another to the other side, and its twin votes only where
// its block won. The next leader, if on the losing side, gets the winning
// QC from the validators that formed it (Message.QC) rather than failing
// its round: honest validators keep their share of leadership. Without
// the forwarded QC, validator 0 (alone on its side) led about 15% of the
// blocks at n = 4.
func TestEquivocatorCannotStarveAnHonestLeader(t *testing.T) {
	const n = 4
	res, err := Run(Config{Nodes: n, Byzantine: 1, Behavior: "equivocate", Duration: 20_000, Calm: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() {
		t.Fatalf("%+v", res)
	}
	blocks := len(res.Trace.Commits)
	for v := range n - 1 {
		if p := res.Trace.Proposed[v]; p < blocks/5 {
			t.Errorf("honest validator %d proposed %d of %d committed blocks", v, p, blocks)
		}
	}
}
