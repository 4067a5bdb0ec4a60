//go:build linux

package faults

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"
)

// scenario is one row of the suite: a name, a description of its faults,
// the Byzantine validators it runs, and what it does to the network.
type scenario struct {
	name      string
	faults    string
	behaviors map[int]string
	run       func(e *env)
}

// TestFaults runs every scenario on a fresh network of four validators,
// each on its own host, under a steady workload of bank transfers, checks
// each one, and prints the table of results.
func TestFaults(t *testing.T) {
	needBinary(t)
	if err := labPossible(); err != nil {
		skipNoLab(t, err)
	}
	began := time.Now()
	var mu sync.Mutex
	var results []*result
	scenarios := append(crashScenarios(), byzantineScenarios()...)
	if os.Getenv("STRATEGOS_SOAK_FAULTS") == "1" {
		scenarios = append(scenarios, soakScenarios()...)
	}
	// Two scenarios at a time, whatever -parallel says: eight node
	// processes and the switch are what a 2-core machine runs well.
	slots := make(chan struct{}, parallelScenarios())
	t.Run("group", func(t *testing.T) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				t.Parallel()
				slots <- struct{}{}
				defer func() { <-slots }()
				r := &result{scenario: sc.name, faults: sc.faults}
				start := time.Now()
				e := newEnv(t, r, sc.behaviors)
				sc.run(e)
				e.finish()
				r.took = time.Since(start)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			})
		}
	})
	if len(results) == 0 {
		return // skipped (the subtests said why) or filtered out
	}
	table := formatTable(scenarios, results, time.Since(began))
	t.Log("\n" + table)
	if testing.Verbose() {
		fmt.Print(table)
	}
}

// parallelScenarios is 2, or STRATEGOS_FAULTS_PARALLEL.
func parallelScenarios() int {
	if n, err := strconv.Atoi(os.Getenv("STRATEGOS_FAULTS_PARALLEL")); err == nil && n > 0 {
		return n
	}
	return 2
}

