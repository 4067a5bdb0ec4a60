package testnet

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/strategos/strategos/internal/daemon"
)

// display shows the network's status until ctx is done: redrawn in place
// about once a second on a terminal, a plain line every few seconds
// otherwise.
func display(ctx context.Context, o Options, vals []*daemon.Validator) {
	every := time.Second
	if !o.Terminal {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lines := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !o.Terminal {
			fmt.Fprintln(o.Out, statusLine(vals))
			continue
		}
		if lines > 0 {
			fmt.Fprintf(o.Out, "\x1b[%dA", lines) // back to the top of the table
		}
		table := statusTable(vals)
		for _, l := range table {
			fmt.Fprintf(o.Out, "\x1b[2K%s\n", l)
		}
		lines = len(table)
	}
}

func statusTable(vals []*daemon.Validator) []string {
	out := []string{fmt.Sprintf("%-5s %-14s %8s %8s %7s %8s %9s %6s", "node", "behavior", "height", "round", "leader", "tx/s", "pending", "peers")}
	for _, v := range vals {
		s := v.Node.Status()
		out = append(out, fmt.Sprintf("%-5d %-14s %8d %8d %7d %8.1f %9d %6d",
			s.Node, s.Behavior, s.Height, s.Round, s.Leader, s.TPS, s.Pending, s.Peers))
	}
	out = append(out, time.Now().Format("15:04:05")+"  Ctrl-C stops every node")
	return out
}

func statusLine(vals []*daemon.Validator) string {
	var parts []string
	for _, v := range vals {
		s := v.Node.Status()
		parts = append(parts, fmt.Sprintf("n%d h=%d r=%d tx/s=%.1f", s.Node, s.Height, s.Round, s.TPS))
	}
	return time.Now().Format(time.RFC3339) + " " + strings.Join(parts, " | ")
}
