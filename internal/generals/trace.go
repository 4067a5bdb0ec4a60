package generals

import (
	"fmt"
	"strings"
)

// tracer collects the lines of a trace by round, so that a run explored
// depth-first still reads level by level, as synchronous rounds.
type tracer struct {
	rounds  [][]string // rounds[r-1]: the messages of round r
	headers []string   // headers[r-1]: what happens in round r
	votes   [][]string // votes[d]: resolutions at recursion depth d (OM)
	final   []string   // how each loyal lieutenant decided
}

// msg records a line of round r (1-based).
func (t *tracer) msg(r int, line string) {
	for len(t.rounds) < r {
		t.rounds = append(t.rounds, nil)
	}
	t.rounds[r-1] = append(t.rounds[r-1], line)
}

// header sets the heading of round r.
func (t *tracer) header(r int, text string) {
	for len(t.headers) < r {
		t.headers = append(t.headers, "")
	}
	t.headers[r-1] = text
}

// vote records a resolution made at recursion depth d.
func (t *tracer) vote(d int, line string) {
	for len(t.votes) <= d {
		t.votes = append(t.votes, nil)
	}
	t.votes[d] = append(t.votes[d], line)
}

// lines returns the trace: rounds in order, then the resolutions from the
// deepest level up, then the decisions.
func (t *tracer) lines(voteHeader func(depth int) string) []string {
	var out []string
	for i := range max(len(t.rounds), len(t.headers)) {
		h := ""
		if i < len(t.headers) {
			h = t.headers[i]
		}
		out = append(out, fmt.Sprintf("round %d: %s", i+1, h))
		if i >= len(t.rounds) || len(t.rounds[i]) == 0 {
			out = append(out, "  (no messages)")
			continue
		}
		for _, m := range t.rounds[i] {
			out = append(out, "  "+m)
		}
	}
	for d := len(t.votes) - 1; d >= 1; d-- {
		if len(t.votes[d]) == 0 {
			continue
		}
		out = append(out, voteHeader(d))
		for _, v := range t.votes[d] {
			out = append(out, "  "+v)
		}
	}
	if len(t.final) > 0 {
		out = append(out, "decisions:")
		for _, f := range t.final {
			out = append(out, "  "+f)
		}
	}
	return out
}

// names writes ids as "L1, L3" (C for the commander).
func names(ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = Name(id)
	}
	return strings.Join(parts, ", ")
}