func formatTable(order []scenario, results []*result, took time.Duration) string {
	by := map[string]*result{}
	for _, r := range results {
		by[r.scenario] = r
	}
	var b strings.Builder
	fmt.Fprintf(&b, "fault-injection suite: %d scenarios in %v (4 validators, one host each; link shaping by %s)\n",
		len(results), took.Round(time.Second), shaperName())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfaults\ttxs committed\tblocks\trecovery\tviolations\ttime")
	total := 0
	for _, sc := range order {
		r := by[sc.name]
		if r == nil {
			fmt.Fprintf(tw, "%s\t%s\tNOT RUN (skipped, filtered out, or failed before its checks)\t\t\t\t\n", sc.name, sc.faults)
			continue
		}
		rec := "-"
		if r.recovery > 0 {
			rec = r.recovery.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%v\n", r.scenario, r.faults, r.committed, r.blocks, rec, len(r.violations), r.took.Round(time.Second))
		total += len(r.violations)
	}
	tw.Flush()
	fmt.Fprintf(&b, "violations in all: %d\n", total)
	for _, sc := range order {
		if r := by[sc.name]; r != nil {
			for _, v := range r.violations {
				fmt.Fprintf(&b, "  %s: VIOLATION: %s\n", r.scenario, v)
			}
		}
	}
	return b.String()
}

var shaperOnce struct {
	sync.Mutex
	name string
}

func shaperName() string {
	shaperOnce.Lock()
	defer shaperOnce.Unlock()
	if shaperOnce.name == "" {
		return "?"
	}
	return shaperOnce.name
}

func setShaperName(s string) {
	shaperOnce.Lock()
	shaperOnce.name = s
	shaperOnce.Unlock()
}

// crashScenarios are the network and process faults: each keeps at most
// one validator faulty at a time, except the split, which must stop the
// chain without forking it.
func crashScenarios() []scenario {
	return []scenario{
		{
			name:   "isolate-rejoin",
			faults: "node 1 cut off 8 s (link down), rejoined",
			run: func(e *env) {
				e.hold(3 * time.Second)
				others := []int{0, 2, 3}
				m := e.mark(others)
				e.c.isolate(1)
				e.hold(8 * time.Second)
				e.progressed(m, others, "while node 1 was isolated")
				e.c.rejoin(1)
				e.recovered(e.c.all(), "node 1 rejoined")
				e.hold(3 * time.Second)
			},
		},
		{
			name:   "split-2-2",
			faults: "{0,1} | {2,3} for 6 s, healed",
			run: func(e *env) {
				e.hold(3 * time.Second)
				e.lab.partition([]int{0, 1}, []int{2, 3})
				time.Sleep(time.Second) // messages already on the wire land
				before, err := e.c.heights(e.c.all())
				if err != nil {
					e.t.Fatal(err)
				}
				e.hold(6 * time.Second)
				after, err := e.c.heights(e.c.all())
				if err != nil {
					e.t.Fatal(err)
				}
				e.t.Logf("during the split, heights went from %v to %v", before, after)
				for i := range before {
					if after[i] != before[i] {
						e.r.violate("node %d committed heights %d..%d while no side of the 2/2 split had a quorum", i, before[i]+1, after[i])
					}
				}
				e.lab.heal()
				e.recovered(e.c.all(), "the split healed")
				e.hold(3 * time.Second)
			},
		},
		{
			name:   "latency-loss",
			faults: "50±10 ms and 1% loss on every link 8 s; then node 3 at 300 ms 6 s",
			run: func(e *env) {
				e.hold(2 * time.Second)
				all := e.c.all()
				for _, i := range all {
					e.shape(i, 50*time.Millisecond, 10*time.Millisecond, 1)
				}
				m := e.mark(all)
				e.hold(8 * time.Second)
				e.progressed(m, all, "with 50±10 ms and 1% loss on every link")
				e.shape(3, 300*time.Millisecond, 10*time.Millisecond, 1)
				m = e.mark(all)
				e.hold(6 * time.Second)
				e.progressed(m, all, "with node 3's links at 300 ms")
				e.unshape()
				e.recovered(all, "the links were restored")
				e.hold(2 * time.Second)
			},
		},
		{
			name:   "kill-restart",
			faults: "SIGKILL node 2, 2 s down, restart; 3 times",
			run: func(e *env) {
				e.hold(2 * time.Second)
				others := []int{0, 1, 3}
				for range 3 {
					m := e.mark(others)
					e.c.kill(2)
					e.hold(2 * time.Second)
					e.progressed(m, others, "while node 2 was down")
					e.c.start(2)
					e.hold(2 * time.Second)
				}
				e.recovered(e.c.all(), "the last restart")
				e.hold(2 * time.Second)
			},
		},
		{
			name:   "pause-leader",
			faults: "SIGSTOP the current leader 3 s, SIGCONT; 3 times",
			run: func(e *env) {
				e.hold(2 * time.Second)
				for range 3 {
					live := e.c.reachable()
					s, err := e.c.status(live[0])
					if err != nil {
						e.t.Fatal(err)
					}
					leader := int(s.Leader)
					var others []int
					for _, i := range e.c.all() {
						if i != leader {
							others = append(others, i)
						}
					}
					m := e.mark(others)
					e.c.pause(leader)
					e.t.Logf("paused node %d, the leader of round %d", leader, s.Round)
					e.hold(3 * time.Second)
					e.progressed(m, others, fmt.Sprintf("while the leader (node %d) was paused", leader))
					e.c.resume(leader)
					e.recovered(e.c.all(), fmt.Sprintf("node %d resumed", leader))
					e.hold(time.Second)
				}
			},
		},
	}
}

// soakScenarios are further faults, run only in a soak: one-way links,
// flapping links, hunting the leader, and losing a quorum of processes.
func soakScenarios() []scenario {
	return []scenario{
		{
			name:   "deaf-node",
			faults: "node 0 hears nobody, everyone hears node 0, 10 s",
			run: func(e *env) {
				e.hold(2 * time.Second)
				host := len(e.c.nodes) // the test's port: it still reaches node 0
				e.lab.sw.update(func(src, dst int, p *policy) { p.cut = dst == 0 && src != host })
				others := []int{1, 2, 3}
				m := e.mark(others)
				e.hold(10 * time.Second)
				e.progressed(m, others, "while node 0 was deaf")
				e.lab.heal()
				e.recovered(e.c.all(), "node 0 hears again")
				e.hold(2 * time.Second)
			},
		},
		{
			name:   "flapping-link",
			faults: "node 1's link down 150 ms, up 150 ms, for a while",
			run: func(e *env) {
				e.hold(2 * time.Second)
				others := []int{0, 2, 3}
				m := e.mark(others)
				end := time.Now().Add(time.Duration(float64(9*time.Second) * e.soak))
				for time.Now().Before(end) {
					e.c.isolate(1)
					time.Sleep(150 * time.Millisecond)
					e.c.rejoin(1)
					time.Sleep(150 * time.Millisecond)
				}
				e.progressed(m, others, "while node 1's link flapped")
				e.recovered(e.c.all(), "the link settled")
				e.hold(2 * time.Second)
			},
		},
		{
			name:   "leader-hunt",
			faults: "isolate the current leader for 0.8 s, again and again",
			run: func(e *env) {
				e.hold(2 * time.Second)
				all := e.c.all()
				m := e.mark(all)
				end := time.Now().Add(time.Duration(float64(15*time.Second) * e.soak))
				for time.Now().Before(end) {
					s, err := e.c.status(e.c.reachable()[0])
					if err != nil {
						e.t.Fatal(err)
					}
					e.c.isolate(int(s.Leader))
					time.Sleep(800 * time.Millisecond)
					e.c.rejoin(int(s.Leader))
					time.Sleep(200 * time.Millisecond)
				}
				e.progressed(m, all, "while the leader was hunted")
				e.recovered(all, "the hunt")
				e.hold(2 * time.Second)
			},
		},
		{
			name:   "two-down",
			faults: "SIGKILL nodes 0 and 1 (no quorum) 5 s, restart both",
			run: func(e *env) {
				e.hold(2 * time.Second)
				e.mark(e.c.all())
				e.c.kill(0)
				e.c.kill(1)
				time.Sleep(time.Second)
				before := e.c.maxHeight([]int{2, 3})
				e.hold(5 * time.Second)
				if after := e.c.maxHeight([]int{2, 3}); after != before {
					e.r.violate("nodes 2 and 3 committed heights %d..%d without a quorum", before+1, after)
				}
				e.c.start(0)
				e.c.start(1)
				e.recovered(e.c.all(), "both restarted")
				e.hold(2 * time.Second)
			},
		},
		{
			name:   "full-restart",
			faults: "SIGKILL every node at once, restart all; twice",
			run: func(e *env) {
				e.hold(2 * time.Second)
				for range 2 {
					e.mark(e.c.all())
					for _, i := range e.c.all() {
						e.c.kill(i)
					}
					time.Sleep(time.Second)
					for _, i := range e.c.all() {
						e.c.start(i)
					}
					e.recovered(e.c.all(), "the full restart")
					e.hold(3 * time.Second)
				}
			},
		},
	}
}

// shape and unshape set link faults, failing the test if the lab cannot.
func (e *env) shape(i int, delay, jitter time.Duration, lossPct float64) {
	if err := e.lab.shape(i, delay, jitter, lossPct); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) unshape() {
	if err := e.lab.unshape(); err != nil {
		e.t.Fatal(err)
	}
}

// companion is a fault run together with a Byzantine validator (node 3);
// none takes an honest validator away, so f = 1 still holds.
type companion struct {
	name string
	run  func(e *env, byz int, d time.Duration)
}

var companions = map[string]companion{
	"latency": {"50±10 ms, 1% loss on every link", func(e *env, _ int, d time.Duration) {
		for _, i := range e.c.all() {
			e.shape(i, 50*time.Millisecond, 10*time.Millisecond, 1)
		}
		e.hold(d)
		e.unshape()
	}},
	"kill-restart": {"SIGKILL and restart the Byzantine node twice", func(e *env, byz int, d time.Duration) {
		for range 2 {
			e.c.kill(byz)
			e.hold(d / 4)
			e.c.start(byz)
			e.hold(d / 4)
		}
	}},
	"isolate": {"cut the Byzantine node off, then rejoin it", func(e *env, byz int, d time.Duration) {
		e.c.isolate(byz)
		e.hold(d / 2)
		e.c.rejoin(byz)
		e.hold(d / 2)
	}},
}

// byzantineScenarios run node 3 with each behaviour of the contract,
// each with one companion fault; a soak runs every pairing.
func byzantineScenarios() []scenario {
	pairs := [][2]string{
		{"silent", "latency"},
		{"equivocate", "latency"},
		{"bad-signature", "isolate"},
		{"forge-qc", "latency"},
		{"withhold", "latency"},
		{"delay", "latency"},
		{"replay", "kill-restart"},
		{"flood", "latency"},
	}
	if os.Getenv("STRATEGOS_SOAK_FAULTS") == "1" {
		pairs = pairs[:0]
		for _, b := range []string{"silent", "equivocate", "bad-signature", "forge-qc", "withhold", "delay", "replay", "flood"} {
			for _, c := range []string{"latency", "kill-restart", "isolate"} {
				pairs = append(pairs, [2]string{b, c})
			}
		}
	}
	const byz = 3
	var out []scenario
	for _, p := range pairs {
		behavior, comp := p[0], companions[p[1]]
		out = append(out, scenario{
			name:      "byzantine-" + behavior + "+" + p[1],
			faults:    fmt.Sprintf("node %d --behavior %s; %s", byz, behavior, comp.name),
			behaviors: map[int]string{byz: behavior},
			run: func(e *env) {
				if behavior == "equivocate" {
					e.equivocator = byz
				}
				e.hold(2 * time.Second)
				m := e.mark(e.honest)
				comp.run(e, byz, 8*time.Second)
				e.progressed(m, e.honest, fmt.Sprintf("with node %d %s and %s", byz, behavior, p[1]))
				e.recovered(e.honest, "the companion fault ended")
				e.hold(time.Second)
			},
		})
	}
	return out
}
