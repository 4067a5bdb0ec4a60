package leader

import (
	"crypto/ed25519"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

const testChain = "leader-test"

func vals(t testing.TB, n int) *chain.ValidatorSet {
	t.Helper()
	vs := make([]chain.Validator, n)
	for i := range vs {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		vs[i] = chain.Validator{PubKey: ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), Power: 1}
	}
	set, err := chain.NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// history builds committed blocks the way the core would: round r's leader
// proposes unless fails(r) says the round failed, each block records the
// leaders of the rounds it skips, and its QC is signed by voters(r).
type history struct {
	r      *Reputation
	blocks []*chain.Block
	round  uint64
}

func (h *history) run(rounds int, fails func(leader uint32) bool, voters func() []uint32) {
	var failed []uint32
	for range rounds {
		h.round++
		l := h.r.Leader(h.round, h.parentRound(), nil)
		if fails(l) {
			failed = append([]uint32{l}, failed...)
			continue
		}
		qc := &chain.QC{Round: h.round - 1 - uint64(len(failed))}
		for _, v := range voters() {
			qc.Votes = append(qc.Votes, chain.Signature{Signer: v})
		}
		b := &chain.Block{Height: uint64(len(h.blocks) + 1), Round: h.round, Proposer: l, QC: qc, Time: int64(h.round) * 1e8,
			FailedLeaders: failed[:min(len(failed), chain.MaxFailedLeaders(h.r.vals.Len()))]}
		failed = nil
		h.blocks = append(h.blocks, b)
		h.r.Commit(b)
	}
}

// parentRound is the round of the latest block, which the next extends.
func (h *history) parentRound() uint64 {
	if len(h.blocks) == 0 {
		return 0
	}
	return h.blocks[len(h.blocks)-1].Round
}

func all(n int) func() []uint32 {
	return func() []uint32 {
		var out []uint32
		for i := range n {
			out = append(out, uint32(i))
		}
		return out
	}
}

func except(n int, skip uint32) func() []uint32 {
	return func() []uint32 {
		var out []uint32
		for i := range n {
			if uint32(i) != skip {
				out = append(out, uint32(i))
			}
		}
		return out
	}
}

func never(uint32) bool { return false }

// leads counts how often each validator leads rounds from..from+k-1.
func leads(r *Reputation, from uint64, k int, n int) []int {
	out := make([]int, n)
	for i := range uint64(k) {
		out[r.Leader(from+i, from+i-1, nil)]++
	}
	return out
}

// Without history everyone is active, and the draw spreads the rounds over
// every validator.
func TestNoHistorySpreadsLeadership(t *testing.T) {
	r := New(testChain, vals(t, 4), Params{})
	for i, c := range leads(r, 1, 4000, 4) {
		if c < 800 || c > 1200 {
			t.Errorf("validator %d leads %d of 4000 rounds", i, c)
		}
		if r.Standing(r.Window(nil), uint32(i), nil) != Active {
			t.Errorf("validator %d is %v without history", i, r.Standing(r.Window(nil), uint32(i), nil))
		}
	}
}

// A validator that fails as leader stops being chosen once its failure is
// on the committed chain, and is chosen again once it behaves and its
// failures leave the window.
func TestFailedLeaderIsSkippedThenRecovers(t *testing.T) {
	const n = 4
	r := New(testChain, vals(t, n), Params{})
	h := &history{r: r}
	down := true
	h.run(200, func(l uint32) bool { return down && l == 3 }, except(n, 3))
	if got := r.Standing(r.Window(nil), 3, nil); got == Active {
		t.Fatalf("a crashed validator is %v, want failed or inactive", got)
	}
	// Failed weighs 0 and inactive 1 (of 1000 for the active ones): about
	// one round in 3,000.
	if c := leads(r, h.round+1, 1000, n)[3]; c > 3 {
		t.Fatalf("a crashed validator leads %d of the next 1000 rounds", c)
	}
	// Once its failure is recorded, no round of the crashed validator
	// fails again until the window has passed.
	var fails int
	for _, b := range h.blocks[len(h.blocks)-r.Params().ProposerWindow:] {
		fails += len(b.FailedLeaders)
	}
	if fails > 2 {
		t.Fatalf("%d failed rounds in the last window: the crashed leader keeps being elected", fails)
	}

	down = false // it restarts, votes, and no longer fails
	h.run(r.Params().ProposerWindow+r.Params().VoterWindow+5, never, all(n))
	if got := r.Standing(r.Window(nil), 3, nil); got != Active {
		t.Fatalf("a recovered validator is %v, want active", got)
	}
	if c := leads(r, h.round+1, 1000, n)[3]; c < 150 {
		t.Fatalf("a recovered validator leads only %d of 1000 rounds", c)
	}
}

// A validator never heard from (not in any QC, never proposing) is
// inactive: chosen rarely, so a restarted one still gets a turn.
func TestSilentVoterIsInactive(t *testing.T) {
	const n = 4
	r := New(testChain, vals(t, n), Params{})
	h := &history{r: r}
	h.run(100, never, except(n, 2))
	// It proposed within the voter window only by chance; run until it
	// has not.
	for i := 0; i < 100 && r.Standing(r.Window(nil), 2, nil) == Active; i++ {
		h.run(1, func(l uint32) bool { return l == 2 }, except(n, 2))
	}
	if got := r.Standing(r.Window(nil), 2, nil); got == Active {
		t.Fatalf("a validator missing from every QC is %v", got)
	}
	if c := leads(r, h.round+1, 10000, n)[2]; c > 200 {
		t.Fatalf("an inactive validator leads %d of 10000 rounds", c)
	}
}

// The leader for a block is a function of the chain it extends: a rule
// that has committed a prefix and is handed the rest as the branch agrees
// with one that committed everything. This is what keeps honest validators
// that committed different prefixes following the same leader.
func TestLeaderDependsOnTheChainNotOnWhatIsCommitted(t *testing.T) {
	const n = 7
	set := vals(t, n)
	full := New(testChain, set, Params{})
	h := &history{r: full}
	h.run(300, func(l uint32) bool { return l == 5 || l == 6 }, except(n, 6))
	for _, lag := range []int{0, 1, 3, 10} {
		part := New(testChain, set, Params{})
		for _, b := range h.blocks[:len(h.blocks)-lag] {
			part.Commit(b)
		}
		branch := h.blocks[len(h.blocks)-lag:]
		for r := h.round + 1; r < h.round+200; r++ {
			if a, b := full.Leader(r, h.round, nil), part.Leader(r, h.round, branch); a != b {
				t.Fatalf("lag %d, round %d: leader %d with everything committed, %d with %d blocks on the branch", lag, r, a, b, lag)
			}
		}
	}
}

// A restarted validator feeds the rule only the latest blocks of the
// window: it draws the same leaders as one that never restarted.
func TestRestartNeedsOnlyTheWindow(t *testing.T) {
	const n = 4
	set := vals(t, n)
	full := New(testChain, set, Params{})
	h := &history{r: full}
	h.run(500, func(l uint32) bool { return l == 1 && len(full.hist)%7 < 3 }, except(n, 0))
	again := New(testChain, set, Params{})
	tip := h.blocks[len(h.blocks)-1]
	k := 1
	for full.HistoryNeeded(k, h.blocks[len(h.blocks)-k].Time, tip.Time) {
		k++
	}
	if k >= len(h.blocks)/2 {
		t.Fatalf("a restart reads %d of %d blocks", k, len(h.blocks))
	}
	for _, b := range h.blocks[len(h.blocks)-k:] {
		again.Commit(b)
	}
	for r := h.round + 1; r < h.round+500; r++ {
		if a, b := full.Leader(r, h.round, nil), again.Leader(r, h.round, nil); a != b {
			t.Fatalf("round %d: leader %d, after a restart %d", r, a, b)
		}
	}
}

// Feeding a block twice, or an older one, changes nothing.
func TestCommitIsIdempotent(t *testing.T) {
	r := New(testChain, vals(t, 4), Params{})
	h := &history{r: r}
	h.run(50, func(l uint32) bool { return l == 2 }, all(4))
	before := leads(r, h.round+1, 500, 4)
	for _, b := range h.blocks[len(h.blocks)-10:] {
		r.Commit(b)
	}
	after := leads(r, h.round+1, 500, 4)
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("re-feeding blocks changed the leaders: %v, then %v", before, after)
		}
	}
}

