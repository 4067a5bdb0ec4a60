//go:build linux

package faults

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	binary, err = buildBinary(dir)
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

// buildBinary builds ./cmd/strategos into dir, unless STRATEGOS_E2E_BIN
// names a binary to use. (Copied from internal/e2e: test code cannot be
// imported.)
func buildBinary(dir string) (string, error) {
	if p := os.Getenv("STRATEGOS_E2E_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return filepath.Abs(p)
	}
	goTool, err := exec.LookPath("go") // go test puts its own go first in PATH
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "strategos")
	args := []string{"build", "-o", out}
	if os.Getenv("STRATEGOS_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	args = append(args, "github.com/strategos/strategos/cmd/strategos")
	cmd := exec.Command(goTool, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, buf.String())
	}
	fmt.Fprintf(os.Stderr, "faults: built %s in %v\n", out, time.Since(start).Round(time.Millisecond))
	return out, nil
}

// needBinary skips a test that runs the binary when it is not available.
func needBinary(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}
