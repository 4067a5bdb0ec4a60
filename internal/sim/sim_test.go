package sim

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"testing"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

// seedsFor sizes the sweep so that the whole suite stays within a few
// minutes under -race: over 1,000 seeds in total across n = 4, 7 and 10.
func seedsFor(n int) (seeds int, heights uint64) {
	switch {
	case testing.Short():
		return 5, 10
	case n <= 4:
		return 60, 20
	case n <= 7:
		return 30, 12
	default:
		return 25, 10
	}
}

// TestSweep runs every behaviour at f Byzantine validators for n = 4, 7 and
// 10, under loss, partitions, crashes and delays: no run may violate safety
// or stall.
func TestSweep(t *testing.T) {
	total := 0
	for _, n := range []int{4, 7, 10} {
		f := quorum.MaxFaulty(n)
		for _, b := range byzantine.Names() {
			k := f
			if b == byzantine.Honest {
				k = 0
			}
			seeds, heights := seedsFor(n)
			total += seeds
			t.Run(fmt.Sprintf("n=%d/%s", n, b), func(t *testing.T) {
				t.Parallel()
				s, err := RunMany(Config{Nodes: n, Byzantine: k, Behavior: b, Heights: heights}, 1, seeds)
				if err != nil {
					t.Fatal(err)
				}
				if s.Violations > 0 || s.Stalled > 0 {
					t.Fatalf("%d violations (first: seed %v: %s), %d stalled", s.Violations, s.FirstViolationSeed, s.FirstViolation, s.Stalled)
				}
				if s.MinHeight < heights {
					t.Fatalf("min height %d < %d", s.MinHeight, heights)
				}
			})
		}
	}
	if !testing.Short() && total < 1000 {
		t.Fatalf("sweep covers %d seeds, want at least 1000", total)
	}
}

// TestSoak runs 100,000 seeds when STRATEGOS_SOAK is set (to any count, or
// to 1 for the default 100,000).
func TestSoak(t *testing.T) {
	v := os.Getenv("STRATEGOS_SOAK")
	if v == "" {
		t.Skip("set STRATEGOS_SOAK=1 (or a seed count) to soak")
	}
	count, err := strconv.Atoi(v)
	if err != nil || count <= 1 {
		count = 100_000
	}
	for _, b := range byzantine.Names() {
		k := 1
		if b == byzantine.Honest {
			k = 0
		}
		per := count / len(byzantine.Names())
		s, err := RunMany(Config{Nodes: 4, Byzantine: k, Behavior: b, Heights: 20}, 1, per)
		if err != nil {
			t.Fatal(err)
		}
		var msgs, evidence int
		var vt int64
		for _, r := range s.Results {
			msgs += r.Messages
			vt += r.Time
			evidence += r.Evidence
		}
		t.Logf("n=4 %-13s k=%d: %d runs, %d violations, %d stalled, min height %d, mean %d virtual ms, %d msgs/run, %d evidence",
			b, k, s.Runs, s.Violations, s.Stalled, s.MinHeight, vt/int64(s.Runs), msgs/s.Runs, evidence)
		if s.Violations > 0 || s.Stalled > 0 {
			t.Errorf("%s: %d violations (first seed %v: %s), %d stalled", b, s.Violations, s.FirstViolationSeed, s.FirstViolation, s.Stalled)
		}
	}
}

