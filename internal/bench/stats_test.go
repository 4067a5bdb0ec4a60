package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(s, tc.p); got != tc.want {
			t.Errorf("p%g of 1..100 ms = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
	one := []time.Duration{7}
	for _, p := range []float64{1, 50, 99} {
		if got := percentile(one, p); got != 7 {
			t.Errorf("p%g of one sample = %v", p, got)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := []time.Duration{40 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond, 20 * time.Millisecond}
	l := summarize(s)
	want := Latency{P50: 20, P95: 40, P99: 40, Max: 40, Mean: 25}
	if l != want {
		t.Errorf("summarize = %+v, want %+v", l, want)
	}
	if l := summarize(nil); l != (Latency{}) {
		t.Errorf("summarize(nil) = %+v, want zeros", l)
	}
	// Percentiles never decrease.
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		var s []time.Duration
		for range 1 + r.IntN(500) {
			s = append(s, time.Duration(r.Int64N(int64(5*time.Second))))
		}
		l := summarize(s)
		if !(l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
			t.Fatalf("percentiles out of order: %+v", l)
		}
	}
}

func TestHistogram(t *testing.T) {
	// Buckets cover every value, in order, and each bucket's middle lies
	// within 2% (one microsecond below 64 µs) of what it holds.
	prev := -1
	for v := time.Duration(0); v < 100*time.Second; v = v*21/20 + time.Microsecond {
		b := histBucket(v)
		if b < prev {
			t.Fatalf("bucket of %v = %d, before %d", v, b, prev)
		}
		prev = b
		mid := histValue(b)
		if diff := (mid - v).Abs(); diff > time.Microsecond && float64(diff) > 0.02*float64(v) {
			t.Fatalf("value %v in bucket %d shown as %v", v, b, mid)
		}
	}
	var h hist
	if h.percentile(50) != 0 {
		t.Error("empty histogram has a median")
	}
	var exact []time.Duration
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		d := time.Duration(r.ExpFloat64() * float64(30*time.Millisecond))
		h.add(d)
		exact = append(exact, d)
	}
	l := summarize(exact)
	for _, c := range []struct {
		p    float64
		want float64
	}{{50, l.P50}, {95, l.P95}, {99, l.P99}} {
		got := ms(h.percentile(c.p))
		if got < c.want*0.97-0.002 || got > c.want*1.03+0.002 {
			t.Errorf("histogram p%g = %.3f ms, exact %.3f ms", c.p, got, c.want)
		}
	}
}

func TestPacer(t *testing.T) {
	// An injected clock: run time in the calls, nothing else.
	p := pacer{rate: 1000, start: time.Second}
	if d := p.due(500 * time.Millisecond); d != 0 {
		t.Errorf("due before the start = %d", d)
	}
	if d := p.due(time.Second + 10*time.Millisecond); d != 10 {
		t.Errorf("due after 10 ms at 1000/s = %d, want 10", d)
	}
	p.took(10)
	if d := p.due(time.Second + 10*time.Millisecond); d != 0 {
		t.Errorf("due again at the same time = %d, want 0", d)
	}
	if d := p.due(time.Second + 25*time.Millisecond); d != 15 {
		t.Errorf("due at 25 ms = %d, want 15", d)
	}
	// A late sender owes the backlog: open loop does not forget it.
	if d := p.due(time.Second + 510*time.Millisecond); d != 500 {
		t.Errorf("due at 510 ms = %d, want 500", d)
	}
	// Sending more than owed (a batch rounded up) is paid back later.
	p.took(520)
	if d := p.due(time.Second + 520*time.Millisecond); d != 0 {
		t.Errorf("due after overpaying = %d, want 0", d)
	}
	if d := p.due(time.Second + 540*time.Millisecond); d != 10 {
		t.Errorf("due at 540 ms = %d, want 10", d)
	}
	// Fractional rates: 12.5/s owes one every 80 ms.
	q := pacer{rate: 12.5}
	sent := 0
	for now := time.Duration(0); now <= 2*time.Second; now += 10 * time.Millisecond {
		n := int(q.due(now))
		q.took(n)
		sent += n
	}
	if sent != 25 {
		t.Errorf("12.5/s over 2 s sent %d, want 25", sent)
	}
	if d := (&pacer{rate: 0}).due(time.Hour); d != 0 {
		t.Errorf("rate 0 owes %d", d)
	}
}

func TestRateCap(t *testing.T) {
	if c := rateCap(0, 5000); c != 5000 {
		t.Errorf("cap with no commits = %d, want the floor", c)
	}
	if c := rateCap(20_000, 5000); c != int64(closedQueue*20_000) {
		t.Errorf("cap at 20000/s = %d", c)
	}
	if v := smooth(0, 10, true); v != 10 {
		t.Errorf("first smoothed value = %v", v)
	}
	if v := smooth(10, 20, false); v != 15 {
		t.Errorf("smoothed = %v", v)
	}
}

func TestWindow(t *testing.T) {
	w := window{start: time.Second, end: 3 * time.Second}
	for _, c := range []struct {
		t  time.Duration
		in bool
	}{{999 * time.Millisecond, false}, {time.Second, true}, {2 * time.Second, true}, {3 * time.Second, false}} {
		if w.contains(c.t) != c.in {
			t.Errorf("window [1s,3s) contains %v = %v", c.t, !c.in)
		}
	}
	if w.seconds() != 2 {
		t.Errorf("seconds = %v", w.seconds())
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses, then fields 3.. : utime
	// 250 and stime 50 ticks.
	stat := "4242 (str (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 123 456 789"
	d, err := parseStatCPU(stat)
	if err != nil || d != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 x y"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}
