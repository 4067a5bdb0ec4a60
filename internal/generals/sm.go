package generals

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// smMsg is one signed order in flight.
type smMsg struct {
	from, to int
	o        signedOrder
}

// smAdversary decides what the traitors send in SM(m).
type smAdversary interface {
	// commander returns the round-1 messages of a traitor commander.
	commander(c *coalition) []smMsg
	// relay returns the traitors' messages of round r (2..m+1), after the
	// coalition has received the messages of round r-1.
	relay(r int, c *coalition) []smMsg
}

var (
	_ smAdversary = (*smStrategy)(nil)
	_ smAdversary = (*smChoices)(nil)
)

// runSM runs SM(cfg.M) in cfg.M+1 synchronous rounds.
func runSM(cfg Config, traitor []bool, keys *keyring, adv smAdversary) Result {
	n, m := cfg.Generals, cfg.M
	co := newCoalition(keys, traitor, cfg.Order)
	var tr *tracer
	if cfg.Trace {
		tr = &tracer{}
	}
	held := make([][2]bool, n) // held[i][v]: v is in lieutenant i's set V
	messages := 0

	var out []smMsg
	if traitor[0] {
		out = adv.commander(co)
	} else {
		o := signedOrder{value: cfg.Order, signers: []int{0}, sigs: [][]byte{nil}}
		o.sigs[0] = keys.signLink(o.value, o.signers, o.sigs, 0)
		for to := 1; to < n; to++ {
			out = append(out, smMsg{from: 0, to: to, o: o})
		}
	}
	for r := 1; r <= smRounds(n, m); r++ {
		if tr != nil {
			tr.header(r, smHeader(cfg.M, r))
		}
		var next []smMsg
		for _, msg := range out {
			messages++
			bad := keys.check(msg.o, r, msg.from)
			var outcome string
			switch {
			case bad != "":
				outcome = "discarded: " + bad
			case traitor[msg.to]:
				co.receive(msg.to, r, msg.o)
				outcome = "to a traitor"
			case held[msg.to][msg.o.value]:
				if tr != nil {
					outcome = fmt.Sprintf("%s already holds %s", Name(msg.to), msg.o.value)
				}
			default:
				held[msg.to][msg.o.value] = true
				if tr != nil {
					outcome = fmt.Sprintf("%s adds %s, V = %s", Name(msg.to), msg.o.value, setString(held[msg.to]))
				}
				if r <= m {
					relay := keys.extend(msg.o, msg.to)
					for j := 1; j < n; j++ {
						if j != msg.to && !slices.Contains(msg.o.signers, j) {
							next = append(next, smMsg{from: msg.to, to: j, o: relay})
						}
					}
				}
			}
			if tr != nil {
				from := Name(msg.from)
				if traitor[msg.from] {
					from += " [traitor]"
				}
				tr.msg(r, fmt.Sprintf("SM %s -> %s: %s (%s)", from, Name(msg.to), msg.o, outcome))
			}
		}
		if r < smRounds(n, m) {
			next = append(next, adv.relay(r+1, co)...)
		}
		out = next
	}

	decided := make([]Value, n)
	for id := 1; id < n; id++ {
		decided[id] = choice(held[id])
		if tr != nil && !traitor[id] {
			tr.final = append(tr.final, fmt.Sprintf("%s: V = %s -> %s%s", Name(id), setString(held[id]), decided[id], choiceWhy(held[id])))
		}
	}
	res := judge(traitor, cfg.Order, decided)
	res.Messages = messages
	if tr != nil {
		res.Trace = tr.lines(func(int) string { return "" })
	}
	return res
}

// smRounds is the number of rounds of SM(m) among n generals: m+1, but
// never more than n, since an order of round r carries r distinct
// signatures.
func smRounds(n, m int) int {
	return min(m+1, n)
}

// choice is the paper's choice(V): the single order of V, or retreat when V
// is empty or holds both orders.
func choice(v [2]bool) Value {
	if v[Attack] && !v[Retreat] {
		return Attack
	}
	return Retreat
}

func choiceWhy(v [2]bool) string {
	switch {
	case v[Attack] && v[Retreat]:
		return " (V holds both orders: the commander is a traitor; choice is retreat)"
	case !v[Attack] && !v[Retreat]:
		return " (V is empty: no valid order came)"
	}
	return ""
}