// The checkers have teeth: with f+1 equivocators of 4 the simulator finds
// honest validators committing different blocks at one height.
func TestTeethTooManyTraitors(t *testing.T) {
	s, err := RunMany(Config{Nodes: 4, Byzantine: 2, Behavior: "equivocate", Heights: 20}, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if s.Violations == 0 {
		t.Fatal("2 equivocators of 4 produced no safety violation in 100 seeds: the checker has no teeth")
	}
	t.Logf("%d of 100 runs violated safety; first: seed %d: %s", s.Violations, *s.FirstViolationSeed, s.FirstViolation)
}

// The checkers have teeth: with the round condition of the voting rule
// switched off, honest validators vote for both blocks of an equivocating
// leader, and the simulator reports it; the same seeds with the rule on
// are clean.
func TestTeethBrokenVotingRule(t *testing.T) {
	cfg := Config{Nodes: 4, Byzantine: 1, Behavior: "equivocate", Heights: 20}
	safe, err := RunMany(cfg, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if safe.Violations != 0 {
		t.Fatalf("with the voting rule on: %d violations (%s)", safe.Violations, safe.FirstViolation)
	}
	cfg.Unsafe = consensus.UnsafeRules{SkipVoteRoundCheck: true}
	broken, err := RunMany(cfg, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if broken.Violations == 0 {
		t.Fatal("with the voting rule off the simulator found nothing: the checker has no teeth")
	}
	t.Logf("%d of 100 runs violated safety; first: %s", broken.Violations, broken.FirstViolation)
}

// The same configuration always produces the same results.
func TestDeterministic(t *testing.T) {
	cfg := Config{Nodes: 4, Byzantine: 1, Behavior: "replay", Heights: 10}
	a, err := RunMany(cfg, 7, 8)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunMany(cfg, 7, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs of the same seeds differ:\n%+v\n%+v", a.Results, b.Results)
	}
	if a.Results[0] == a.Results[1] {
		t.Fatal("different seeds produced identical runs: the seed is not used")
	}
}

// Honest validators detect a leader's equivocation and report evidence.
func TestEquivocationEvidence(t *testing.T) {
	s, err := RunMany(Config{Nodes: 4, Byzantine: 1, Behavior: "equivocate", Heights: 20, Calm: true}, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	ev := 0
	for _, r := range s.Results {
		ev += r.Evidence
	}
	if ev == 0 {
		t.Fatal("no evidence of equivocation reported by honest validators")
	}
}

// Liveness needs a quorum: with f+1 silent validators nothing commits, and
// the simulator does not call it a stall (liveness is not promised), while
// with f it finishes.
func TestLivenessNeedsQuorum(t *testing.T) {
	s, err := Run(Config{Nodes: 4, Byzantine: 2, Behavior: "silent", Heights: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s.MinHeight != 0 || s.Violation != "" {
		t.Fatalf("2 silent of 4: height %d, violation %q", s.MinHeight, s.Violation)
	}
	s, err = Run(Config{Nodes: 4, Byzantine: 1, Behavior: "silent", Heights: 5, Seed: 1})
	if err != nil || s.Failed() || s.MinHeight < 5 {
		t.Fatalf("1 silent of 4: %+v, %v", s, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Nodes: 0, Heights: 1},
		{Nodes: 4, Byzantine: 5, Heights: 1},
		{Nodes: 4, Byzantine: 4, Behavior: "silent", Heights: 1},
		{Nodes: 4, Byzantine: 1, Behavior: "nosuch", Heights: 1},
		{Nodes: 4, Heights: 0},
	} {
		if _, err := Run(c); err == nil {
			t.Errorf("Run(%+v) succeeded", c)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	for _, n := range []int{4, 10} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			heights := 0
			for i := range b.N {
				r, err := Run(Config{Nodes: n, Heights: 20, Seed: uint64(i)})
				if err != nil || r.Failed() {
					b.Fatal(err, r)
				}
				heights += int(r.MinHeight)
			}
			b.ReportMetric(float64(heights)/b.Elapsed().Seconds(), "heights/s")
		})
	}
}

// A validator down for far longer than one catch-up batch restarts from
// its store, catches up by height, and commits the same chain.
func TestLongOutageCatchUp(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		cfg := Config{Nodes: 4, Heights: 600, Seed: seed, Calm: true, Outage: &Outage{Node: 2, From: 300, To: 30000}}
		r, err := Run(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Failed() || r.MinHeight < 600 {
			t.Fatalf("seed %d: %+v", seed, r)
		}
		if r.Syncs < 2 {
			t.Fatalf("seed %d: %d catch-up requests; the outage was not long enough to need them", seed, r.Syncs)
		}
	}
}
