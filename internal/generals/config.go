package generals

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Limits that keep a run bounded. They refuse arguments that would run for
// hours or exhaust memory rather than attempt them.
const (
	// MaxGenerals bounds the number of generals of one run.
	MaxGenerals = 1000
	// MaxOMMessages bounds the messages of one OM(m) run, which grow like
	// (n-1)(n-2)...(n-m-1).
	MaxOMMessages = 5_000_000
	// MaxChoices bounds Exhaust: at most 2^MaxChoices cases.
	MaxChoices = 22
)

// Errors callers can test with errors.Is.
var (
	// ErrInvalid marks arguments that describe no possible run.
	ErrInvalid = errors.New("invalid arguments")
	// ErrTooLarge marks runs or searches too large to perform.
	ErrTooLarge = errors.New("too large")
)

// Stream identifiers of the seeded sources, so that the traitor choice and
// the strategy of one seed are independent.
const (
	streamTraitors = 0x7472616974 // "trait"
	streamStrategy = 0x7374726174 // "strat"
	streamSearch   = 0x7365617263 // "searc"
)

// Config describes one run.
type Config struct {
	Algorithm Algorithm
	Generals  int   // n: general 0 commands, 1..n-1 are lieutenants
	M         int   // the m of OM(m) and SM(m)
	Traitors  []int // ids of the traitors, 0 meaning the commander
	Order     Value // the commander's order (a traitor commander's nominal one)
	Strategy  Strategy
	Seed      uint64 // drives the random strategy and the SM keys
	Trace     bool   // record who told whom what
}

// Validate reports why c describes no run, or nil.
func (c Config) Validate() error {
	n := c.Generals
	switch {
	case n < 2:
		return fmt.Errorf("generals: %w: need at least 2 generals (a commander and a lieutenant), got %d", ErrInvalid, n)
	case n > MaxGenerals:
		return fmt.Errorf("generals: %w: at most %d generals, got %d", ErrTooLarge, MaxGenerals, n)
	case c.M < 0:
		return fmt.Errorf("generals: %w: m must be at least 0, got %d", ErrInvalid, c.M)
	case len(c.Traitors) > n:
		return fmt.Errorf("generals: %w: more traitors (%d) than generals (%d)", ErrInvalid, len(c.Traitors), n)
	case c.Algorithm != OM && c.Algorithm != SM:
		return fmt.Errorf("generals: %w: unknown algorithm %d (valid: om, sm)", ErrInvalid, c.Algorithm)
	case c.Order != Attack && c.Order != Retreat:
		return fmt.Errorf("generals: %w: unknown order %d (valid: attack, retreat)", ErrInvalid, c.Order)
	case c.Strategy > Silent:
		return fmt.Errorf("generals: %w: unknown strategy %d (valid: flip, split, random, silent)", ErrInvalid, c.Strategy)
	}
	seen := make([]bool, n)
	for _, id := range c.Traitors {
		if id < 0 || id >= n {
			return fmt.Errorf("generals: %w: traitor id %d out of range 0..%d (0 is the commander)", ErrInvalid, id, n-1)
		}
		if seen[id] {
			return fmt.Errorf("generals: %w: traitor id %d listed twice", ErrInvalid, id)
		}
		seen[id] = true
	}
	if c.Algorithm == OM {
		if msgs, ok := OMMessages(n, c.M); !ok || msgs > MaxOMMessages {
			return fmt.Errorf("generals: %w: OM(%d) among %d generals sends more than %d messages; use a smaller m or fewer generals",
				ErrTooLarge, c.M, n, MaxOMMessages)
		}
	}
	return nil
}

// OMMessages is the closed form of the number of messages OM(m) sends among
// n generals when every general sends every message: M(n,0) = n-1 and
// M(n,m) = (n-1) + (n-1)*M(n-1,m-1). ok is false if it overflows uint64.
func OMMessages(n, m int) (count uint64, ok bool) {
	if n <= 1 {
		return 0, true
	}
	k := uint64(n - 1)
	if m <= 0 {
		return k, true
	}
	sub, ok := OMMessages(n-1, m-1)
	if !ok || (sub != 0 && k > (^uint64(0)-k)/sub) {
		return 0, false
	}
	return k + k*sub, true
}

// PickTraitors chooses t distinct generals out of n with a seeded source and
// returns their ids in increasing order.
func PickTraitors(n, t int, seed uint64) ([]int, error) {
	if n < 2 {
		return nil, fmt.Errorf("generals: %w: need at least 2 generals (a commander and a lieutenant), got %d", ErrInvalid, n)
	}
	if n > MaxGenerals {
		return nil, fmt.Errorf("generals: %w: at most %d generals, got %d", ErrTooLarge, MaxGenerals, n)
	}
	if t < 0 || t > n {
		return nil, fmt.Errorf("generals: %w: cannot pick %d traitors among %d generals", ErrInvalid, t, n)
	}
	rng := rand.New(rand.NewPCG(seed, streamTraitors))
	ids := rng.Perm(n)[:t]
	slices.Sort(ids)
	return ids, nil
}

// Result is the outcome of one run.
type Result struct {
	// Decisions holds the decision of every loyal lieutenant, by id.
	Decisions map[int]Value
	// IC1: every loyal lieutenant decided alike.
	IC1 bool
	// IC2: the commander is a traitor, or every loyal lieutenant decided
	// its order.
	IC2 bool
	// Messages counts the messages sent, by anyone, valid or not.
	Messages int
	// Trace lists, when Config.Trace is set, who told whom what, round by
	// round, and how each loyal lieutenant decided.
	Trace []string
}

// traitorSet returns traitor[id] for every general.
func traitorSet(n int, ids []int) []bool {
	t := make([]bool, n)
	for _, id := range ids {
		t[id] = true
	}
	return t
}

// judge builds a Result from the decisions of all lieutenants.
func judge(traitor []bool, order Value, decided []Value) Result {
	res := Result{Decisions: make(map[int]Value), IC1: true, IC2: true}
	first := true
	var common Value
	for id := 1; id < len(traitor); id++ {
		if traitor[id] {
			continue
		}
		d := decided[id]
		res.Decisions[id] = d
		if first {
			common, first = d, false
		} else if d != common {
			res.IC1 = false
		}
		if !traitor[0] && d != order {
			res.IC2 = false
		}
	}
	return res
}

// majority is the paper's majority function over binary values: attack if
// attack holds a strict majority of the total, retreat otherwise (a tie
// retreats).
func majority(attack, total int) Value {
	if 2*attack > total {
		return Attack
	}
	return Retreat
}
