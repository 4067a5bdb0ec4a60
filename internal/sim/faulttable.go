package sim

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/consensus/quorum"
)

// The fault table: throughput of calm duration-mode runs, healthy and
// under each fault, for docs/consensus.md (go run ./internal/sim/faulttable).

// TableConfig describes the fault table. Times are virtual milliseconds.
type TableConfig struct {
	Sizes      []int    // validator counts
	Behaviours []string // Byzantine behaviours, each run with f = (n-1)/3 traitors
	Seeds      []uint64 // every scenario runs once per seed; cells are means
	Duration   int64    // of each run
	Warmup     int64    // excluded from rates
	CrashAt    int64    // crash scenarios: honest validator 0 goes down
	RestartAt  int64    // and, in the restart scenario, comes back
	FlapFrom   int64    // flap scenario: validator 0 down, then up, ...
	FlapPeriod int64    // ... for half of every period each
	Window     int64    // sliding window of the recovery measure
	Threshold  float64  // recovered: window rate ≥ Threshold × pre-fault rate
}

// DefaultTable is the table in docs/consensus.md.
func DefaultTable() TableConfig {
	var behaviours []string
	for _, b := range byzantine.Names() {
		if b != byzantine.Honest {
			behaviours = append(behaviours, b)
		}
	}
	return TableConfig{
		Sizes:      []int{4, 7, 10},
		Behaviours: behaviours,
		Seeds:      []uint64{1, 2, 3},
		Duration:   20_000,
		Warmup:     2_000,
		CrashAt:    6_000,
		RestartAt:  13_000,
		FlapFrom:   2_000,
		FlapPeriod: 4_000,
		Window:     1_000,
		Threshold:  0.8,
	}
}

type scenarioKind uint8

const (
	kindHealthy scenarioKind = iota
	kindByzantine
	kindCrash
	kindRestart
	kindFlap
)

// scenario is one row of the table before it runs.
type scenario struct {
	kind   scenarioKind
	name   string
	faulty []int
	cfg    Config // without Seed
}

// crashNode is the honest validator the crash, restart and flap
// scenarios take down.
const crashNode = 0

func (tc TableConfig) scenarios(n int) []scenario {
	base := Config{Nodes: n, Calm: true, Duration: tc.Duration}
	f := quorum.MaxFaulty(n)
	out := []scenario{{kind: kindHealthy, name: "healthy", cfg: base}}
	if f == 0 {
		return out // nothing may fail without losing liveness
	}
	for _, b := range tc.Behaviours {
		c := base
		c.Byzantine, c.Behavior = f, b
		var faulty []int
		for i := n - f; i < n; i++ {
			faulty = append(faulty, i)
		}
		out = append(out, scenario{kind: kindByzantine, name: fmt.Sprintf("%s ×%d", b, f), faulty: faulty, cfg: c})
	}
	c := base
	c.Outage = &Outage{Node: crashNode, From: tc.CrashAt, To: tc.Duration + 1}
	out = append(out, scenario{kind: kindCrash, name: "crash at " + secs(tc.CrashAt), faulty: []int{crashNode}, cfg: c})
	c = base
	c.Outage = &Outage{Node: crashNode, From: tc.CrashAt, To: tc.RestartAt}
	out = append(out, scenario{kind: kindRestart, name: "crash at " + secs(tc.CrashAt) + ", restart at " + secs(tc.RestartAt), faulty: []int{crashNode}, cfg: c})
	c = base
	c.Flap = &Flap{Node: crashNode, From: tc.FlapFrom, Period: tc.FlapPeriod}
	out = append(out, scenario{kind: kindFlap, name: fmt.Sprintf("flap (%s down, %s up)", secs(tc.FlapPeriod/2), secs(tc.FlapPeriod-tc.FlapPeriod/2)), faulty: []int{crashNode}, cfg: c})
	return out
}

// Measure is a time that some runs of a scenario reached and others may not.
type Measure struct {
	Reached, Runs int
	Mean          float64 // virtual ms, over the runs that reached it
}

