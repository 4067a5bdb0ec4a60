package generals

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// closedForm is the formula, written independently of OMMessages.
func closedForm(n, m int) int {
	if m == 0 {
		return n - 1
	}
	return (n - 1) + (n-1)*closedForm(n-1, m-1)
}

func TestOMMessageCountMatchesClosedForm(t *testing.T) {
	known := map[[2]int]uint64{{3, 1}: 4, {4, 1}: 9, {7, 2}: 156, {11, 3}: 5860, {5, 0}: 4}
	for nm, want := range known {
		if got, ok := OMMessages(nm[0], nm[1]); !ok || got != want {
			t.Errorf("OMMessages(%d,%d) = %d, want %d", nm[0], nm[1], got, want)
		}
	}
	for n := 2; n <= 9; n++ {
		for m := 0; m <= 4 && m < n; m++ {
			want := closedForm(n, m)
			for _, ids := range [][]int{nil, {n - 1}} {
				for _, st := range []Strategy{Flip, Split, Random} {
					res, err := Run(Config{Algorithm: OM, Generals: n, M: m, Traitors: ids, Order: Attack, Strategy: st})
					if err != nil {
						t.Fatal(err)
					}
					if res.Messages != want {
						t.Errorf("OM(%d) n=%d traitors=%v %s: %d messages, want M(n,m) = %d", m, n, ids, st, res.Messages, want)
					}
				}
			}
			if got, _ := OMMessages(n, m); got != uint64(want) {
				t.Errorf("OMMessages(%d,%d) = %d, want %d", n, m, got, want)
			}
		}
	}
	// Silent traitors send fewer messages than the formula.
	res, _ := Run(Config{Algorithm: OM, Generals: 4, M: 1, Traitors: []int{3}, Order: Attack, Strategy: Silent})
	if res.Messages != 9-2 {
		t.Errorf("silent L3 in OM(1) of 4: %d messages, want 7", res.Messages)
	}
	if _, ok := OMMessages(200, 100); ok {
		t.Error("OMMessages(200,100) should overflow")
	}
}

// subsets returns every k-subset of 0..n-1.
func subsets(n, k int) [][]int {
	if k == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for first := 0; first <= n-k; first++ {
		for _, rest := range subsets(n-first-1, k-1) {
			s := []int{first}
			for _, r := range rest {
				s = append(s, first+1+r)
			}
			out = append(out, s)
		}
	}
	return out
}

func TestOMAgreementWhenMoreThan3m(t *testing.T) {
	type tc struct{ n, m int }
	cases := []tc{{4, 1}, {5, 1}, {6, 1}, {7, 2}, {8, 2}}
	if !testing.Short() {
		cases = append(cases, tc{10, 3})
	}
	for _, c := range cases {
		placements := subsets(c.n, c.m)
		if c.m == 3 {
			placements = [][]int{{0, 8, 9}, {7, 8, 9}, {1, 4, 7}}
		}
		for _, ids := range placements {
			for _, st := range Strategies() {
				for _, order := range []Value{Attack, Retreat} {
					for seed := range uint64(3) {
						cfg := Config{Algorithm: OM, Generals: c.n, M: c.m, Traitors: ids, Order: order, Strategy: st, Seed: seed}
						res, err := Run(cfg)
						if err != nil {
							t.Fatal(err)
						}
						if !res.IC1 || !res.IC2 {
							t.Fatalf("OM(%d) n=%d traitors=%v %s order=%s seed=%d: ic1=%v ic2=%v decisions=%v",
								c.m, c.n, ids, st, order, seed, res.IC1, res.IC2, res.Decisions)
						}
						loyal := c.n - 1 - len(ids)
						if slices.Contains(ids, 0) {
							loyal++
						}
						if len(res.Decisions) != loyal {
							t.Fatalf("decisions cover %d lieutenants, want the %d loyal ones", len(res.Decisions), loyal)
						}
					}
				}
			}
		}
	}
}

