package byzantine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// Honest is the name of the behaviour that does not misbehave.
const Honest = "honest"

// Options are what a behaviour needs to build its validator.
type Options struct {
	// Config is the validator's honest configuration, signer included.
	Config consensus.Config
	// Colluders lists every Byzantine validator, this one included; a
	// coalition of traitors knows its members.
	Colluders []uint32
	// Rand drives the behaviour's random choices; seed it for
	// reproducible runs.
	Rand *rand.Rand
}

type factory func(Options) (consensus.Replica, error)

var behaviours = map[string]struct {
	doc string
	new factory
}{
	Honest:          {"follows the protocol", func(o Options) (consensus.Replica, error) { return consensus.New(o.Config) }},
	"silent":        {"crash-like: receives but sends nothing", newSilent},
	"equivocate":    {"as leader proposes conflicting blocks to different peers; as voter votes for conflicting blocks", newEquivocate},
	"bad-signature": {"corrupts every signature it produces", newBadSignature},
	"forge-qc":      {"as leader proposes with fabricated quorum certificates", newForgeQC},
	"withhold":      {"as leader sends its proposal to fewer than a quorum", newWithhold},
	"delay":         {"delays every message by several timeouts", newDelay},
	"replay":        {"resends old messages", newReplay},
	"flood":         {"floods peers with invalid messages", newFlood},
}

// Names returns the behaviour names in sorted order, honest included.
func Names() []string {
	names := make([]string, 0, len(behaviours))
	for n := range behaviours {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe returns a one-line description of a behaviour.
func Describe(name string) string { return behaviours[name].doc }

// Valid reports whether name is a known behaviour.
func Valid(name string) bool { _, ok := behaviours[name]; return ok }

// New builds a validator that runs behaviour name.
func New(name string, o Options) (consensus.Replica, error) {
	b, ok := behaviours[name]
	if !ok {
		return nil, fmt.Errorf("byzantine: unknown behaviour %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(uint64(o.Config.Self), 0))
	}
	return b.new(o)
}

// wrapper is an honest core whose output passes through a filter.
type wrapper struct {
	core   *consensus.Core
	filter func(r *consensus.Ready)
	tick   func()
}

func (w *wrapper) Step(m consensus.Message) { w.core.Step(m) }

func (w *wrapper) Tick() {
	w.core.Tick()
	if w.tick != nil {
		w.tick()
	}
}

// Round and Leader report the wrapped core's view, so that a node's
// status and events show where a Byzantine validator is, as for any other.
func (w *wrapper) Round() uint64 { return w.core.Round() }

// Leader returns the leader of round.
func (w *wrapper) Leader(round uint64) uint32 { return w.core.Leader(round) }

func (w *wrapper) Ready() consensus.Ready {
	r := w.core.Ready()
	w.filter(&r)
	return r
}

func newSilent(o Options) (consensus.Replica, error) {
	c, err := consensus.New(o.Config)
	if err != nil {
		return nil, err
	}
	return &wrapper{core: c, filter: func(r *consensus.Ready) { r.Messages = nil }}, nil
}

// corruptSigner signs, then flips bits of the signature.
type corruptSigner struct{ inner chain.Signer }

func (s corruptSigner) Sign(msg []byte) []byte {
	sig := s.inner.Sign(msg)
	sig[0] ^= 0xff
	return sig
}

func newBadSignature(o Options) (consensus.Replica, error) {
	cfg := o.Config
	cfg.Signer = corruptSigner{inner: cfg.Signer}
	return consensus.New(cfg)
}

// newWithhold sends the validator's own proposals to too few peers for
// them to form a quorum, even with the leader's own vote.
func newWithhold(o Options) (consensus.Replica, error) {
	c, err := consensus.New(o.Config)
	if err != nil {
		return nil, err
	}
	vals := o.Config.Validators
	self := o.Config.Self
	return &wrapper{core: c, filter: func(r *consensus.Ready) {
		var out []consensus.Message
		for _, m := range r.Messages {
			if m.Proposal == nil || m.To != consensus.Broadcast {
				out = append(out, m)
				continue
			}
			// Add peers while leader plus recipients stay short of a
			// quorum of the total power.
			power := vals.Power(self)
			for _, p := range peers(vals.Len(), self) {
				if 3*(power+vals.Power(p)) > 2*vals.TotalPower() {
					break
				}
				power += vals.Power(p)
				mm := m
				mm.To = p
				out = append(out, mm)
			}
		}
		r.Messages = out
	}}, nil
}

// peers returns every validator index but self, in order.
func peers(n int, self uint32) []uint32 {
	out := make([]uint32, 0, n-1)
	for i := range uint32(n) {
		if i != self {
			out = append(out, i)
		}
	}
	return out
}

// delayTimeouts is how long the delay behaviour holds each message, in units
// of the base timeout.
const delayTimeouts = 3

type held struct {
	release int
	m       consensus.Message
}

func newDelay(o Options) (consensus.Replica, error) {
	c, err := consensus.New(o.Config)
	if err != nil {
		return nil, err
	}
	hold := delayTimeouts * o.Config.BaseTimeout
	if hold <= 0 {
		hold = delayTimeouts * 10
	}
	var now int
	var queue []held
	w := &wrapper{core: c}
	w.tick = func() { now++ }
	w.filter = func(r *consensus.Ready) {
		for _, m := range r.Messages {
			queue = append(queue, held{release: now + hold, m: m})
		}
		i := 0
		for i < len(queue) && queue[i].release <= now {
			i++
		}
		r.Messages = nil
		for _, h := range queue[:i] {
			r.Messages = append(r.Messages, h.m)
		}
		queue = slices.Clone(queue[i:])
	}
	return w, nil
}
