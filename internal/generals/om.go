package generals

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// omAdversary decides what the traitors send in OM(m).
type omAdversary interface {
	// send returns what traitor from sends to general to when, in the
	// paper's terms, it holds value held (what it received, or its order if
	// it is the commander). sent is false when it sends nothing.
	send(from, to int, held Value) (v Value, sent bool)
}

var (
	_ omAdversary = (*omStrategy)(nil)
	_ omAdversary = (*omChoices)(nil)
)

// omRun is one execution of OM(m). It is single-threaded and deterministic
// given its adversary.
type omRun struct {
	m        int
	traitor  []bool
	adv      omAdversary
	messages int
	path     []int // commanders of the invocations enclosing the current one
	tr       *tracer
}

// runOM runs OM(cfg.M) with the commander ordering cfg.Order.
func runOM(cfg Config, traitor []bool, adv omAdversary) Result {
	r := &omRun{m: cfg.M, traitor: traitor, adv: adv}
	if cfg.Trace {
		r.tr = &tracer{}
	}
	ls := make([]int, cfg.Generals-1)
	for i := range ls {
		ls[i] = i + 1
	}
	decided := make([]Value, cfg.Generals)
	for k, v := range r.om(cfg.M, 0, ls, cfg.Order) {
		decided[ls[k]] = v
	}
	res := judge(traitor, cfg.Order, decided)
	res.Messages = r.messages
	if r.tr != nil {
		res.Trace = r.tr.lines(func(d int) string {
			return fmt.Sprintf("resolving OM(%d): each loyal lieutenant takes the majority of the values it holds for one relayed order", cfg.M-d)
		})
	}
	return res
}

// om runs OM(level) with commander c sending v to the lieutenants ls and
// returns, aligned with ls, the value each lieutenant uses as c's value.
func (r *omRun) om(level, c int, ls []int, v Value) []Value {
	depth := len(r.path)
	got := make([]Value, len(ls))
	var sent []bool
	if r.tr != nil {
		r.traceHeader(depth, level)
		sent = make([]bool, len(ls))
	}
	for k, to := range ls {
		val, ok := v, true
		if r.traitor[c] {
			val, ok = r.adv.send(c, to, v)
		}
		if ok {
			r.messages++
		} else {
			val = Retreat // a message that never came counts as retreat
		}
		got[k] = val
		if r.tr != nil {
			sent[k] = ok
			r.traceMsg(depth, level, c, to, v, val, ok)
		}
	}
	if level == 0 {
		if r.tr != nil && depth == 0 {
			for k, to := range ls {
				if !r.traitor[to] {
					r.tr.final = append(r.tr.final, decideLine(to, got[k], sent[k]))
				}
			}
		}
		return got
	}

	// sub[j][x]: the value the x-th lieutenant other than ls[j] uses for
	// what ls[j] reported, by OM(level-1) with ls[j] as commander.
	sub := make([][]Value, len(ls))
	others := make([]int, 0, len(ls))
	r.path = append(r.path, c)
	for j, lj := range ls {
		others = others[:0]
		for _, x := range ls {
			if x != lj {
				others = append(others, x)
			}
		}
		sub[j] = r.om(level-1, lj, others, got[j])
	}
	r.path = r.path[:len(r.path)-1]

	out := make([]Value, len(ls))
	for i := range ls {
		attack := 0
		if got[i] == Attack {
			attack++
		}
		for j := range ls {
			if j == i {
				continue
			}
			x := i
			if i > j {
				x--
			}
			if sub[j][x] == Attack {
				attack++
			}
		}
		out[i] = majority(attack, len(ls))
		if r.tr != nil && !r.traitor[ls[i]] {
			r.traceVote(depth, c, ls, i, got[i], sub, out[i], attack)
		}
	}
	return out
}

