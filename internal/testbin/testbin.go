// Package testbin builds the strategos binary for the tests that run it as
// real processes (internal/e2e, internal/faults, cmd/strategos's bench
// tests), finds them free ports, and lays out single-validator networks
// for in-process tests. It is imported only by tests; it lives outside them
// because test code cannot be shared between packages.
package testbin

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Build builds ./cmd/strategos into dir and returns its path, unless
// STRATEGOS_E2E_BIN names a binary to use instead. STRATEGOS_E2E_RACE=1
// builds it with the race detector. It reports the build time on log.
func Build(dir string, log io.Writer) (string, error) {
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
	fmt.Fprintf(log, "built %s in %v\n", out, time.Since(start).Round(time.Millisecond))
	return out, nil
}
