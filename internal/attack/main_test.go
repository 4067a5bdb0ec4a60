//go:build unix

package attack

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/testbin"
)

// strategosBin is the strategos binary the honest validators run; skipReason,
// when set, is why the tests that need it are skipped.
var (
	strategosBin string
	skipReason   string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		skipReason = "attack tests run real processes for a minute; skipped with -short"
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "strategos-attack-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
	strategosBin, err = testbin.Build(dir, os.Stderr)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "attack: build strategos:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// soak is 1, or 8 with STRATEGOS_SOAK_ATTACK=1 (or the factor
// STRATEGOS_SOAK_FACTOR gives): every attack window is that much longer.
func soak() float64 {
	if os.Getenv("STRATEGOS_SOAK_ATTACK") != "1" {
		return 1
	}
	if f, err := strconv.ParseFloat(os.Getenv("STRATEGOS_SOAK_FACTOR"), 64); err == nil && f > 0 {
		return f
	}
	return 8
}

// window scales an attack window by the soak factor.
func window(d time.Duration) time.Duration { return time.Duration(float64(d) * soak()) }

// fixed lists the findings of issue 12 whose fix has landed on main. The
// test of a finding not listed is skipped, so that main stays green, unless
// STRATEGOS_ATTACK_ALL=1: then it runs, and is expected to fail, which is
// how one shows that an attack still works (or that a fix, reverted, is
// what stops it).
var fixed = map[int]bool{
	1:  true, // 8a85e5e evidence: compact proofs inside the block budget
	2:  true, // responses bounded in bytes, from the requester's height
	3:  true, // 784cba4, a97e02a, b3a7d7a: pre-scan, decoding off the loop, muting
	4:  true, // requests answered by a node worker, per-peer rates
	5:  true, // 6f97474 transport: bounded handshake admission
	6:  true, // 8982c45 fork collection, 8a85e5e no variants stored after a proof
	7:  true, // b3a7d7a votes de-duplicated and bounded
	8:  true, // 6f97474 transport: rate-limited logs
	10: true, // 09a71aa transport: queues bounded in bytes
	12: true, // 8a85e5e proposals remembered as headers
	13: true, // fbb420c events: per-client slots
}

// finding marks t as the attack of finding f.
func finding(t *testing.T, f int) {
	t.Helper()
	if !enabled(f) {
		t.Skipf("finding %d: fix not landed yet (STRATEGOS_ATTACK_ALL=1 runs it)", f)
	}
}

// enabled reports whether the test of finding f runs.
func enabled(f int) bool { return fixed[f] || os.Getenv("STRATEGOS_ATTACK_ALL") == "1" }
