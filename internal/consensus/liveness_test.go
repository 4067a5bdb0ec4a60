package consensus

import (
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// (f) With validator 3 silent, the others time out of its rounds, form TCs,
// and keep committing; no block of the silent validator is committed.
func TestSilentLeaderTimesOut(t *testing.T) {
	n := newTestNet(t, 4, nil)
	n.drop = func(m Message) bool { return m.From == 3 }
	withTC := 0
	n.observe = func(_ uint32, r Ready) {
		for _, m := range r.Messages {
			if m.Proposal != nil && m.Proposal.TC != nil {
				withTC++
			}
		}
	}
	n.run(400)
	if n.sent["timeout"] == 0 || withTC == 0 {
		t.Fatalf("no timeouts (%d) or no proposals justified by a TC (%d)", n.sent["timeout"], withTC)
	}
	n.checkAgreement()
	for i := range uint32(3) {
		seq := n.committed(i)
		if len(seq) < 15 {
			t.Fatalf("node %d committed only %d blocks", i, len(seq))
		}
		last := n.stores[i].blocks[seq[len(seq)-1]]
		if last.Round < 3*8 {
			t.Errorf("node %d: last commit is from round %d; rounds led by 3 were not passed", i, last.Round)
		}
		for _, h := range seq {
			if n.stores[i].blocks[h].Proposer == 3 {
				t.Fatalf("node %d committed a block of the silent validator", i)
			}
		}
	}
}

// (f) While rounds keep failing (all votes lost), each round's timeout
// grows by a fifth (at least a tick) up to the cap; one successful round
// resets it to the base. (MinTimeout = BaseTimeout pins the adaptive base,
// which TestAdaptiveTimeout covers.)
func TestTimeoutBackoff(t *testing.T) {
	const base, maxT = 4, 32
	n := newTestNet(t, 4, func(c *Config) { c.BaseTimeout, c.MinTimeout, c.MaxTimeout = base, base, maxT })
	entered := map[uint64]int{1: 0} // round -> step in which node 0 entered it
	fired := map[uint64]int{}       // round -> step in which node 0 first timed out in it
	n.observe = func(i uint32, r Ready) {
		for _, m := range r.Messages {
			if i == 0 && m.Timeout != nil && m.Timeout.Voter == 0 {
				if _, ok := fired[m.Timeout.Round]; !ok {
					fired[m.Timeout.Round] = n.steps
				}
			}
		}
	}
	step := func(k int) {
		for range k {
			n.step()
			if r := n.cores[0].Round(); entered[r] == 0 && r != 1 {
				entered[r] = n.steps
			}
		}
	}
	waits := func(from uint64, want []int) {
		t.Helper()
		for j, w := range want {
			r := from + uint64(j)
			e, ok1 := entered[r]
			f, ok2 := fired[r]
			if !ok1 || !ok2 || f-e != w {
				t.Fatalf("round %d: entered at step %d (%v), timed out at %d (%v): waited %d ticks, want %d", r, e, ok1, f, ok2, f-e, w)
			}
		}
	}
	dropVotes := func(m Message) bool { return m.Vote != nil }

	n.drop = dropVotes
	grow := []int{4, 5, 7, 9, 11, 14, 17, 21, 26, 32, 32}
	total := 1
	for _, w := range grow {
		total += w
	}
	step(total)
	waits(1, grow)
	if len(n.committed(0)) != 0 {
		t.Fatal("committed without votes")
	}

	n.drop = nil
	before := len(n.committed(0))
	for range 200 {
		if len(n.committed(0)) >= before+5 {
			break
		}
		step(1)
	}
	if len(n.committed(0)) < before+5 {
		t.Fatal("no progress after votes were restored")
	}

	n.drop = dropVotes
	r := n.cores[0].Round()
	step(4 + 5 + 7 + 1)
	waits(r, []int{4, 5, 7})
}

// (g) A validator isolated for many heights catches up by height when
// reconnected and commits the same sequence as the others.
func TestCatchUpAfterIsolation(t *testing.T) {
	const fetch = 8
	n := newTestNet(t, 4, func(c *Config) { c.MaxFetch = fetch })
	isolated := true
	n.drop = func(m Message) bool { return isolated && (m.From == 3 || m.To == 3) }
	const gap = 5 * fetch
	n.runUntil(3000, "committed while 3 is isolated", func() bool { return len(n.committed(0)) >= gap })
	if got := len(n.committed(3)); got != 0 {
		t.Fatalf("isolated node committed %d blocks", got)
	}
	isolated = false
	target := len(n.committed(0))
	// What the node reports as catching up: the highest certified block
	// it knows of is far above its committed tip.
	behind := func() bool { return n.cores[3].CertifiedHeight() > uint64(len(n.committed(3)))+4 }
	n.runUntil(3000, "3 sees that it is behind", behind)
	n.runUntil(3000, "3 caught up", func() bool { return len(n.committed(3)) >= target })
	n.run(20)
	if behind() {
		t.Fatalf("caught up, yet certified height %d against %d committed", n.cores[3].CertifiedHeight(), len(n.committed(3)))
	}
	n.checkAgreement()
	// The gap is five batches long: validator 3 caught up by height, one
	// full batch after another.
	if n.sent["sync-request"] < gap/fetch-1 || n.handled["sync-response"] < gap/fetch-1 {
		t.Fatalf("%d sync requests, %d responses: blocks did not come by catch-up", n.sent["sync-request"], n.handled["sync-response"])
	}
	// Validator 3 takes part again: more commits after catching up.
	n.run(100)
	n.checkAgreement()
	if len(n.committed(3)) < target+10 {
		t.Fatalf("node 3 stopped at %d commits", len(n.committed(3)))
	}

	// A response nobody asked for is dropped and changes nothing.
	c := n.cores[3]
	first := n.stores[3].blocks[n.committed(3)[0]]
	was := c.Stats().Dropped["unsolicited block response"]
	c.Step(Message{From: 0, To: 3, BlockResponse: &BlockResponse{Blocks: []*chain.Block{first}}})
	if r := c.Ready(); !r.IsEmpty() || c.Stats().Dropped["unsolicited block response"] != was+1 {
		t.Fatalf("unsolicited response: ready %+v, dropped %v", r, c.Stats().Dropped)
	}
}

// A pending proposal whose proposer claims a huge height does not make a
// validator that keeps up report itself behind: its QC is at or below
// the committed tip (so it says nothing about the network's height), and
// any other counts for no more heights than its QC's round allows.
func TestCertifiedHeightIgnoresClaims(t *testing.T) {
	n := newTestNet(t, 4, nil)
	n.runUntil(3000, "10 commits", func() bool { return len(n.committed(0)) >= 10 })
	c := n.cores[0]
	before := c.CertifiedHeight()
	tip, _ := c.Committed()
	unknown := chain.Hash{0xee}
	b := n.block(tip.Round+1_000_000, 1_000_000_000, unknown, n.qc(1, unknown, 1, 2, 3), 3)
	c.Step(Message{From: 3, To: 0, Proposal: n.propose(b, nil)})
	c.Ready()
	if got := c.CertifiedHeight(); got > before+1 {
		t.Fatalf("certified height %d after a claim of height %d over a stale QC (was %d)", got, b.Height, before)
	}
	// Over a QC above the tip, the claim counts only as far as the QC's
	// round: here 3 rounds above the tip, so at most 3 heights.
	unknown2 := chain.Hash{0xef}
	b2 := n.block(tip.Round+4, 1_000_000_000, unknown2, n.qc(tip.Round+3, unknown2, 1, 2, 3), 3)
	c.Step(Message{From: 3, To: 0, Proposal: n.propose(b2, nil)})
	c.Ready()
	if got := c.CertifiedHeight(); got > max(before, tip.Height+3) {
		t.Fatalf("certified height %d after a claim over a QC 3 rounds above the tip %d", got, tip.Height)
	}
}
