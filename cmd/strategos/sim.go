package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/consensus/quorum"
	"github.com/strategos/strategos/internal/sim"
)

type simFlags struct {
	nodes, byzantine, seeds int
	behavior                string
	seedStart, heights      uint64
	json, verbose           bool
}

func newSimCmd() *cobra.Command {
	var f simFlags
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run deterministic simulations of the consensus core",
		Long: `sim runs the real consensus code of N validators over a simulated network with
a virtual clock, once per seed: seeded delays, reordering, message loss, a
partition that heals, crashes and restarts, and K Byzantine validators (the
highest indices) running one behaviour. Each run ends when every honest
validator has committed H blocks, or at its virtual deadline (a stall).

Every run is checked: honest validators never commit different blocks at one
height, never vote twice in a round, commit only proposed blocks, and (with at
most f = floor((N-1)/3) traitors) keep committing once the network heals.
The same arguments always print the same output. The exit status is non-zero
when any run violated safety or stalled.

Behaviours: ` + strings.Join(byzantine.Names(), ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSim(cmd.OutOrStdout(), f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", 4, "number of validators")
	fl.IntVar(&f.byzantine, "byzantine", 0, "how many validators (the highest indices) misbehave")
	fl.StringVar(&f.behavior, "behavior", "equivocate", "behaviour of the Byzantine validators")
	fl.IntVar(&f.seeds, "seeds", 100, "number of seeded runs")
	fl.Uint64Var(&f.seedStart, "seed-start", 1, "first seed")
	fl.Uint64Var(&f.heights, "heights", 20, "blocks every honest validator must commit")
	fl.BoolVar(&f.json, "json", false, "print one JSON object")
	fl.BoolVar(&f.verbose, "verbose", false, "print one line per run")
	return cmd
}

func runSim(w io.Writer, f simFlags) error {
	if f.seeds < 1 || f.seeds > 10_000_000 {
		return fmt.Errorf("sim: --seeds must be between 1 and 10000000, got %d", f.seeds)
	}
	if !byzantine.Valid(f.behavior) {
		return fmt.Errorf("sim: unknown behaviour %q (known: %s)", f.behavior, strings.Join(byzantine.Names(), ", "))
	}
	cfg := sim.Config{Nodes: f.nodes, Byzantine: f.byzantine, Behavior: f.behavior, Heights: f.heights}
	s, err := sim.RunMany(cfg, f.seedStart, f.seeds)
	if err != nil {
		return err
	}
	if f.json {
		if err := printJSON(w, map[string]any{
			"runs":                 s.Runs,
			"violations":           s.Violations,
			"stalled":              s.Stalled,
			"min_height":           s.MinHeight,
			"first_violation_seed": s.FirstViolationSeed,
			"nodes":                f.nodes,
			"byzantine":            f.byzantine,
			"behavior":             f.behavior,
			"heights":              f.heights,
			"first_violation":      s.FirstViolation,
		}); err != nil {
			return err
		}
	} else {
		printSimText(w, f, s)
	}
	if s.Violations > 0 || s.Stalled > 0 {
		return fmt.Errorf("sim: %d of %d runs violated safety, %d stalled", s.Violations, s.Runs, s.Stalled)
	}
	return nil
}

func printSimText(w io.Writer, f simFlags, s sim.Summary) {
	fmax := quorum.MaxFaulty(f.nodes)
	who := "all honest"
	if f.byzantine > 0 {
		who = fmt.Sprintf("%d %s", f.byzantine, f.behavior)
		if f.byzantine > fmax {
			who += fmt.Sprintf(" (more than f = %d: safety is not guaranteed)", fmax)
		}
	}
	fmt.Fprintf(w, "simulated %d runs (seeds %d..%d): %d validators, %s, %d heights\n",
		s.Runs, f.seedStart, f.seedStart+uint64(f.seeds)-1, f.nodes, who, f.heights)
	if f.verbose {
		for _, r := range s.Results {
			status := "ok"
			switch {
			case r.Violation != "":
				status = "VIOLATION: " + r.Violation
			case r.Stalled:
				status = "stalled"
			}
			fmt.Fprintf(w, "  seed %-8d height %-6d %7d ms  %7d msgs  %s\n", r.Seed, r.MinHeight, r.Time, r.Messages, status)
		}
	}
	fmt.Fprintf(w, "safety violations: %d\nstalled runs:      %d\nlowest height:     %d\n", s.Violations, s.Stalled, s.MinHeight)
	if s.FirstViolationSeed != nil {
		fmt.Fprintf(w, "first violation:   seed %d: %s\n", *s.FirstViolationSeed, s.FirstViolation)
		fmt.Fprintf(w, "reproduce with:    strategos sim --nodes %d --byzantine %d --behavior %s --heights %d --seeds 1 --seed-start %d --verbose\n",
			f.nodes, f.byzantine, f.behavior, f.heights, *s.FirstViolationSeed)
	}
}
