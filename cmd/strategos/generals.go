package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/strategos/strategos/internal/generals"
)

// generalsFlags holds the flags of `strategos generals`.
type generalsFlags struct {
	algorithm  string
	n          int
	traitors   int
	m          int
	traitorIDs string
	order      string
	strategy   string
	seed       uint64
	exhaustive bool
	json       bool
	trace      bool
}

func newGeneralsCmd() *cobra.Command {
	var f generalsFlags
	cmd := &cobra.Command{
		Use:   "generals",
		Short: "Run Lamport's Byzantine Generals algorithms OM(m) and SM(m)",
		Long: `Run Lamport, Shostak and Pease's OM(m) (oral messages) or SM(m) (signed
messages) among N generals: general 0 is the commander, 1..N-1 its
lieutenants, and T of them are traitors following a strategy (flip, split,
random, silent), or, with --exhaustive, every choice a traitor can make.

It prints each loyal lieutenant's decision, whether IC1 (the loyal
lieutenants agree) and IC2 (they obey a loyal commander) held and how many
messages were sent; --trace shows who told whom what, round by round.
'strategos generals table' reproduces the paper's conclusions.`,
		Example: `  strategos generals --algorithm om --generals 4 --traitors 1
  strategos generals --algorithm om --generals 3 --traitor-ids 2 --exhaustive --trace
  strategos generals --algorithm sm --generals 3 --traitor-ids 0 --strategy split --trace
  strategos generals table`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := f.config(c)
			if err != nil {
				return err
			}
			if f.exhaustive {
				s, err := generals.Exhaust(cfg, 0)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(c.OutOrStdout(), generals.NewSearchReport(cfg, s))
				}
				return printExhaustive(c.OutOrStdout(), cfg, s)
			}
			res, err := generals.Run(cfg)
			if err != nil {
				return err
			}
			if f.json {
				return printJSON(c.OutOrStdout(), generals.NewReport(cfg, res))
			}
			return printRun(c.OutOrStdout(), cfg, res, true)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.algorithm, "algorithm", "om", "om (oral messages) or sm (signed messages)")
	fl.IntVar(&f.n, "generals", 4, "number of generals N, the commander included (N >= 2)")
	fl.IntVar(&f.traitors, "traitors", 1, "number of traitors T (0 <= T <= N); chosen by --seed unless --traitor-ids")
	fl.IntVar(&f.m, "m", 0, "the m of OM(m)/SM(m) (default: the number of traitors)")
	fl.StringVar(&f.traitorIDs, "traitor-ids", "", "comma-separated ids of the traitors, 0 meaning the commander")
	fl.StringVar(&f.order, "order", "attack", "the commander's order: attack or retreat")
	fl.StringVar(&f.strategy, "strategy", "flip", "traitor strategy: flip, split, random or silent")
	fl.Uint64Var(&f.seed, "seed", 1, "seed for choosing traitors, the random strategy and the SM keys")
	fl.BoolVar(&f.exhaustive, "exhaustive", false, "try every possible choice of the traitors' messages")
	fl.BoolVar(&f.json, "json", false, "print one JSON object")
	fl.BoolVar(&f.trace, "trace", false, "show who told whom what at each round (with --exhaustive: of the first violating case)")
	cmd.AddCommand(newGeneralsTableCmd())
	return cmd
}

// config checks the flags and turns them into a run configuration.
func (f *generalsFlags) config(c *cobra.Command) (generals.Config, error) {
	alg, err := generals.ParseAlgorithm(f.algorithm)
	if err != nil {
		return generals.Config{}, err
	}
	order, err := generals.ParseValue(f.order)
	if err != nil {
		return generals.Config{}, err
	}
	strategy, err := generals.ParseStrategy(f.strategy)
	if err != nil {
		return generals.Config{}, err
	}
	if f.n < 2 {
		return generals.Config{}, fmt.Errorf("generals: --generals must be at least 2 (a commander and a lieutenant), got %d", f.n)
	}
	if f.n > generals.MaxGenerals {
		return generals.Config{}, fmt.Errorf("generals: --generals must be at most %d, got %d", generals.MaxGenerals, f.n)
	}
	var ids []int
	if c.Flags().Changed("traitor-ids") {
		ids, err = parseIDs(f.traitorIDs, f.n)
		if err != nil {
			return generals.Config{}, err
		}
		if c.Flags().Changed("traitors") && f.traitors != len(ids) {
			return generals.Config{}, fmt.Errorf("generals: --traitors %d does not match the %d id(s) of --traitor-ids", f.traitors, len(ids))
		}
	} else {
		if f.traitors < 0 {
			return generals.Config{}, fmt.Errorf("generals: --traitors must be at least 0, got %d", f.traitors)
		}
		if f.traitors > f.n {
			return generals.Config{}, fmt.Errorf("generals: more traitors (%d) than generals (%d)", f.traitors, f.n)
		}
		ids, err = generals.PickTraitors(f.n, f.traitors, f.seed)
		if err != nil {
			return generals.Config{}, err
		}
	}
	m := len(ids)
	if c.Flags().Changed("m") {
		if f.m < 0 {
			return generals.Config{}, fmt.Errorf("generals: --m must be at least 0, got %d", f.m)
		}
		m = f.m
	}
	cfg := generals.Config{
		Algorithm: alg, Generals: f.n, M: m, Traitors: ids,
		Order: order, Strategy: strategy, Seed: f.seed, Trace: f.trace,
	}
	return cfg, cfg.Validate()
}

