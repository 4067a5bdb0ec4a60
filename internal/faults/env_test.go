//go:build linux

package faults

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Workload and bounds of every scenario.
const (
	offeredRate   = 40               // transfers started per second, at most
	recoveryBound = 30 * time.Second // heal to progress on every honest node
	finishGrace   = 15 * time.Second // for transfers in flight when the workload stops
)

// env is one scenario's world: a lab of four hosts, a bank network on it,
// the workload, and the scenario's row of the table.
type env struct {
	t      *testing.T
	lab    *lab
	c      *cluster
	w      *workload
	r      *result
	honest []int
	soak   float64 // multiplier of every hold; 1 unless soaking
	// equivocator is the validator that must be proven to equivocate by
	// the end (-1: none).
	equivocator int
	// peak is the highest committed height the scenario has seen.
	peak uint64
}

// height returns the highest committed height among nodes that answer,
// and remembers the highest ever seen.
func (e *env) height(nodes []int) uint64 {
	e.peak = max(e.peak, e.c.maxHeight(nodes))
	return e.peak
}

// newEnv builds the world for r's scenario, with the given Byzantine
// validators, and starts the workload once the chain has begun.
func newEnv(t *testing.T, r *result, behaviors map[int]string) *env {
	t.Helper()
	began := time.Now()
	e := &env{t: t, r: r, soak: soakFactor(), equivocator: -1}
	e.lab = newLab(t, 4)
	e.c = newCluster(t, e.lab, behaviors)
	e.honest = e.c.honest()
	e.c.startAll()
	for i, b := range behaviors {
		s, err := e.c.status(i)
		if err != nil {
			t.Fatal(err)
		}
		if s.Behavior != b {
			r.violate("node %d runs --behavior %s but GET /v1/status says behavior %q", i, b, s.Behavior)
		}
	}
	if ok, detail := e.c.waitHeight(e.honest, 2, 20*time.Second); !ok {
		t.Fatalf("the network did not start committing: %s", detail)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("STRATEGOS_E2E_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("STRATEGOS_E2E_SEED=%q: %v", s, err)
		}
	}
	e.w = startWorkload(e.c, offeredRate, seed)
	t.Logf("network up in %v; workload seed %d (rerun with STRATEGOS_E2E_SEED=%d)",
		time.Since(began).Round(time.Millisecond), seed, seed)
	return e
}

// soakFactor is 1, or 8 with STRATEGOS_SOAK_FAULTS=1 (or the factor
// STRATEGOS_SOAK_FACTOR gives).
func soakFactor() float64 {
	if os.Getenv("STRATEGOS_SOAK_FAULTS") != "1" {
		return 1
	}
	if f, err := strconv.ParseFloat(os.Getenv("STRATEGOS_SOAK_FACTOR"), 64); err == nil && f > 0 {
		return f
	}
	return 8
}

// hold lets the scenario run for d (times the soak factor).
func (e *env) hold(d time.Duration) { time.Sleep(time.Duration(float64(d) * e.soak)) }

// mark is the state of the chain at a moment.
type mark struct {
	at time.Time
	h  uint64
}

func (e *env) mark(nodes []int) mark { return mark{at: time.Now(), h: e.height(nodes)} }

// progressed checks that, since m, the given nodes committed at least two
// blocks and the workload at least one transfer: with at most f faulty
// validators, honest ones keep committing.
func (e *env) progressed(m mark, nodes []int, during string) {
	h := e.height(nodes)
	txs := e.w.committedBetween(m.at, time.Now())
	e.t.Logf("%s: nodes %v went from height %d to %d, %d transfers committed, in %v",
		during, nodes, m.h, h, txs, time.Since(m.at).Round(time.Millisecond))
	if h < m.h+2 {
		e.r.violate("no progress %s: nodes %v went from height %d to %d in %v", during, nodes, m.h, h, time.Since(m.at).Round(time.Millisecond))
	} else if txs == 0 {
		e.r.violate("no transfer committed %s (%v), though blocks did (%d to %d)", during, time.Since(m.at).Round(time.Millisecond), m.h, h)
	}
}

// recovered waits, after a fault is healed, until every given node has
// committed two blocks past the highest height seen so far (by any node,
// at the heal or before), and records how long that took.
func (e *env) recovered(nodes []int, after string) {
	start := time.Now()
	target := e.height(nodes) + 2
	ok, detail := e.c.waitHeight(nodes, target, recoveryBound)
	took := time.Since(start)
	e.r.recovery = max(e.r.recovery, took)
	if !ok {
		e.r.violate("progress did not resume within %v after %s: %s", recoveryBound, after, detail)
		return
	}
	e.t.Logf("after %s, nodes %v reached height %d in %v", after, nodes, target, took.Round(time.Millisecond))
}

// finish stops the workload, runs the checker, and reports the result.
func (e *env) finish() {
	e.w.stop(finishGrace)
	k := &checker{c: e.c, w: e.w, r: e.r, honest: e.honest, proven: e.equivocator}
	k.run()
	e.w.mu.Lock()
	for n, p := range e.w.problems {
		if n == 5 {
			e.r.violate("... %d workload problems in all", len(e.w.problems))
			break
		}
		e.r.violate("%s", p)
	}
	e.w.mu.Unlock()
	for _, x := range e.c.unexpectedExits() {
		e.r.violate("%s", x)
	}
	e.r.note("workload: %s", e.w.summary())
	e.r.note("switch: %s", e.lab.sw.summary())
	for _, v := range e.r.violations {
		e.t.Errorf("VIOLATION: %s", v)
	}
	for _, n := range e.r.notes {
		e.t.Logf("note: %s", n)
	}
	e.t.Logf("%s: %d transfers committed, %d blocks, recovery %v, %d violations",
		e.r.scenario, e.r.committed, e.r.blocks, e.r.recovery.Round(time.Millisecond), len(e.r.violations))
}
