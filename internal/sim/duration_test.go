package sim

import (
	"reflect"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/consensus"
)

// A healthy calm run of fixed duration commits at a positive rate; its
// timeline is monotonic, within the run, one entry per height of the
// honest chain, and agrees with the heights the validators committed.
func TestDurationModeCountsBlocks(t *testing.T) {
	r, err := Run(Config{Nodes: 4, Calm: true, Duration: 3000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed() || r.Trace == nil {
		t.Fatalf("healthy duration run: %+v", r)
	}
	times := r.Trace.Times()
	if len(times) < 30 {
		t.Fatalf("%d heights in 3 virtual s on a calm network", len(times))
	}
	for i, c := range r.Trace.Commits {
		if c.Height != uint64(i+1) {
			t.Fatalf("entry %d is height %d", i, c.Height)
		}
		if i > 0 && c.At < times[i-1] {
			t.Fatalf("height %d committed at %d, before height %d at %d", c.Height, c.At, i, times[i-1])
		}
		if c.At > 3000 || c.ProposedAt > c.At {
			t.Fatalf("height %d: proposed at %d, committed at %d, run of 3000", c.Height, c.ProposedAt, c.At)
		}
	}
	// Every honest validator commits a prefix of the timeline, and the
	// slowest lags the chain by at most a couple of heights.
	if r.MinHeight > uint64(len(times)) || r.MinHeight+3 < uint64(len(times)) {
		t.Fatalf("slowest validator at height %d, chain at %d", r.MinHeight, len(times))
	}
	total := 0
	for v, p := range r.Trace.Proposed {
		if p == 0 {
			t.Errorf("validator %d proposed no committed block in a healthy round-robin run", v)
		}
		total += p
	}
	if total != len(times) {
		t.Fatalf("proposer counts sum to %d, timeline has %d", total, len(times))
	}
	rate := Rate(times, 1000, 3000)
	if rate <= 0 || rate != float64(countIn(times, 1000, 3000))/2 {
		t.Fatalf("rate %v over 2 s", rate)
	}
	// The same run, longer, has a longer timeline with the same start.
	r2, err := Run(Config{Nodes: 4, Calm: true, Duration: 4000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r2.Trace.Commits); n <= len(times) || !reflect.DeepEqual(r2.Trace.Commits[:len(times)], r.Trace.Commits) {
		t.Fatalf("4 s run: %d heights, does not extend the 3 s run's %d", n, len(times))
	}
}

// Safety checkers still fire in duration mode: with the voting rule off,
// an equivocating leader makes honest validators vote twice.
func TestDurationModeSafetyTeeth(t *testing.T) {
	found := false
	for seed := uint64(1); seed <= 20 && !found; seed++ {
		r, err := Run(Config{Nodes: 4, Byzantine: 1, Behavior: "equivocate", Calm: true, Duration: 3000, Seed: seed,
			Unsafe: consensus.UnsafeRules{SkipVoteRoundCheck: true}})
		if err != nil {
			t.Fatal(err)
		}
		found = r.Violation != ""
		if found && (r.Time >= 3000 || !r.Failed()) {
			t.Fatalf("violation %q did not stop the run (time %d) or fail it", r.Violation, r.Time)
		}
	}
	if !found {
		t.Fatal("no violation in 20 duration-mode seeds with the voting rule off")
	}
}

// Liveness in duration mode: a stall is reported when the chain stops
// within the promise (here a crash that never ends plus f silent
// validators is beyond it, so it must not be), and not otherwise.
func TestDurationModeStall(t *testing.T) {
	r, err := Run(Config{Nodes: 4, Byzantine: 2, Behavior: "silent", Calm: true, Duration: 8000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stalled || len(r.Trace.Commits) != 0 {
		t.Fatalf("2 silent of 4: stalled=%v, %d heights", r.Stalled, len(r.Trace.Commits))
	}
	// One silent traitor and a crash: 2 faulty of 4, nothing promised.
	r, err = Run(Config{Nodes: 4, Byzantine: 1, Behavior: "silent", Calm: true, Duration: 12000, Seed: 1,
		Outage: &Outage{Node: 0, From: 2000, To: 13000}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stalled {
		t.Fatal("beyond f faulty, duration mode called a stall")
	}
	// The stall rule itself, on a synthetic trace.
	run := &run{cfg: Config{Nodes: 4, Duration: 12000, GST: 1500}, res: Result{Trace: &Trace{}}}
	if !run.durationStalled() {
		t.Fatal("no commit in 12 s: not a stall")
	}
	run.res.Trace.Commits = []CommitPoint{{At: 2000}, {At: 6000}, {At: 10000}}
	if run.durationStalled() {
		t.Fatal("commits every 4 s: called a stall")
	}
	run.res.Trace.Commits = []CommitPoint{{At: 2000}, {At: 8000}, {At: 10000}}
	if !run.durationStalled() {
		t.Fatal("6 s without a commit: not a stall")
	}
}

// Rate and Recovery on a synthetic timeline: 10 blocks/s until a crash at
// 5 s, nothing for 2 s, 5 blocks/s for 2 s, then 10 blocks/s again.
func TestRecoveryTime(t *testing.T) {
	var times []int64
	for at := int64(0); at < 5000; at += 100 {
		times = append(times, at)
	}
	for at := int64(7000); at < 9000; at += 200 {
		times = append(times, at)
	}
	for at := int64(9000); at < 15000; at += 100 {
		times = append(times, at)
	}
	if r := Rate(times, 1000, 5000); r != 10 {
		t.Fatalf("pre-fault rate %v, want 10", r)
	}
	if r := Rate(times, 5000, 7000); r != 0 {
		t.Fatalf("rate while down %v, want 0", r)
	}
	if r := Rate(times, 7000, 9000); r != 5 {
		t.Fatalf("rate at half speed %v, want 5", r)
	}
	// 80% of 10/s in a 1 s window is 8 commits: [x, x+1000) holds at
	// most 5 while x+1000 ≤ 9000, 7 at x = 8500 (8600, 8800, 9000..9400),
	// and first 8 at x = 8510 (9500 joins). So recovery is 3.51 s.
	d, ok := Recovery(times, 5000, 15000, 1000, 8)
	if !ok || d != 3510 {
		t.Fatalf("recovery %d (%v), want 3510", d, ok)
	}
	// A fault that costs nothing recovers in 0; one that never ends, never.
	if d, ok := Recovery(times, 1000, 5000, 1000, 8); !ok || d != 0 {
		t.Fatalf("no slowdown: recovery %d (%v), want 0", d, ok)
	}
	if _, ok := Recovery(times, 5000, 9000, 1000, 8); ok {
		t.Fatal("recovered within the half-speed stretch")
	}
	// A window that would run past the end does not count.
	if _, ok := Recovery(times, 5000, 9500, 1000, 8); ok {
		t.Fatal("a window ending past the end counted")
	}
}

// The flap schedule alternates down and up halves of the period, from
// From, and the simulator applies it: the validator proposes no block
// while down.
func TestFlapSchedule(t *testing.T) {
	f := Flap{Node: 1, From: 1000, Period: 3000}
	got := f.Schedule(8000)
	want := []Outage{{Node: 1, From: 1000, To: 2500}, {Node: 1, From: 4000, To: 5500}, {Node: 1, From: 7000, To: 8500}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("schedule %+v, want %+v", got, want)
	}
	for _, c := range []struct {
		t    int64
		down bool
	}{{0, false}, {999, false}, {1000, true}, {2499, true}, {2500, false}, {3999, false}, {4000, true}, {7100, true}} {
		if f.Down(c.t) != c.down {
			t.Errorf("Down(%d) = %v", c.t, !c.down)
		}
	}
	r, err := Run(Config{Nodes: 4, Calm: true, Duration: 8000, Seed: 2, Flap: &f})
	if err != nil || r.Failed() {
		t.Fatalf("flap run: %+v, %v", r, err)
	}
	led := 0
	for _, c := range r.Trace.Commits {
		if c.Proposer == 1 {
			led++
			if f.Down(c.ProposedAt) {
				t.Fatalf("validator 1 proposed height %d at %d, while down", c.Height, c.ProposedAt)
			}
		}
	}
	if led == 0 || led != r.Trace.Proposed[1] {
		t.Fatalf("flapping validator led %d committed blocks (counted %d); it is up half the time", led, r.Trace.Proposed[1])
	}
	if _, err := Run(Config{Nodes: 4, Byzantine: 1, Behavior: "silent", Duration: 1000, Flap: &Flap{Node: 3, Period: 1000}}); err == nil {
		t.Fatal("a flapping traitor was accepted")
	}
	if _, err := Run(Config{Nodes: 4, Duration: 1000, Flap: &Flap{Node: 0, Period: 0}}); err == nil {
		t.Fatal("a flap with period 0 was accepted")
	}
}

// The table generator, on a tiny configuration, yields the expected rows
// in order, with sensible values, the same every time, and splices into
// a document between its markers.
func TestFaultTableTiny(t *testing.T) {
	tc := TableConfig{
		Sizes: []int{1, 4}, Behaviours: []string{"silent"}, Seeds: []uint64{1},
		// Long enough for a restarted validator to lead again: a failure
		// keeps it out for ten seconds of chain time (leader.Params).
		Duration: 16000, Warmup: 1000, CrashAt: 2500, RestartAt: 4000,
		FlapFrom: 1000, FlapPeriod: 2000, Window: 1000, Threshold: 0.8,
	}
	rows, err := FaultTable(tc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Scenario)
	}
	wantNames := []string{
		"healthy", // n=1: f=0, so nothing may fail
		"healthy", "silent ×1", "crash at 2.5 s", "crash at 2.5 s, restart at 4 s", "flap (1 s down, 1 s up)",
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("rows %q, want %q", names, wantNames)
	}
	h, silent, crash, restart := rows[1], rows[2], rows[3], rows[4]
	if h.Nodes != 4 || h.Rate <= 0 || h.Ratio != 1 || h.Recovery != nil {
		t.Fatalf("healthy row %+v", h)
	}
	if silent.Ratio <= 0 || silent.Ratio >= 1 || silent.Proposed[3] != 0 || !reflect.DeepEqual(silent.Faulty, []int{3}) {
		t.Fatalf("silent row %+v", silent)
	}
	if crash.Recovery == nil || crash.Recovery.Runs != 1 || crash.Restart != nil {
		t.Fatalf("crash row %+v", crash)
	}
	if restart.Restart == nil || restart.Leads == nil || restart.Leads.Reached != 1 || restart.Leads.Mean > 11000 {
		t.Fatalf("restart row: %+v, leads %+v", restart, restart.Leads)
	}
	md := tc.Markdown(rows)
	lines := strings.Split(strings.TrimSpace(md), "\n")
	if len(lines) != 2+2+len(rows) {
		t.Fatalf("%d lines:\n%s", len(lines), md)
	}
	for i, r := range rows {
		line := lines[4+i]
		if !strings.HasPrefix(line, "| "+itoa(uint64(r.Nodes))+" | "+r.Scenario+" |") {
			t.Errorf("line %q is not row %q", line, r.Scenario)
		}
	}
	if !strings.Contains(lines[5], "| 1.00 |") || !strings.Contains(lines[6], "/[0] |") || !strings.Contains(lines[7], "blocks/s while down") {
		t.Fatalf("unexpected cells:\n%s", md)
	}
	again, err := FaultTable(tc)
	if err != nil || tc.Markdown(again) != md {
		t.Fatalf("second run differs (%v)", err)
	}
	doc := "# T\n\n" + TableBegin + "\nold\n" + TableEnd + "\nafter\n"
	out, err := SpliceTable(doc, md)
	if err != nil || out != "# T\n\n"+TableBegin+"\n"+strings.TrimRight(md, "\n")+"\n"+TableEnd+"\nafter\n" {
		t.Fatalf("splice: %v\n%s", err, out)
	}
	if _, err := SpliceTable("no markers", md); err == nil {
		t.Fatal("spliced into a document without markers")
	}
}
