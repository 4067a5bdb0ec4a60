//go:build linux

package faults

import (
	"flag"
	"fmt"
	"os"
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
		skipReason = "fault-injection tests need root, network namespaces and minutes of wall time; skipped with -short"
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "strategos-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	binary, err = testbin.Build(dir, os.Stderr)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "faults: build strategos:", err)
		os.Exit(1)
	}
	sweepStale()
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
