package generals

import (
	"fmt"
	"strings"
)

// Value is an order: attack or retreat.
type Value uint8

// The two orders. Retreat is the paper's default: a lieutenant that hears
// nothing, or cannot tell, retreats.
const (
	Retreat Value = iota
	Attack
)

// String returns "attack" or "retreat".
func (v Value) String() string {
	if v == Attack {
		return "attack"
	}
	return "retreat"
}

// Opposite returns the other order.
func (v Value) Opposite() Value {
	if v == Attack {
		return Retreat
	}
	return Attack
}

// ParseValue parses "attack" or "retreat".
func ParseValue(s string) (Value, error) {
	switch strings.ToLower(s) {
	case "attack":
		return Attack, nil
	case "retreat":
		return Retreat, nil
	}
	return 0, fmt.Errorf("generals: unknown order %q (valid: attack, retreat)", s)
}

// Algorithm selects OM(m) or SM(m).
type Algorithm uint8

// The two algorithms of the paper.
const (
	OM Algorithm = iota // oral messages
	SM                  // signed messages
)

// String returns "om" or "sm".
func (a Algorithm) String() string {
	if a == SM {
		return "sm"
	}
	return "om"
}

// Name returns "OM" or "SM", the paper's spelling.
func (a Algorithm) Name() string { return strings.ToUpper(a.String()) }

// ParseAlgorithm parses "om" or "sm".
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ToLower(s) {
	case "om":
		return OM, nil
	case "sm":
		return SM, nil
	}
	return 0, fmt.Errorf("generals: unknown algorithm %q (valid: om, sm)", s)
}

// Strategy is how traitors behave in a single run.
type Strategy uint8

// Traitor strategies.
const (
	// Flip: a traitor relays the opposite of what it received; a traitor
	// commander sends the opposite of its order to everyone. In SM a flipped
	// relay of a loyal general's order carries a signature that no longer
	// verifies, so loyal receivers discard it.
	Flip Strategy = iota
	// Split: a traitor sends attack to the first half of the lieutenants
	// (L1..L⌈(n-1)/2⌉) and retreat to the rest, whatever it received.
	Split
	// Random: every message a traitor sends is chosen by the seeded source
	// (attack or retreat in OM; nothing, attack or retreat in SM).
	Random
	// Silent: a traitor sends nothing at all.
	Silent
)

// String returns the strategy's command-line name.
func (s Strategy) String() string {
	switch s {
	case Flip:
		return "flip"
	case Split:
		return "split"
	case Random:
		return "random"
	case Silent:
		return "silent"
	}
	return fmt.Sprintf("strategy(%d)", uint8(s))
}

// Strategies lists every strategy in a fixed order.
func Strategies() []Strategy { return []Strategy{Flip, Split, Random, Silent} }

// ParseStrategy parses a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies() {
		if strings.EqualFold(s, st.String()) {
			return st, nil
		}
	}
	return 0, fmt.Errorf("generals: unknown strategy %q (valid: flip, split, random, silent)", s)
}

// Name returns how a general is written in traces: C for the commander,
// L1..Ln-1 for the lieutenants.
func Name(id int) string {
	if id == 0 {
		return "C"
	}
	return fmt.Sprintf("L%d", id)
}
