package sim

import "sort"

// Rate returns the commits per virtual second among times (virtual ms,
// non-decreasing) in the window [from, to).
func Rate(times []int64, from, to int64) float64 {
	if to <= from {
		return 0
	}
	return float64(countIn(times, from, to)) * 1000 / float64(to-from)
}

// countIn counts the times in [from, to); times must be non-decreasing.
func countIn(times []int64, from, to int64) int {
	lo := sort.Search(len(times), func(i int) bool { return times[i] >= from })
	hi := sort.Search(len(times), func(i int) bool { return times[i] >= to })
	return hi - lo
}

// RecoveryStep is how far the sliding window of Recovery moves at a time,
// in virtual ms: one tick.
const RecoveryStep = tickMillis

// Recovery measures how long after a fault at virtual time at the commit
// rate is back: the least d ≥ 0, in steps of RecoveryStep, such that the
// window [at+d, at+d+window) holds commits at a rate of at least target
// per virtual second. Only windows that end by end count; ok is false if
// none qualifies. A fault that does not slow commits recovers in 0.
func Recovery(times []int64, at, end, window int64, target float64) (d int64, ok bool) {
	if window <= 0 {
		return 0, false
	}
	need := target * float64(window) / 1000
	for d = 0; at+d+window <= end; d += RecoveryStep {
		if float64(countIn(times, at+d, at+d+window)) >= need {
			return d, true
		}
	}
	return 0, false
}