func (m *Measure) add(d int64, ok bool) {
	m.Runs++
	if ok {
		m.Mean = (m.Mean*float64(m.Reached) + float64(d)) / float64(m.Reached+1)
		m.Reached++
	}
}

// Row is one scenario of the fault table, averaged over the seeds.
type Row struct {
	Nodes    int
	Scenario string
	Faulty   []int     // validators that are traitors, crash or flap
	Rate     float64   // committed blocks per virtual second after warm-up
	Ratio    float64   // Rate / the healthy Rate at the same n
	Recovery *Measure  // crash scenarios: from the crash until the rate is back
	Down     float64   // crash scenarios: blocks per second while it is down
	Restart  *Measure  // restart scenario: from the restart until the rate is back
	Leads    *Measure  // restart scenario: from the restart until it proposes a block that commits
	Proposed []float64 // per validator: committed blocks it proposed
}

// FaultTable runs every scenario of tc on all CPUs. The rows depend only
// on tc. A safety violation or a stall in any run is an error.
func FaultTable(tc TableConfig) ([]Row, error) {
	if tc.Duration <= tc.Warmup || len(tc.Seeds) == 0 || tc.Window <= 0 ||
		tc.CrashAt <= tc.Warmup || tc.RestartAt <= tc.CrashAt || tc.Duration <= tc.RestartAt {
		return nil, errors.New("sim: fault table needs warm-up < crash < restart < duration, a window and seeds")
	}
	var scens []scenario
	for _, n := range tc.Sizes {
		scens = append(scens, tc.scenarios(n)...)
	}
	type job struct{ s, k int }
	results := make([][]Result, len(scens))
	errs := make([][]error, len(scens))
	var jobs []job
	for s := range scens {
		results[s] = make([]Result, len(tc.Seeds))
		errs[s] = make([]error, len(tc.Seeds))
		for k := range tc.Seeds {
			jobs = append(jobs, job{s, k})
		}
	}
	next := make(chan job)
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(jobs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				c := scens[j.s].cfg
				c.Seed = tc.Seeds[j.k]
				results[j.s][j.k], errs[j.s][j.k] = Run(c)
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()

	rows := make([]Row, len(scens))
	healthy := 0.0
	for s, sc := range scens {
		row := Row{Nodes: sc.cfg.Nodes, Scenario: sc.name, Faulty: sc.faulty, Proposed: make([]float64, sc.cfg.Nodes)}
		switch sc.kind {
		case kindCrash:
			row.Recovery = &Measure{}
		case kindRestart:
			row.Recovery, row.Restart, row.Leads = &Measure{}, &Measure{}, &Measure{}
		}
		for k, res := range results[s] {
			if err := errs[s][k]; err != nil {
				return nil, fmt.Errorf("n=%d %s seed %d: %w", row.Nodes, sc.name, tc.Seeds[k], err)
			}
			if res.Violation != "" {
				return nil, fmt.Errorf("n=%d %s seed %d: safety violation: %s", row.Nodes, sc.name, tc.Seeds[k], res.Violation)
			}
			if res.Stalled {
				return nil, fmt.Errorf("n=%d %s seed %d: stalled (no commit for %d virtual ms)", row.Nodes, sc.name, tc.Seeds[k], livenessGap)
			}
			tc.measure(&row, res.Trace)
		}
		m := float64(len(tc.Seeds))
		row.Rate /= m
		row.Down /= m
		for i := range row.Proposed {
			row.Proposed[i] /= m
		}
		if sc.kind == kindHealthy {
			healthy = row.Rate
		}
		if healthy > 0 {
			row.Ratio = row.Rate / healthy
		}
		rows[s] = row
	}
	return rows, nil
}

// measure adds one run's trace to row (sums; FaultTable divides).
func (tc TableConfig) measure(row *Row, t *Trace) {
	times := t.Times()
	row.Rate += Rate(times, tc.Warmup, tc.Duration)
	for i, p := range t.Proposed {
		row.Proposed[i] += float64(p)
	}
	if row.Recovery == nil {
		return
	}
	target := tc.Threshold * Rate(times, tc.Warmup, tc.CrashAt)
	end := tc.Duration
	if row.Restart != nil {
		end = tc.RestartAt
	}
	row.Down += Rate(times, tc.CrashAt, end)
	row.Recovery.add(Recovery(times, tc.CrashAt, end, tc.Window, target))
	if row.Restart == nil {
		return
	}
	row.Restart.add(Recovery(times, tc.RestartAt, tc.Duration, tc.Window, target))
	var d int64
	ok := false
	for _, c := range t.Commits {
		if int(c.Proposer) == crashNode && c.ProposedAt >= tc.RestartAt {
			d, ok = c.ProposedAt-tc.RestartAt, true
			break
		}
	}
	row.Leads.add(d, ok)
}

// Markdown renders rows as the table of docs/consensus.md, with a line
// stating the parameters above it.
func (tc TableConfig) Markdown(rows []Row) string {
	var b strings.Builder
	seeds := make([]string, len(tc.Seeds))
	for i, s := range tc.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	fmt.Fprintf(&b, "Calm network, %s of virtual time per run, rates after a %s warm-up, mean of seeds %s; "+
		"recovered = a %s window at ≥ %.0f%% of the pre-crash rate.\n\n",
		secs(tc.Duration), secs(tc.Warmup), strings.Join(seeds, ", "), secs(tc.Window), tc.Threshold*100)
	b.WriteString("| n | scenario | faulty | blocks/s | vs healthy | recovery after crash | after restart: recovery; leads again | committed blocks proposed, v0/v1/… ([faulty]) |\n")
	b.WriteString("| ---: | --- | --- | ---: | ---: | --- | --- | --- |\n")
	for _, r := range rows {
		faulty := "—"
		if len(r.Faulty) > 0 {
			names := make([]string, len(r.Faulty))
			for i, v := range r.Faulty {
				names[i] = fmt.Sprintf("v%d", v)
			}
			faulty = strings.Join(names, ", ")
		}
		after := "—"
		if r.Restart != nil {
			after = r.Restart.cell() + "; " + r.Leads.cell()
		}
		recovery := "—"
		if r.Recovery != nil {
			recovery = fmt.Sprintf("%s (%.1f blocks/s while down)", r.Recovery.cell(), r.Down)
		}
		isFaulty := make(map[int]bool)
		for _, v := range r.Faulty {
			isFaulty[v] = true
		}
		props := make([]string, len(r.Proposed))
		for i, p := range r.Proposed {
			props[i] = fmt.Sprintf("%.0f", p)
			if isFaulty[i] {
				props[i] = "[" + props[i] + "]"
			}
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %.1f | %.2f | %s | %s | %s |\n",
			r.Nodes, r.Scenario, faulty, r.Rate, r.Ratio, recovery, after, strings.Join(props, "/"))
	}
	return b.String()
}

func (m *Measure) cell() string {
	switch {
	case m.Reached == 0:
		return "never"
	case m.Reached == m.Runs:
		return secs3(m.Mean)
	}
	return fmt.Sprintf("%s (%d of %d runs; never in the others)", secs3(m.Mean), m.Reached, m.Runs)
}

func secs(ms int64) string {
	if ms%1000 == 0 {
		return fmt.Sprintf("%d s", ms/1000)
	}
	return fmt.Sprintf("%.1f s", float64(ms)/1000)
}

func secs3(ms float64) string { return fmt.Sprintf("%.2f s", ms/1000) }

// Table markers in a Markdown document.
const (
	TableBegin = "<!-- fault-table:begin -->"
	TableEnd   = "<!-- fault-table:end -->"
)

// SpliceTable replaces what lies between the markers in doc with table.
func SpliceTable(doc, table string) (string, error) {
	i := strings.Index(doc, TableBegin)
	j := strings.Index(doc, TableEnd)
	if i < 0 || j < i || strings.Count(doc, TableBegin) != 1 || strings.Count(doc, TableEnd) != 1 {
		return "", fmt.Errorf("sim: want one %s and one %s after it", TableBegin, TableEnd)
	}
	i += len(TableBegin)
	return doc[:i] + "\n" + strings.TrimRight(table, "\n") + "\n" + doc[j:], nil
}
