package bench

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// window is the steady part of a run, in run time: [start, end).
type window struct{ start, end time.Duration }

func (w window) contains(t time.Duration) bool { return t >= w.start && t < w.end }

func (w window) seconds() float64 { return (w.end - w.start).Seconds() }

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest sample with at least p% of the
// samples at or below it. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Latency is the latency summary of a report, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// summarize sorts samples and summarizes them.
func summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, d := range samples {
		sum += d
	}
	return Latency{
		P50: ms(percentile(samples, 50)), P95: ms(percentile(samples, 95)), P99: ms(percentile(samples, 99)),
		Max: ms(samples[len(samples)-1]), Mean: ms(sum / time.Duration(len(samples))),
	}
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// hist is a histogram of durations with buckets about 3% wide, for the
// running percentiles of the progress display: O(1) to add, no growth.
// Below 64 µs a bucket is one microsecond; above, each power of two is
// cut into 32 buckets.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
}

const (
	histLinear  = 64
	histSub     = 32
	histBuckets = histLinear + 40*histSub
)

func histBucket(d time.Duration) int {
	v := uint64(max(d, 0) / time.Microsecond)
	if v < histLinear {
		return int(v)
	}
	shift := bits.Len64(v) - 6 // v>>shift is in [32, 64)
	return min(histLinear+(shift-1)*histSub+int(v>>shift)-histSub, histBuckets-1)
}

// histValue is the middle of bucket i.
func histValue(i int) time.Duration {
	if i < histLinear {
		return time.Duration(i) * time.Microsecond
	}
	k := i - histLinear
	shift := k/histSub + 1
	m := uint64(k%histSub + histSub)
	lo, hi := m<<shift, (m+1)<<shift
	return time.Duration((lo+hi)/2) * time.Microsecond
}

func (h *hist) add(d time.Duration) {
	h.counts[histBucket(d)]++
	h.n++
}

// percentile is the nearest-rank percentile, to the bucket's precision.
func (h *hist) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(max(math.Ceil(p/100*float64(h.n)), 1))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return histValue(i)
		}
	}
	return histValue(histBuckets - 1)
}

// pacer spreads an open-loop rate over time: by run time t, rate*(t-start)
// transactions are owed. It holds no clock; the caller says what time it
// is, so tests drive it with any clock.
type pacer struct {
	rate  float64 // transactions per second
	start time.Duration
	sent  int64
}

// due returns how many transactions are owed at run time now and not sent
// yet.
func (p *pacer) due(now time.Duration) int64 {
	if now <= p.start || p.rate <= 0 {
		return 0
	}
	return max(int64(p.rate*(now-p.start).Seconds())-p.sent, 0)
}

// took records that n transactions were sent.
func (p *pacer) took(n int) { p.sent += int64(n) }

// closedQueue is how many seconds of commits the closed loop keeps
// waiting (accepted, not committed yet): enough to fill the blocks the
// network pipelines, little enough that latency is not all queueing.
const closedQueue = 2.0

// rateCap is the closed loop's bound on accepted transactions not yet
// committed: closedQueue seconds of the recent commit rate, and never
// less than floor, so that a network warming up is not starved.
func rateCap(recentPerSecond float64, floor int64) int64 {
	return max(floor, int64(closedQueue*recentPerSecond))
}

// smooth is an exponentially weighted moving average step: half the old
// value, half the new one (the first value as it is).
func smooth(old, v float64, first bool) float64 {
	if first {
		return v
	}
	return (old + v) / 2
}
