//go:build unix

package e2e

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/strategos/strategos/internal/testbin"
)

// binary is the strategos binary under test; skipReason, when set, is why
// the tests that need it are skipped.
var (
	binary     string
	skipReason string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		skipReason = "end-to-end tests need real processes and a minute of wall time; skipped with -short"
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "strategos-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary, err = testbin.Build(dir, os.Stderr)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "e2e: build strategos:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needBinary skips a test that runs the binary when it is not available.
func needBinary(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// Ports handed out in this process, so that tests running in parallel
// never pick overlapping ranges.
var (
	portsMu  sync.Mutex
	portsOut = map[int]bool{}
)

// freePortRange returns base such that base..base+n-1 are all free on
// 127.0.0.1, drawn from 20000-32000 (below Linux's ephemeral range, so an
// outgoing connection cannot take one of them between the probe and the
// node's bind).
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	const lo, hi = 20000, 32000
	for range 200 {
		base := lo + rand.IntN(hi-lo-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !portsOut[p] && portFree(p)
		}
		if ok {
			for p := base; p < base+n; p++ {
				portsOut[p] = true
			}
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports in %d-%d", n, lo, hi)
	return 0
}

func portFree(p int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