// parseIDs parses a comma-separated list of distinct general ids in 0..n-1.
func parseIDs(s string, n int) ([]int, error) {
	ids := []int{}
	seen := map[int]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.Atoi(part)
		if err != nil {
			return nil, fmt.Errorf("generals: --traitor-ids: %q is not a general id", part)
		}
		if id < 0 || id >= n {
			return nil, fmt.Errorf("generals: --traitor-ids: id %d out of range 0..%d (0 is the commander)", id, n-1)
		}
		if seen[id] {
			return nil, fmt.Errorf("generals: --traitor-ids: id %d listed twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}

// describe is the first line of a report: who is who.
func describe(cfg generals.Config, who string) string {
	commander := "loyal"
	var names []string
	for _, id := range cfg.Traitors {
		if id == 0 {
			commander = "a traitor"
		}
		names = append(names, generals.Name(id))
	}
	traitors := "none"
	if len(names) > 0 {
		traitors = strings.Join(names, ", ") + " (" + who + ")"
	}
	return fmt.Sprintf("%s(%d) with %d generals: the commander C is %s and orders %s; traitors: %s",
		cfg.Algorithm.Name(), cfg.M, cfg.Generals, commander, cfg.Order, traitors)
}

func printRun(w io.Writer, cfg generals.Config, res generals.Result, header bool) error {
	var b strings.Builder
	if header {
		fmt.Fprintln(&b, describe(cfg, fmt.Sprintf("strategy %s, seed %d", cfg.Strategy, cfg.Seed)))
	}
	if len(res.Trace) > 0 {
		b.WriteString("\n")
		for _, line := range res.Trace {
			fmt.Fprintln(&b, line)
		}
	}
	fmt.Fprintln(&b)
	writeOutcome(&b, cfg, res)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeOutcome(b *strings.Builder, cfg generals.Config, res generals.Result) {
	fmt.Fprintln(b, "decisions of the loyal lieutenants:")
	if len(res.Decisions) == 0 {
		fmt.Fprintln(b, "  (none: every lieutenant is a traitor)")
	}
	for id := 1; id < cfg.Generals; id++ {
		if v, ok := res.Decisions[id]; ok {
			fmt.Fprintf(b, "  %-4s %s\n", generals.Name(id), v)
		}
	}
	fmt.Fprintf(b, "%-48s %s\n", ic1Label, holds(res.IC1))
	fmt.Fprintf(b, "%-48s %s\n", ic2Label, holds(res.IC2))
	fmt.Fprintf(b, "messages sent: %d\n", res.Messages)
}

const (
	ic1Label = "IC1 (all loyal lieutenants decide alike):"
	ic2Label = "IC2 (loyal lieutenants obey a loyal commander):"
)

func holds(ok bool) string {
	if ok {
		return "holds"
	}
	return "BROKEN"
}

func printExhaustive(w io.Writer, cfg generals.Config, s generals.Summary) error {
	var b strings.Builder
	fmt.Fprintln(&b, describe(cfg, "every choice"))
	fmt.Fprintf(&b, "exhaustive search: %d cases (every combination of %d binary traitor choices), %d broke IC1 or IC2\n", s.Cases, s.Choices, s.Violations)
	fmt.Fprintf(&b, "%-48s %s\n", ic1Label, casesHold(s.IC1Violations, s.Cases))
	fmt.Fprintf(&b, "%-48s %s\n", ic2Label, casesHold(s.IC2Violations, s.Cases))
	if s.Violations > 0 {
		fmt.Fprintf(&b, "\nfirst violating case, #%d:\n", s.ExampleCase)
	} else {
		fmt.Fprintf(&b, "\ncase #%d, for example:\n", s.ExampleCase)
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return err
	}
	return printRun(w, cfg, s.Example, false)
}

func casesHold(bad, cases uint64) string {
	if bad == 0 {
		return "holds in every case"
	}
	return fmt.Sprintf("BROKEN in %d of %d cases", bad, cases)
}

// newGeneralsTableCmd is `strategos generals table`.
func newGeneralsTableCmd() *cobra.Command {
	var (
		opts   generals.TableOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Reproduce the paper's table: when do OM(m) and SM(m) break?",
		Long: `For OM and SM, m = 1..3 and n = 3m..3m+2 generals with m traitors, search for
traitors that break IC1 or IC2: exhaustively where the number of cases is
small enough, otherwise by every named strategy and then a seeded random
search (the row says which). The paper's picture: OM(m) breaks exactly when
n <= 3m, SM(m) holds in every row.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if opts.MaxM < 1 || opts.MaxM > 3 {
				return fmt.Errorf("generals table: --max-m must be 1, 2 or 3, got %d", opts.MaxM)
			}
			if opts.Trials < 0 {
				return fmt.Errorf("generals table: --trials must be at least 0, got %d", opts.Trials)
			}
			rows, err := generals.Table(opts)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(c.OutOrStdout(), tableJSON(rows, opts.Seed))
			}
			return printTable(c.OutOrStdout(), rows)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&opts.MaxM, "max-m", 3, "rows for m = 1..max-m (at most 3)")
	fl.IntVar(&opts.Trials, "trials", 500, "random trials per traitor placement and order where exhaustive search is too large")
	fl.Uint64Var(&opts.MaxCases, "max-cases", 1<<14, "search a traitor placement and order exhaustively when it has at most this many cases")
	fl.Uint64Var(&opts.Seed, "seed", 1, "seed of the keys and the random search")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// matchesPaper reports whether a row shows what the paper predicts.
func matchesPaper(r generals.Row) bool {
	if r.Algorithm == generals.OM {
		return r.Found() == !r.BoundHolds
	}
	return !r.Found()
}

func tableJSON(rows []generals.Row, seed uint64) map[string]any {
	out := make([]map[string]any, len(rows))
	all := true
	for i, r := range rows {
		kind := "exhaustive"
		switch {
		case r.Cases == 0:
			kind = "random"
		case r.Trials > 0:
			kind = "exhaustive+random"
		}
		out[i] = map[string]any{
			"algorithm":       r.Algorithm.String(),
			"m":               r.M,
			"generals":        r.Generals,
			"traitors":        r.Traitors,
			"bound_holds":     r.BoundHolds,
			"violation_found": r.Found(),
			"ic1_broken":      r.IC1Broken,
			"ic2_broken":      r.IC2Broken,
			"violations":      r.Violations,
			"search":          r.Search(),
			"search_kind":     kind,
			"cases":           r.Cases,
			"trials":          r.Trials,
			"messages":        r.Messages,
			"witness":         witnessText(r),
			"reproduce":       reproduce(r),
			"matches_paper":   matchesPaper(r),
		}
		all = all && matchesPaper(r)
	}
	return map[string]any{"rows": out, "seed": seed, "matches_paper": all}
}

func printTable(w io.Writer, rows []generals.Row) error {
	var b strings.Builder
	fmt.Fprintln(&b, "The Byzantine Generals (Lamport, Shostak, Pease 1982): m traitors among n generals")
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "%-5s %2s %3s  %-5s %-16s %-8s %-42s %8s\n", "alg", "m", "n", "n>3m", "adversary found", "breaks", "search", "messages")
	var witnesses []string
	all := true
	for _, r := range rows {
		found, breaks := "no", "-"
		if r.Found() {
			found = "YES"
			var ic []string
			if r.IC1Broken {
				ic = append(ic, "IC1")
			}
			if r.IC2Broken {
				ic = append(ic, "IC2")
			}
			breaks = strings.Join(ic, "+")
			witnesses = append(witnesses, fmt.Sprintf("  %s(%d), n=%d: %s", r.Algorithm.Name(), r.M, r.Generals, r.Witness))
			if cmd := reproduce(r); cmd != "" {
				witnesses = append(witnesses, "    see it: "+cmd)
			}
		}
		bound := "no"
		if r.BoundHolds {
			bound = "yes"
		}
		fmt.Fprintf(&b, "%-5s %2d %3d  %-5s %-16s %-8s %-42s %8d\n",
			r.Algorithm.Name(), r.M, r.Generals, bound, found, breaks, r.Search(), r.Messages)
		all = all && matchesPaper(r)
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "messages: sent in one run with no traitors; for OM(m) this is M(n,m) = (n-1) + (n-1)*M(n-1,m-1), M(n,0) = n-1.")
	if len(witnesses) > 0 {
		fmt.Fprintln(&b, "first adversary found in each breaking row:")
		for _, line := range witnesses {
			fmt.Fprintln(&b, line)
		}
	}
	if all {
		fmt.Fprintln(&b, "as the paper says: OM(m) breaks exactly when n <= 3m; SM(m) holds in every row.")
	} else {
		fmt.Fprintln(&b, "WARNING: some rows differ from the paper's conclusions (OM(m) breaks exactly when n <= 3m; SM(m) always holds).")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func witnessText(r generals.Row) string {
	if r.Witness == nil {
		return ""
	}
	return r.Witness.String()
}

// reproduce returns the command that shows a row's witness with --trace, or
// "" if it came from a random trial, which no single command replays.
func reproduce(r generals.Row) string {
	w := r.Witness
	if w == nil || w.How == "random" {
		return ""
	}
	ids := make([]string, len(w.Traitors))
	for i, id := range w.Traitors {
		ids[i] = strconv.Itoa(id)
	}
	how := "--strategy " + w.Strategy.String()
	if w.How == "exhaustive" {
		how = "--exhaustive"
	}
	return fmt.Sprintf("strategos generals --algorithm %s --generals %d --m %d --traitor-ids %s --order %s %s --trace",
		r.Algorithm, r.Generals, r.M, strings.Join(ids, ","), w.Order, how)
}
