package generals

import (
	"fmt"
	"math/rand/v2"
)

// Run performs one run of cfg.Algorithm with every traitor following
// cfg.Strategy.
func Run(cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	var keys *keyring
	if cfg.Algorithm == SM {
		keys = newKeyring(cfg.Seed, cfg.Generals)
	}
	return runStrategy(cfg, traitorSet(cfg.Generals, cfg.Traitors), keys), nil
}

// runStrategy performs one run with every traitor following cfg.Strategy,
// its random choices drawn from a source seeded with cfg.Seed. keys is used
// by SM only.
func runStrategy(cfg Config, traitor []bool, keys *keyring) Result {
	rng := rand.New(rand.NewPCG(cfg.Seed, streamStrategy))
	if cfg.Algorithm == SM {
		return runSM(cfg, traitor, keys, &smStrategy{s: cfg.Strategy, rng: rng})
	}
	return runOM(cfg, traitor, &omStrategy{s: cfg.Strategy, n: cfg.Generals, rng: rng})
}

// chooser hands out the binary choices of the traitors, one at a time.
type chooser interface {
	choose() bool
}

// bitChooser takes the choices from the bits of one case number, lowest
// first, so that the cases 0..2^k-1 enumerate every combination of k choices.
type bitChooser struct {
	bits uint64
	next int
}

func (b *bitChooser) choose() bool {
	bit := b.bits>>b.next&1 == 1
	b.next++
	return bit
}

// coinChooser takes each choice from a seeded biased coin.
type coinChooser struct {
	rng *rand.Rand
	p   float64 // probability of true
}

func (c *coinChooser) choose() bool { return c.rng.Float64() < c.p }

// counter counts the choices a run asks for, always answering false.
type counter struct{ n int }

func (c *counter) choose() bool { c.n++; return false }

// runChoices performs one run in which the traitors take their choices from
// ch (see omChoices and smChoices for what a choice is).
func runChoices(cfg Config, traitor []bool, keys *keyring, ch chooser) Result {
	if cfg.Algorithm == SM {
		return runSM(cfg, traitor, keys, &smChoices{traitor: traitor, order: cfg.Order, ch: ch})
	}
	return runOM(cfg, traitor, &omChoices{traitor: traitor, ch: ch})
}

// Choices returns how many binary choices the traitors of cfg make in one
// run, so that an exhaustive search tries 2^Choices cases. In OM a choice is
// the value of one message a traitor sends to a loyal general; in SM it is
// whether one loyal lieutenant receives, in one round, a valid order for one
// value that the traitors can sign.
func Choices(cfg Config) (int, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	return choices(cfg, traitorSet(cfg.Generals, cfg.Traitors)), nil
}

func choices(cfg Config, traitor []bool) int {
	if cfg.Algorithm == SM {
		loyal := 0
		traitorLts := 0
		for id := 1; id < cfg.Generals; id++ {
			if traitor[id] {
				traitorLts++
			} else {
				loyal++
			}
		}
		k := 0
		if traitor[0] {
			k += 2 * loyal
		}
		if traitorLts > 0 {
			k += (smRounds(cfg.Generals, cfg.M) - 1) * loyal * len(smValues(traitor[0], cfg.Order))
		}
		return k
	}
	// OM: the message pattern does not depend on the choices, so one run
	// that counts them is exact.
	c := &counter{}
	runOM(Config{Generals: cfg.Generals, M: cfg.M, Order: cfg.Order}, traitor, &omChoices{traitor: traitor, ch: c})
	return c.n
}

// Summary is the outcome of an exhaustive search.
type Summary struct {
	Choices       int    // binary choices per case
	Cases         uint64 // 2^Choices, every one tried
	Violations    uint64 // cases that broke IC1 or IC2
	IC1Violations uint64
	IC2Violations uint64
	// Example is the first case that broke IC1 or IC2, or case 0 if none
	// did, run again with cfg.Trace; ExampleCase is its number.
	Example     Result
	ExampleCase uint64
}

// Exhaust runs cfg once for every combination of the traitors' choices (see
// Choices) and counts the cases that break IC1 or IC2. It refuses, with an
// error wrapping ErrTooLarge, when there are more than 2^MaxChoices cases or
// more work than maxWork message deliveries (0 means DefaultMaxWork).
func Exhaust(cfg Config, maxWork uint64) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	if maxWork == 0 {
		maxWork = DefaultMaxWork
	}
	traitor := traitorSet(cfg.Generals, cfg.Traitors)
	k := choices(cfg, traitor)
	if k > MaxChoices {
		return Summary{}, fmt.Errorf("generals: %w: exhaustive search needs 2^%d cases (%d traitor choices), more than the limit of 2^%d; run single strategies instead, or use fewer generals, traitors or a smaller m",
			ErrTooLarge, k, k, MaxChoices)
	}
	cases := uint64(1) << k
	keys := newKeyring(cfg.Seed, cfg.Generals)
	quiet := cfg
	quiet.Trace = false
	// With every choice taken, a case sends the most messages.
	if per := runChoices(quiet, traitor, keys, &bitChooser{bits: ^uint64(0)}).Messages; cases*uint64(max(per, 1)) > maxWork {
		return Summary{}, fmt.Errorf("generals: %w: exhaustive search needs %d cases of about %d messages each, more than the limit of %d deliveries; use fewer generals or a smaller m",
			ErrTooLarge, cases, per, maxWork)
	}
	s := Summary{Choices: k, Cases: cases}
	found := false
	for c := range cases {
		res := runChoices(quiet, traitor, keys, &bitChooser{bits: c})
		if res.IC1 && res.IC2 {
			continue
		}
		s.Violations++
		if !res.IC1 {
			s.IC1Violations++
		}
		if !res.IC2 {
			s.IC2Violations++
		}
		if !found {
			found, s.ExampleCase = true, c
		}
	}
	s.Example = runChoices(cfg, traitor, keys, &bitChooser{bits: s.ExampleCase})
	return s, nil
}

// DefaultMaxWork bounds an exhaustive search to about this many message
// deliveries, a few seconds of work.
const DefaultMaxWork = 1 << 28
