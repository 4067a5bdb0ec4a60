package generals

import "strconv"

// Report is the JSON form of a run that `strategos generals --json` prints
// and `GET /v1/generals` answers (see the project's contract); the search
// counts appear only for an exhaustive search, the trace only when the run
// recorded one.
type Report struct {
	Algorithm string            `json:"algorithm"`
	Generals  int               `json:"generals"`
	M         int               `json:"m"`
	Traitors  []int             `json:"traitors"`
	Order     string            `json:"order"`
	Decisions map[string]string `json:"decisions"` // loyal lieutenants only
	IC1       bool              `json:"ic1"`
	IC2       bool              `json:"ic2"`
	Messages  int               `json:"messages"`
	Strategy  string            `json:"strategy,omitempty"`
	Seed      uint64            `json:"seed"`
	*SearchReport
	Trace []string `json:"trace,omitempty"`
}

// SearchReport holds the counts of an exhaustive search.
type SearchReport struct {
	Exhaustive    bool   `json:"exhaustive"`
	Cases         uint64 `json:"cases"`
	Violations    uint64 `json:"violations"`
	IC1Violations uint64 `json:"ic1_violations"`
	IC2Violations uint64 `json:"ic2_violations"`
	Choices       int    `json:"choices"`
	ExampleCase   uint64 `json:"example_case"`
}

// NewReport reports one run of cfg.
func NewReport(cfg Config, res Result) Report {
	decisions := make(map[string]string, len(res.Decisions))
	for id, v := range res.Decisions {
		decisions[strconv.Itoa(id)] = v.String()
	}
	return Report{
		Algorithm: cfg.Algorithm.String(),
		Generals:  cfg.Generals,
		M:         cfg.M,
		Traitors:  append([]int{}, cfg.Traitors...),
		Order:     cfg.Order.String(),
		Decisions: decisions,
		IC1:       res.IC1,
		IC2:       res.IC2,
		Messages:  res.Messages,
		Strategy:  cfg.Strategy.String(),
		Seed:      cfg.Seed,
		Trace:     res.Trace,
	}
}

// NewSearchReport reports an exhaustive search: the counts, with ic1 and
// ic2 true only if no case broke them, and the decisions and messages of
// the example case (the first violating one, else case 0).
func NewSearchReport(cfg Config, s Summary) Report {
	out := NewReport(cfg, s.Example)
	out.Strategy = ""
	out.IC1 = s.IC1Violations == 0
	out.IC2 = s.IC2Violations == 0
	out.SearchReport = &SearchReport{
		Exhaustive:    true,
		Cases:         s.Cases,
		Violations:    s.Violations,
		IC1Violations: s.IC1Violations,
		IC2Violations: s.IC2Violations,
		Choices:       s.Choices,
		ExampleCase:   s.ExampleCase,
	}
	return out
}
