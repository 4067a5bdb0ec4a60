package quorum

import (
	"testing"

	"pgregory.net/rapid"
)

func TestReachedTable(t *testing.T) {
	tests := []struct {
		power, total uint64
		want         bool
	}{
		{3, 4, true}, {2, 4, false},
		{5, 7, true}, {4, 7, false},
		{7, 10, true}, {6, 10, false},
		{1, 1, true}, {0, 1, false},
		{67, 100, true}, {66, 100, false},
	}
	for _, tt := range tests {
		if got := Reached(tt.power, tt.total); got != tt.want {
			t.Errorf("Reached(%d, %d) = %v, want %v", tt.power, tt.total, got, tt.want)
		}
	}
}

func TestMaxFaulty(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 0, 3: 0, 4: 1, 6: 1, 7: 2, 10: 3, 100: 33} {
		if got := MaxFaulty(n); got != want {
			t.Errorf("MaxFaulty(%d) = %d, want %d", n, got, want)
		}
	}
}

// Two quorums always intersect in more than a third of the power, and the
// threshold is the exact boundary.
func TestQuorumProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := rapid.Uint64Range(1, 1<<60).Draw(t, "total")
		th := Threshold(total)
		if !Reached(th, total) || (th > 0 && Reached(th-1, total)) {
			t.Fatalf("threshold %d is not the boundary for total %d", th, total)
		}
		a := rapid.Uint64Range(th, total).Draw(t, "a")
		b := rapid.Uint64Range(th, total).Draw(t, "b")
		// |A ∩ B| >= a + b - total, which must be a weak quorum.
		if !Weak(a+b-total, total) {
			t.Fatalf("quorums %d and %d of %d may intersect in only %d", a, b, total, a+b-total)
		}
	})
}

func TestTallyCountsOnce(t *testing.T) {
	var tl Tally
	if !tl.Add(1, 5) || tl.Add(1, 5) || !tl.Add(2, 3) {
		t.Fatal("Add did not report newness correctly")
	}
	if tl.Power() != 8 || !tl.Has(1) || tl.Has(3) {
		t.Fatalf("tally = %d", tl.Power())
	}
}
