package sim

import (
	"runtime"
	"sync"
)

// Summary aggregates many runs that differ only in their seed.
type Summary struct {
	Runs               int
	Violations         int
	Stalled            int
	MinHeight          uint64
	FirstViolationSeed *uint64 // lowest seed whose run violated safety
	FirstViolation     string
	Results            []Result // in seed order
}

// RunMany runs seeds start .. start+count-1 of cfg on all CPUs. The
// summary depends only on its arguments, never on scheduling.
func RunMany(cfg Config, start uint64, count int) (Summary, error) {
	results := make([]Result, count)
	errs := make([]error, count)
	workers := max(1, min(runtime.GOMAXPROCS(0), count))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c := cfg
				c.Seed = start + uint64(i)
				results[i], errs[i] = Run(c)
			}
		}()
	}
	for i := range count {
		next <- i
	}
	close(next)
	wg.Wait()
	s := Summary{Runs: count, Results: results, MinHeight: ^uint64(0)}
	if count == 0 {
		s.MinHeight = 0
	}
	for i, r := range results {
		if errs[i] != nil {
			return Summary{}, errs[i]
		}
		s.MinHeight = min(s.MinHeight, r.MinHeight)
		if r.Violation != "" {
			s.Violations++
			if s.FirstViolationSeed == nil {
				seed := r.Seed
				s.FirstViolationSeed = &seed
				s.FirstViolation = r.Violation
			}
		}
		if r.Stalled {
			s.Stalled++
		}
	}
	return s, nil
}
