package consensus

import (
	"math"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func TestSafeToVote(t *testing.T) {
	tc := func(round, high uint64) *chain.TC { return &chain.TC{Round: round, HighQC: &chain.QC{Round: high}} }
	tests := []struct {
		name                 string
		block, qc, lastVoted uint64
		tc                   *chain.TC
		want                 bool
	}{
		{"QC for the previous round", 5, 4, 4, nil, true},
		{"QC for the previous round, fresh validator", 1, 0, 0, nil, true},
		{"round equal to last voted", 5, 4, 5, nil, false},
		{"round below last voted", 5, 4, 7, nil, false},
		{"round zero", 0, 0, 0, nil, false},
		{"TC for previous round, QC equal to its high QC", 5, 2, 4, tc(4, 2), true},
		{"TC for previous round, QC above its high QC", 5, 3, 4, tc(4, 2), true},
		{"TC for previous round, QC below its high QC", 5, 1, 4, tc(4, 2), false},
		{"TC for an older round", 5, 2, 2, tc(3, 2), false},
		{"TC for the block's own round", 5, 2, 2, tc(5, 2), false},
		{"TC without high QC", 5, 2, 4, &chain.TC{Round: 4}, false},
		{"QC skips rounds, no TC", 5, 3, 0, nil, false},
		{"QC from the block's own round", 5, 5, 0, nil, false},
		{"valid TC, but already voted in the round", 5, 3, 5, tc(4, 2), false},
		{"QC round at the top of the range", 0, math.MaxUint64, 0, nil, false},
	}
	for _, tt := range tests {
		if got := safeToVote(tt.block, tt.qc, tt.tc, tt.lastVoted); got != tt.want {
			t.Errorf("%s: safeToVote(%d, %d, tc, %d) = %v, want %v", tt.name, tt.block, tt.qc, tt.lastVoted, got, tt.want)
		}
	}
}

func TestCommits(t *testing.T) {
	tests := []struct {
		parent, child uint64
		want          bool
	}{
		{4, 5, true}, {0, 1, true}, {4, 6, false}, {5, 5, false}, {6, 5, false}, {0, 2, false},
	}
	for _, tt := range tests {
		if got := commits(tt.parent, tt.child); got != tt.want {
			t.Errorf("commits(%d, %d) = %v, want %v", tt.parent, tt.child, got, tt.want)
		}
	}
}

func TestTimeoutTicks(t *testing.T) {
	tests := []struct{ base, max, failed, want int }{
		{10, 640, 0, 10},
		{10, 640, 1, 13},
		{10, 640, 2, 16},
		{10, 640, 6, 38},
		{10, 640, 1 << 30, 640},
		{10, 25, 2, 16},
		{10, 25, 3, 20},
		{10, 25, 4, 25},
		{10, 10, 3, 10},
		{1, 64, 1, 2}, // at least a tick more
		{1, 64, 3, 4},
		{10, math.MaxInt, 0, 10},
		{10, math.MaxInt, 400, math.MaxInt}, // growth must not overflow
	}
	for _, tt := range tests {
		if got := timeoutTicks(tt.base, tt.max, tt.failed); got != tt.want {
			t.Errorf("timeoutTicks(%d, %d, %d) = %d, want %d", tt.base, tt.max, tt.failed, got, tt.want)
		}
	}
	// Over every count of failures: never below base or above max,
	// growing by a fifth (at least one tick) until the cap.
	for _, lim := range []struct{ base, max int }{{1, 1000}, {7, 7 * 64}, {10, 100}, {3, math.MaxInt}} {
		prev := 0
		for f := range 100 {
			got := timeoutTicks(lim.base, lim.max, f)
			want := lim.base
			if f > 0 {
				want = min(prev+prev/5+1, lim.max)
			}
			if got != want || got < lim.base || got > lim.max {
				t.Fatalf("timeoutTicks(%d, %d, %d) = %d, want %d", lim.base, lim.max, f, got, want)
			}
			prev = got
		}
	}
}
