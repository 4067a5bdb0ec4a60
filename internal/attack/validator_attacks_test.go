//go:build unix

package attack

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// Windows of the default run; STRATEGOS_SOAK_ATTACK scales them.
const (
	baseWindow   = 3 * time.Second
	attackWindow = 6 * time.Second
	progressK    = 5                // heights every honest node must gain while the attack goes on
	progressWait = 30 * time.Second // within this: generous, on a loaded 2-core machine
)

// leads reports whether the attacker leads round r (round-robin).
func leads(r uint64) bool { return r%4 == attacker }

// nextLedRound returns the first round from r on that the attacker leads.
func nextLedRound(r uint64) uint64 {
	for !leads(r) {
		r++
	}
	return r
}

// bigVariant is a copy of the attacker's own proposal p with about size
// bytes of valid kv payload, re-signed: a conflicting proposal for the
// same round.
func bigVariant(v *Validator, p *chain.Proposal, tag string, size int) *chain.Proposal {
	b := *p.Block
	b.Payload = KVPayload(tag, size)
	return v.Propose(&b, p.TC)
}

// TestEvidenceGossipBomb is finding 1: the attacker gossips self-accusing
// double proposals whose blocks hold 1 MiB each. Honest leaders must not
// put more evidence into a block than a block can carry, so the chain
// keeps committing.
func TestEvidenceGossipBomb(t *testing.T) {
	finding(t, 1)
	n := newNetwork(t, nil)
	var sent atomic.Int64
	n.underAttack("evidence gossip (3 double proposals of 1 MiB blocks, every second)", baseWindow, attackWindow,
		progressK, progressWait, func(ctx context.Context) {
			repeat(ctx, func() {
				s := n.att.State()
				if s.HighQC == nil {
					time.Sleep(100 * time.Millisecond)
					return
				}
				r := nextLedRound(s.Round)
				for i := range 3 {
					b := &chain.Block{Height: s.TipHeight + 3, Round: r + 4*uint64(i), Parent: s.HighQC.BlockHash, QC: s.HighQC,
						Proposer: n.att.Self, Time: time.Now().UnixNano()}
					b.Payload = KVPayload(fmt.Sprintf("a%d", r), 1<<20)
					a := n.att.Propose(b, nil)
					b2 := *b
					b2.Payload = KVPayload(fmt.Sprintf("b%d", r), 1<<20)
					f, err := EvidenceFrame(a, n.att.Propose(&b2, nil))
					if err != nil {
						t.Error(err)
						return
					}
					for _, h := range n.att.Honest() {
						if n.att.SendWait(ctx, h, ClassGossip, f) == nil {
							sent.Add(1)
						}
					}
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			})
		})
	t.Logf("sent %d evidence frames; honest evidence counts %v", sent.Load(),
		each(func(i int) int64 { return int64(n.metric(i, "strategos_evidence_total")) }))
}

// TestDoubleProposalBigBlocks is finding 1 as the stock equivocate
// behaviour does it, with 2 MiB blocks: whenever the attacker leads, it
// sends every honest validator two conflicting proposals. Each honest
// validator then holds a proof over 4 MiB of blocks; honest proposals must
// stay sendable (a proof is kept small and bounded inside the block's
// budget).
func TestDoubleProposalBigBlocks(t *testing.T) {
	finding(t, 1)
	n := newNetwork(t, nil)
	var doubled atomic.Int64
	n.underAttack("double proposals of 2 MiB blocks whenever the attacker leads", baseWindow, attackWindow,
		progressK, progressWait, func(ctx context.Context) {
			n.filter(ctx, func(m consensus.Message) []consensus.Message {
				p := m.Proposal
				if p == nil || p.Block.Proposer != n.att.Self {
					return []consensus.Message{m}
				}
				doubled.Add(1)
				tag := fmt.Sprintf("r%d", p.Block.Round)
				a, b := bigVariant(n.att, p, tag+"a", 2<<20), bigVariant(n.att, p, tag+"b", 2<<20)
				return []consensus.Message{{To: m.To, Proposal: a}, {To: m.To, Proposal: b}}
			})
		})
	t.Logf("%d rounds with double proposals; honest evidence counts %v", doubled.Load(),
		each(func(i int) int64 { return int64(n.metric(i, "strategos_evidence_total")) }))
}

// filter installs f as the attacker's output filter until ctx is done.
func (n *network) filter(ctx context.Context, f func(consensus.Message) []consensus.Message) {
	n.att.SetFilter(f)
	<-ctx.Done()
	n.att.SetFilter(nil)
}

// TestDecodeBombs is finding 3: frames of 4 MiB made of empty repeated
// entries (transactions, blocks, certificate signatures), sent as fast as
// the honest validators read them, on every class. Decoding must not
// stall consensus.
func TestDecodeBombs(t *testing.T) {
	finding(t, 3)
	n := newNetwork(t, nil)
	const size = MaxFrame - 16
	bombs := []struct {
		class byte
		frame []byte
	}{
		{ClassGossip, TxBatchBomb(size)}, {ClassSync, BlockResponseBomb(size)}, {ClassConsensus, QCBomb(size)},
		{ClassConsensus, TxBatchBomb(size)},
	}
	var sent atomic.Int64
	n.underAttack("decode bombs (4 MiB frames of empty entries)", baseWindow, attackWindow, progressK, progressWait,
		func(ctx context.Context) {
			n.eachHonest(ctx, func(h uint32) {
				for i := 0; ctx.Err() == nil; i++ {
					b := bombs[i%len(bombs)]
					if n.att.SendWait(ctx, h, b.class, b.frame) == nil {
						sent.Add(1)
					}
				}
			})
		})
	t.Logf("sent %d bombs; honest heap %v MiB", sent.Load(), mibs(each(n.heap)))
}

// eachHonest runs f for every honest validator in parallel and waits.
func (n *network) eachHonest(ctx context.Context, f func(h uint32)) {
	var wg sync.WaitGroup
	for _, h := range n.att.Honest() {
		wg.Go(func() { f(h) })
	}
	wg.Wait()
}

// TestBlockRequestFlood is finding 4: block requests for 64 blocks, as many
// as the honest validators read. Serving them must not slow consensus.
func TestBlockRequestFlood(t *testing.T) {
	n := newNetwork(t, nil)
	n.waitHeight(20, 60*time.Second)
	var sent atomic.Int64
	n.underAttack("block-request flood (64 blocks each)", baseWindow, attackWindow, progressK, progressWait,
		func(ctx context.Context) {
			n.eachHonest(ctx, func(h uint32) {
				for ctx.Err() == nil {
					s := n.att.State()
					f, err := wire.EncodeMessage(consensus.Message{BlockRequest: &consensus.BlockRequest{Hash: s.TipHash, Count: 64}})
					if err != nil {
						t.Error(err)
						return
					}
					for range 100 {
						if n.att.SendWait(ctx, h, ClassSync, f) == nil {
							sent.Add(1)
						}
					}
				}
			})
		})
	t.Logf("sent %d block requests", sent.Load())
}

// TestVoteSpray is finding 7: votes signed by the attacker for distinct
// random block hashes in every round up to 1,000 ahead. The honest
// validators must keep at most what evidence needs per (round, voter).
func TestVoteSpray(t *testing.T) {
	finding(t, 7)
	n := newNetwork(t, nil)
	// Commit some transactions first, so that what the store and the
	// mempool allocate once, on their first transactions (the tx index's
	// 2 MiB filter), is in the baseline: the evidence of the spray is the
	// first payload entry of the chain otherwise.
	n.loadBigBlocks(1 << 20)
	heap0 := each(n.liveHeap)
	var sent atomic.Int64
	n.underAttack("vote spray (distinct hashes, rounds up to 1,000 ahead)", baseWindow, attackWindow, progressK, progressWait,
		func(ctx context.Context) {
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := uint64(w); ctx.Err() == nil; i += 4 {
						var h chain.Hash
						rand.Read(h[:])
						f, err := wire.EncodeMessage(consensus.Message{Vote: n.att.Vote(n.att.State().Round+1+i%1000, h)})
						if err != nil {
							t.Error(err)
							return
						}
						for _, p := range n.att.Honest() {
							if n.att.SendWait(ctx, p, ClassConsensus, f) == nil {
								sent.Add(1)
							}
						}
					}
				})
			}
			wg.Wait()
		})
	heap1 := each(n.liveHeap)
	t.Logf("sent %d votes; honest live heap %v -> %v MiB", sent.Load(), mibs(heap0), mibs(heap1))
	const budget = 4 << 20 // what 1,000 rounds of two votes take is well under 1 MiB
	for i := range heap1 {
		if heap1[i]-heap0[i] > budget {
			t.Errorf("node %d: live heap grew by %.0f MiB under the vote spray, budget %d MiB", i, mib(heap1[i]-heap0[i]), budget>>20)
		}
	}
}

func mibs(bs []int64) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = fmt.Sprintf("%.0f", mib(b))
	}
	return out
}