// When every validator failed recently the rule still chooses.
func TestEveryoneFailedFallsBackToPower(t *testing.T) {
	r := New(testChain, vals(t, 4), Params{})
	r.Commit(&chain.Block{Height: 1, Round: 10, Proposer: 0, QC: &chain.QC{}, FailedLeaders: []uint32{0, 1, 2, 3, 0, 1, 2, 3, 0}})
	seen := leads(r, 11, 400, 4)
	for i, c := range seen {
		if c == 0 {
			t.Fatalf("validator %d never leads after a network-wide outage: %v", i, seen)
		}
	}
}

func BenchmarkLeader(b *testing.B) {
	for _, n := range []int{4, 100} {
		r := New(testChain, vals(b, n), Params{})
		h := &history{r: r}
		h.run(2000, func(l uint32) bool { return l%7 == 0 }, all(n))
		b.Run("n="+string(rune('0'+n/100))+string(rune('0'+n%100/10))+string(rune('0'+n%10)), func(b *testing.B) {
			for i := range b.N {
				r.Leader(uint64(i)+1, uint64(i), nil)
			}
		})
	}
}

// The floor is what HistoryNeeded reads: the count windows, or further
// back while blocks are within the time span, never more than MaxWindow.
func TestHistoryFloor(t *testing.T) {
	const n = 4 // windows 40 + 8
	at := func(perSecond int64) func(uint64) (int64, bool) {
		return func(h uint64) (int64, bool) { return int64(h) * 1e9 / perSecond, true }
	}
	for _, tc := range []struct {
		tip       uint64
		perSecond int64
		want      uint64
	}{
		{10, 1, 1},                        // the whole chain is within the windows
		{1000, 1, 1000 - 48 + 1},          // slow blocks: the count windows
		{1000, 20, 1000 - 200 - 1},        // 10 s of blocks at 20 a second
		{100000, 1000, 100000 - 4096 + 1}, // capped at MaxWindow
	} {
		got := HistoryFloor(Params{}, n, tc.tip, at(tc.perSecond))
		if got != tc.want {
			t.Errorf("tip %d at %d blocks/s: floor %d, want %d", tc.tip, tc.perSecond, got, tc.want)
		}
		// What the floor keeps is what HistoryNeeded asks for.
		r := &Reputation{p: Params{}.withDefaults(n)}
		tipTime, _ := at(tc.perSecond)(tc.tip)
		count := 0
		for h := tc.tip; h >= 1; h-- {
			count++
			bt, _ := at(tc.perSecond)(h)
			if !r.HistoryNeeded(count, bt, tipTime) {
				if h < got {
					t.Errorf("tip %d: the rule stops reading at %d, below the floor %d", tc.tip, h, got)
				}
				break
			}
			if h < got {
				t.Errorf("tip %d: the rule reads height %d, below the floor %d", tc.tip, h, got)
				break
			}
		}
	}
}