func setString(v [2]bool) string {
	var parts []string
	if v[Attack] {
		parts = append(parts, "attack")
	}
	if v[Retreat] {
		parts = append(parts, "retreat")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func smHeader(m, r int) string {
	if r == 1 {
		return fmt.Sprintf("SM(%d), the commander signs its order and sends it to every lieutenant", m)
	}
	return fmt.Sprintf("each lieutenant that added a value in round %d signs that order and relays it to the lieutenants not in its chain (orders now carry %d signatures)", r-1, r)
}

// smStrategy makes every traitor follow one Strategy. Traitor lieutenants
// act when a loyal one would, on each order new to them, but send what the
// strategy says; an order for another value than the one they hold is the
// held order with its value changed, which loyal receivers discard unless
// every signer in it is a traitor.
type smStrategy struct {
	s   Strategy
	rng *rand.Rand
}

// pick returns the value the strategy sends to general to when holding
// held, or ok=false for nothing.
func (a *smStrategy) pick(to, n int, held Value) (Value, bool) {
	switch a.s {
	case Flip:
		return held.Opposite(), true
	case Split:
		return splitValue(to, n), true
	case Random:
		switch a.rng.IntN(3) {
		case 0:
			return Retreat, false
		case 1:
			return Retreat, true
		}
		return Attack, true
	default: // Silent
		return Retreat, false
	}
}

func (a *smStrategy) commander(c *coalition) []smMsg {
	var out []smMsg
	for to := 1; to < c.n; to++ {
		v, ok := a.pick(to, c.n, c.order)
		if !ok {
			continue
		}
		if o, ok := c.commanderOrder(v); ok {
			out = append(out, smMsg{from: 0, to: to, o: o})
		}
	}
	return out
}

func (a *smStrategy) relay(r int, c *coalition) []smMsg {
	var out []smMsg
	for _, got := range c.freshIn(r - 1) {
		for to := 1; to < c.n; to++ {
			if to == got.by || slices.Contains(got.o.signers, to) {
				continue
			}
			v, ok := a.pick(to, c.n, got.o.value)
			if !ok {
				continue
			}
			out = append(out, smMsg{from: got.by, to: to, o: c.relay(c.retag(got.o, v), got.by)})
		}
	}
	return out
}

// smChoices makes every message the traitors could usefully send one binary
// choice taken from a chooser: in round 1 (traitor commander), whether each
// loyal lieutenant gets the commander's order for each value; in each later
// round, whether each loyal lieutenant gets a valid order for each value
// (both values if the commander is a traitor, else only its order, the only
// one signed) if the coalition can build one with the right number of
// signatures. Which traitor sends it, and through which chain, changes
// nothing for the loyal: the receiver holds the value either way and skips
// in its relays only generals already holding it. Messages to traitors and
// orders that would not verify change nothing either, so they are not
// choices.
type smChoices struct {
	traitor []bool
	order   Value
	ch      chooser
}

func (a *smChoices) commander(c *coalition) []smMsg {
	var out []smMsg
	for to := 1; to < c.n; to++ {
		if a.traitor[to] {
			continue
		}
		for _, v := range []Value{Retreat, Attack} {
			if a.ch.choose() {
				if o, ok := c.commanderOrder(v); ok {
					out = append(out, smMsg{from: 0, to: to, o: o})
				}
			}
		}
	}
	return out
}

func (a *smChoices) relay(r int, c *coalition) []smMsg {
	if len(c.lts) == 0 {
		return nil
	}
	var out []smMsg
	for to := 1; to < c.n; to++ {
		if a.traitor[to] {
			continue
		}
		for _, v := range smValues(a.traitor[0], a.order) {
			if !a.ch.choose() {
				continue
			}
			if o, ok := c.build(v, r); ok {
				out = append(out, smMsg{from: o.signers[len(o.signers)-1], to: to, o: o})
			}
		}
	}
	return out
}

// smValues lists the values traitors can hold a valid order for.
func smValues(commanderTraitor bool, order Value) []Value {
	if commanderTraitor {
		return []Value{Retreat, Attack}
	}
	return []Value{order}
}
