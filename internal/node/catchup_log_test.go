package node

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A validator catching up logs its progress every catchUpEvery, with the
// rate at which it commits, and once when it has caught up.
func TestCatchUpLog(t *testing.T) {
	var logged bytes.Buffer
	n := &Node{log: slog.New(slog.NewTextHandler(&logged, nil))}
	var l catchUpLog
	t0 := time.Unix(1000, 0)
	l.note(n, false, 5, 6, t0)
	l.note(n, true, 10, 500, t0)
	l.note(n, true, 60, 500, t0.Add(time.Second)) // too soon for a line
	l.note(n, true, 110, 520, t0.Add(catchUpEvery))
	l.note(n, false, 519, 520, t0.Add(catchUpEvery+time.Second))
	l.note(n, false, 520, 521, t0.Add(2*catchUpEvery))
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), logged.String())
	}
	for i, want := range []string{"committed=10 certified=500", "committed=110 certified=520 blocks_per_second=20", `msg="caught up" committed=519`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s, want %s", i, lines[i], want)
		}
	}
}