func TestOMExhaustiveAgreementSmallCases(t *testing.T) {
	type tc struct {
		n, m int
		ids  []int
	}
	var cases []tc
	for n := 4; n <= 6; n++ {
		for id := range n {
			cases = append(cases, tc{n, 1, []int{id}})
		}
	}
	cases = append(cases, tc{7, 2, []int{0}}, tc{3, 0, nil}, tc{2, 0, []int{0}})
	for _, c := range cases {
		for _, order := range []Value{Attack, Retreat} {
			s, err := Exhaust(Config{Algorithm: OM, Generals: c.n, M: c.m, Traitors: c.ids, Order: order}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Violations != 0 {
				t.Errorf("OM(%d) n=%d traitors=%v order=%s: %d of %d cases broke IC1/IC2", c.m, c.n, c.ids, order, s.Violations, s.Cases)
			}
			if len(c.ids) > 0 && s.Cases < 4 && c.n > 2 {
				t.Errorf("OM(%d) n=%d traitors=%v: only %d cases tried", c.m, c.n, c.ids, s.Cases)
			}
		}
	}
}

func TestOMExhaustiveFindsViolationWithThreeGenerals(t *testing.T) {
	for _, traitor := range []int{1, 2} {
		cfg := Config{Algorithm: OM, Generals: 3, M: 1, Traitors: []int{traitor}, Order: Attack, Trace: true}
		s, err := Exhaust(cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		if s.Cases != 2 || s.Choices != 1 {
			t.Fatalf("traitor L%d: %d cases from %d choices, want 2 from 1 (its one relay)", traitor, s.Cases, s.Choices)
		}
		if s.IC2Violations != 1 || s.IC1Violations != 0 {
			t.Fatalf("traitor L%d: ic1 violations %d, ic2 violations %d; want 0 and 1", traitor, s.IC1Violations, s.IC2Violations)
		}
		loyal := 3 - traitor
		if s.Example.IC2 || s.Example.Decisions[loyal] != Retreat {
			t.Fatalf("example should have L%d retreat against the order: %+v", loyal, s.Example)
		}
		trace := strings.Join(s.Example.Trace, "\n")
		for _, want := range []string{
			fmt.Sprintf("OM(0) L%d -> L%d: retreat (relaying the commander's order) [traitor: it holds attack]", traitor, loyal),
			fmt.Sprintf("L%d holds [C attack, L%d retreat] -> decides retreat (tie)", loyal, traitor),
		} {
			if !strings.Contains(trace, want) {
				t.Errorf("trace lacks %q:\n%s", want, trace)
			}
		}
	}
	// A retreat order survives: a tie retreats anyway.
	s, _ := Exhaust(Config{Algorithm: OM, Generals: 3, M: 1, Traitors: []int{2}, Order: Retreat}, 0)
	if s.Violations != 0 {
		t.Errorf("order retreat with 3 generals: %d violations, want 0", s.Violations)
	}
	// A traitor commander alone cannot split 2 lieutenants that compare notes:
	// both hold the same two values.
	s, _ = Exhaust(Config{Algorithm: OM, Generals: 3, M: 1, Traitors: []int{0}, Order: Attack}, 0)
	if s.Violations != 0 || s.Cases != 4 {
		t.Errorf("traitor commander with 3 generals: %d violations in %d cases, want 0 in 4", s.Violations, s.Cases)
	}
}

func TestOMBreaksAtTheBound(t *testing.T) {
	for _, c := range []struct {
		n, m int
		ids  []int
		st   Strategy
	}{
		{3, 1, []int{2}, Silent},
		{6, 2, []int{4, 5}, Silent},
		{6, 2, []int{4, 5}, Flip},
		{9, 3, []int{6, 7, 8}, Silent},
	} {
		res, err := Run(Config{Algorithm: OM, Generals: c.n, M: c.m, Traitors: c.ids, Order: Attack, Strategy: c.st})
		if err != nil {
			t.Fatal(err)
		}
		if res.IC2 {
			t.Errorf("OM(%d) n=%d traitors=%v %s: IC2 held, want it broken (n <= 3m)", c.m, c.n, c.ids, c.st)
		}
	}
	// One general more and the same traitors fail.
	res, _ := Run(Config{Algorithm: OM, Generals: 7, M: 2, Traitors: []int{5, 6}, Order: Attack, Strategy: Silent})
	if !res.IC1 || !res.IC2 {
		t.Errorf("OM(2) n=7 silent traitors broke agreement: %+v", res)
	}
}

func TestOMRunIsDeterministicAndTraced(t *testing.T) {
	cfg := Config{Algorithm: OM, Generals: 7, M: 2, Traitors: []int{0, 3}, Order: Attack, Strategy: Random, Seed: 9, Trace: true}
	a, _ := Run(cfg)
	b, _ := Run(cfg)
	if !slices.Equal(a.Trace, b.Trace) || a.Messages != b.Messages {
		t.Fatal("two runs with one seed differ")
	}
	differ := false
	for seed := range uint64(10) {
		cfg.Seed = seed
		c, _ := Run(cfg)
		differ = differ || !slices.Equal(a.Trace, c.Trace)
	}
	if !differ {
		t.Fatal("the random strategy ignores the seed")
	}
	trace := strings.Join(a.Trace, "\n")
	for _, want := range []string{
		"round 1: OM(2)", "round 2: OM(1)", "round 3: OM(0)",
		"OM(1) L1 -> L2: ", "(relaying L1's report of the commander's order)",
		"resolving OM(1)", "decisions:", "L1 holds [C ",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if got := strings.Count(trace, " -> L"); got != 156 {
		t.Errorf("trace shows %d messages, want 156", got)
	}
}

func TestOMSilentCommanderMeansRetreat(t *testing.T) {
	res, err := Run(Config{Algorithm: OM, Generals: 2, M: 0, Traitors: []int{0}, Order: Attack, Strategy: Silent, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Decisions[1] != Retreat || res.Messages != 0 {
		t.Fatalf("silent commander: %+v", res)
	}
	if !strings.Contains(strings.Join(res.Trace, "\n"), "L1 decides retreat: no order came") {
		t.Fatalf("trace: %v", res.Trace)
	}
}

func TestExhaustRefusesTooManyCases(t *testing.T) {
	cfg := Config{Algorithm: OM, Generals: 6, M: 2, Traitors: []int{4, 5}, Order: Attack}
	k, err := Choices(cfg)
	if err != nil || k != 24 {
		t.Fatalf("Choices = %d, %v; want 24", k, err)
	}
	if _, err := Exhaust(cfg, 0); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "2^24") {
		t.Fatalf("Exhaust = %v, want ErrTooLarge naming 2^24", err)
	}
	small := Config{Algorithm: OM, Generals: 5, M: 1, Traitors: []int{0}, Order: Attack}
	if _, err := Exhaust(small, 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Exhaust with a tiny work limit = %v, want ErrTooLarge", err)
	}
}
