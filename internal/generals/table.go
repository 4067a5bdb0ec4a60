package generals

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
)

// TableOptions sizes the search behind Table.
type TableOptions struct {
	// MaxM: rows for m = 1..MaxM (default 3).
	MaxM int
	// MaxCases: a traitor placement and order is searched exhaustively when
	// it has at most this many cases (default 1<<14), else at random.
	MaxCases uint64
	// Trials: random trials per traitor placement and order, after one run
	// of each named strategy (default 500).
	Trials int
	// Seed drives the keys, the random strategy and the random search.
	Seed uint64
}

func (o TableOptions) withDefaults() TableOptions {
	if o.MaxM == 0 {
		o.MaxM = 3
	}
	if o.MaxCases == 0 {
		o.MaxCases = 1 << 14
	}
	if o.Trials == 0 {
		o.Trials = 500
	}
	return o
}

// Row is one line of the paper's table: algorithm, m, n generals of whom m
// are traitors, and whether the search found traitors breaking IC1 or IC2.
type Row struct {
	Algorithm Algorithm
	M         int
	Generals  int
	Traitors  int
	// BoundHolds reports n > 3m, the paper's condition for OM(m).
	BoundHolds bool
	// Cases counts the cases tried exhaustively, Trials the random runs.
	Cases, Trials uint64
	// Violations counts the runs that broke IC1 or IC2.
	Violations uint64
	IC1Broken  bool
	IC2Broken  bool
	// Witness is the first violation found, nil if none.
	Witness *Witness
	// Messages is what one run sends when every general is loyal.
	Messages int
}

// Witness says which traitors, order and behaviour broke IC1 or IC2.
type Witness struct {
	Traitors []int
	Order    Value
	// How is "strategy" (every traitor followed Strategy), "exhaustive"
	// (case Case of Exhaust) or "random" (random trial Case).
	How      string
	Strategy Strategy
	Case     uint64
}

// String describes the witness, e.g. "traitors L2, order attack, strategy
// flip".
func (w Witness) String() string {
	how := "strategy " + w.Strategy.String()
	switch w.How {
	case "exhaustive":
		how = fmt.Sprintf("exhaustive case %d", w.Case)
	case "random":
		how = fmt.Sprintf("random trial %d", w.Case)
	}
	return fmt.Sprintf("traitors %s, order %s, %s", names(w.Traitors), w.Order, how)
}

// Found reports whether some adversary broke IC1 or IC2.
func (r Row) Found() bool { return r.Violations > 0 }

// Search says how the row was searched, e.g. "exhaustive(40 cases)",
// "random(2016 trials)" or both.
func (r Row) Search() string {
	switch {
	case r.Trials == 0:
		return fmt.Sprintf("exhaustive(%d cases)", r.Cases)
	case r.Cases == 0:
		return fmt.Sprintf("random(%d trials)", r.Trials)
	}
	return fmt.Sprintf("exhaustive(%d cases)+random(%d trials)", r.Cases, r.Trials)
}

// Table reproduces the paper's conclusions: for OM and SM, m = 1..MaxM and
// n = 3m..3m+2 generals with m traitors, it searches for traitor behaviour
// that breaks IC1 or IC2. Up to symmetry between lieutenants there are two
// placements of the traitors (the commander and m-1 lieutenants, or m
// lieutenants), each tried with both orders. A placement and order is
// searched exhaustively when it has at most MaxCases cases; otherwise it is
// tried with every named strategy and then Trials times with random
// choices, each trial drawing its own bias towards attack. Rows run in
// parallel but the result depends only on the options.
func Table(opts TableOptions) ([]Row, error) {
	opts = opts.withDefaults()
	if opts.MaxM < 1 || opts.MaxM > 3 || opts.Trials < 0 {
		return nil, fmt.Errorf("generals: %w: the table needs 1 <= MaxM <= 3 and Trials >= 0", ErrInvalid)
	}
	type job struct {
		alg  Algorithm
		m, n int
	}
	var jobs []job
	for _, alg := range []Algorithm{OM, SM} {
		for m := 1; m <= opts.MaxM; m++ {
			for n := 3 * m; n <= 3*m+2; n++ {
				jobs = append(jobs, job{alg, m, n})
			}
		}
	}
	rows := make([]Row, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rows[i], errs[i] = tableRow(j.alg, j.m, j.n, opts, uint64(i))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// tableRow searches one row.
func tableRow(alg Algorithm, m, n int, opts TableOptions, index uint64) (Row, error) {
	row := Row{Algorithm: alg, M: m, Generals: n, Traitors: m, BoundHolds: n > 3*m}
	loyal := Config{Algorithm: alg, Generals: n, M: m, Order: Attack, Seed: opts.Seed}
	if err := loyal.Validate(); err != nil {
		return Row{}, err
	}
	var keys *keyring
	if alg == SM {
		keys = newKeyring(opts.Seed, n)
	}
	row.Messages = runStrategy(loyal, make([]bool, n), keys).Messages

	withCommander := []int{0}
	for id := n - m + 1; id < n; id++ {
		withCommander = append(withCommander, id)
	}
	var lieutenants []int
	for id := n - m; id < n; id++ {
		lieutenants = append(lieutenants, id)
	}
	rng := rand.New(rand.NewPCG(opts.Seed, streamSearch+index))
	record := func(res Result, cfg Config, how string, c uint64) {
		if res.IC1 && res.IC2 {
			return
		}
		row.Violations++
		row.IC1Broken = row.IC1Broken || !res.IC1
		row.IC2Broken = row.IC2Broken || !res.IC2
		if row.Witness == nil {
			row.Witness = &Witness{Traitors: cfg.Traitors, Order: cfg.Order, How: how, Strategy: cfg.Strategy, Case: c}
		}
	}
	for _, ids := range [][]int{withCommander, lieutenants} {
		for _, order := range []Value{Attack, Retreat} {
			cfg := Config{Algorithm: alg, Generals: n, M: m, Traitors: ids, Order: order, Seed: opts.Seed}
			traitor := traitorSet(n, ids)
			if k := choices(cfg, traitor); k < 63 && uint64(1)<<k <= opts.MaxCases {
				for c := range uint64(1) << k {
					record(runChoices(cfg, traitor, keys, &bitChooser{bits: c}), cfg, "exhaustive", c)
				}
				row.Cases += uint64(1) << k
				continue
			}
			for _, s := range Strategies() {
				cfg.Strategy = s
				record(runStrategy(cfg, traitor, keys), cfg, "strategy", 0)
				row.Trials++
			}
			for t := range opts.Trials {
				coin := &coinChooser{rng: rng, p: rng.Float64()}
				record(runChoices(cfg, traitor, keys, coin), cfg, "random", uint64(t))
				row.Trials++
			}
		}
	}
	return row, nil
}