func (r *omRun) traceHeader(depth, level int) {
	if depth == 0 {
		r.tr.header(1, fmt.Sprintf("OM(%d), the commander sends its order to every lieutenant", level))
		return
	}
	r.tr.header(depth+1, fmt.Sprintf("OM(%d), each lieutenant relays, as commander, every value it received in round %d to the lieutenants not yet on its relay path", level, depth))
}

func (r *omRun) traceMsg(depth, level, from, to int, held, val Value, sent bool) {
	what := "the order"
	if depth > 0 {
		what = "relaying " + r.about(depth)
	}
	line := fmt.Sprintf("OM(%d) %s -> %s: %s (%s)", level, Name(from), Name(to), val, what)
	switch {
	case !r.traitor[from]:
	case !sent:
		line = fmt.Sprintf("OM(%d) %s -> %s: nothing (%s) [traitor stays silent; %s will use retreat]", level, Name(from), Name(to), what, Name(to))
	case val != held:
		line += fmt.Sprintf(" [traitor: it holds %s]", held)
	default:
		line += " [traitor]"
	}
	r.tr.msg(depth+1, line)
}

// about describes the value the current commander relays: "the commander's
// order", "L2's report of the commander's order", and so on.
func (r *omRun) about(depth int) string {
	var b strings.Builder
	for d := depth - 1; d >= 1; d-- {
		fmt.Fprintf(&b, "%s's report of ", Name(r.path[d]))
	}
	b.WriteString("the commander's order")
	return b.String()
}

func (r *omRun) traceVote(depth, c int, ls []int, i int, direct Value, sub [][]Value, out Value, attack int) {
	parts := []string{fmt.Sprintf("%s %s", Name(c), direct)}
	for j := range ls {
		if j == i {
			continue
		}
		x := i
		if i > j {
			x--
		}
		parts = append(parts, fmt.Sprintf("%s %s", Name(ls[j]), sub[j][x]))
	}
	why := ""
	if 2*attack == len(ls) {
		why = " (tie)"
	}
	if depth == 0 {
		r.tr.final = append(r.tr.final, fmt.Sprintf("%s holds [%s] -> decides %s%s",
			Name(ls[i]), strings.Join(parts, ", "), out, why))
		return
	}
	r.path = append(r.path, c)
	about := r.about(depth + 1)
	r.path = r.path[:len(r.path)-1]
	r.tr.vote(depth, fmt.Sprintf("%s holds [%s] for %s -> %s%s",
		Name(ls[i]), strings.Join(parts, ", "), about, out, why))
}

func decideLine(id int, v Value, sent bool) string {
	if !sent {
		return fmt.Sprintf("%s decides retreat: no order came", Name(id))
	}
	return fmt.Sprintf("%s decides %s: the order it received", Name(id), v)
}

// omStrategy makes every traitor follow one Strategy.
type omStrategy struct {
	s   Strategy
	n   int
	rng *rand.Rand
}

func (a *omStrategy) send(_, to int, held Value) (Value, bool) {
	switch a.s {
	case Flip:
		return held.Opposite(), true
	case Split:
		return splitValue(to, a.n), true
	case Random:
		return Value(a.rng.IntN(2)), true
	default: // Silent
		return Retreat, false
	}
}

// splitValue is what a splitting traitor tells general to: attack to the
// first half of the lieutenants, retreat to the others.
func splitValue(to, n int) Value {
	if to >= 1 && to <= n/2 {
		return Attack
	}
	return Retreat
}

// omChoices makes every message a traitor sends to a loyal general one
// binary choice taken from a chooser; a message between traitors carries
// what the sender holds, since the traitors' later messages are all chosen
// anyway. Silence is not a separate choice: a receiver treats a missing
// message exactly as retreat.
type omChoices struct {
	traitor []bool
	ch      chooser
}

func (a *omChoices) send(_, to int, held Value) (Value, bool) {
	if a.traitor[to] {
		return held, true
	}
	if a.ch.choose() {
		return Attack, true
	}
	return Retreat, true
}
