package consensus

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// bigSource makes payloads of one entry of size bytes.
type bigSource struct {
	fakeSource
	size int
}

func (s *bigSource) Payload(height uint64, _ []*chain.Block) ([][]byte, []chain.Evidence) {
	return [][]byte{append(fmt.Appendf(nil, "tx height=%d by=%d ", height, s.self), bytes.Repeat([]byte{'x'}, s.size)...)}, nil
}

// responseSize is the estimated size of a block or sync response.
func responseSize(m Message) int {
	var blocks []*chain.Block
	switch {
	case m.BlockResponse != nil:
		blocks = m.BlockResponse.Blocks
	case m.SyncResponse != nil:
		blocks = m.SyncResponse.Blocks
	}
	n := 0
	for _, b := range blocks {
		n += encodedSize(b)
	}
	return n
}

// TestCatchUpWithLargeBlocks is finding 2 of issue 12: responses of up to
// 64 blocks had no byte budget, so with large blocks they outgrew the
// transport's frame, were dropped, and every retry asked for the same
// batch: a validator that fell behind never caught up. Responses now stop
// at MaxResponseBytes (at least one block) and catch-up goes on after a
// short batch while the responder is further ahead.
func TestCatchUpWithLargeBlocks(t *testing.T) {
	const (
		blockBytes = 64 << 10
		budget     = 4 * blockBytes // what a response may hold
		frame      = 6 * blockBytes // what the "transport" carries
	)
	n := newTestNet(t, 4, func(c *Config) {
		c.MaxFetch, c.MaxResponseBytes = 64, budget
		c.Source = &bigSource{fakeSource: fakeSource{self: c.Self}, size: blockBytes}
	})
	isolated := true
	oversize := 0
	n.drop = func(m Message) bool {
		if responseSize(m) > frame { // the transport refuses such a frame
			oversize++
			return true
		}
		return isolated && (m.From == 3 || m.To == 3)
	}
	const gap = 80
	n.runUntil(4000, "committed while 3 is isolated", func() bool { return len(n.committed(0)) >= gap })
	isolated = false
	target := len(n.committed(0))
	n.runUntil(6000, "3 caught up", func() bool { return len(n.committed(3)) >= target })
	n.checkAgreement()
	if oversize != 0 {
		t.Fatalf("%d responses were over the frame", oversize)
	}
}

// TestNothingServedBelowTheRequester: a block request names the
// requester's committed height, and the walk down the ancestors stops
// there.
func TestNothingServedBelowTheRequester(t *testing.T) {
	n := newTestNet(t, 4, nil)
	n.runUntil(2000, "ten commits", func() bool { return len(n.committed(0)) >= 10 })
	c := n.cores[0]
	tip, tipHash := c.Committed()
	c.Ready()
	c.Step(Message{From: 1, To: 0, BlockRequest: &BlockRequest{Hash: tipHash, Count: 64, Above: tip.Height - 3}})
	r := c.Ready()
	if len(r.Messages) != 1 || r.Messages[0].BlockResponse == nil {
		t.Fatalf("answer %+v, want one block response", r.Messages)
	}
	blocks := r.Messages[0].BlockResponse.Blocks
	if len(blocks) != 3 {
		t.Fatalf("served %d blocks for a requester 3 below the tip, want 3", len(blocks))
	}
	for _, b := range blocks {
		if b.Height <= tip.Height-3 {
			t.Fatalf("served height %d, at or below the requester's %d", b.Height, tip.Height-3)
		}
	}
}

// prunedReader has pruned every height below earliest.
type prunedReader struct{ earliest uint64 }

func (p prunedReader) CommittedBlock(uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	return nil, chain.Hash{}, nil, false
}
func (p prunedReader) EarliestHeight() uint64 { return p.earliest }

// A peer that pruned the heights asked for says from where it keeps
// them; the requester records it (LastPruned) and asks the next peer at
// once, rather than waiting out a timeout for an answer that never comes.
func TestPrunedPeerSaysSo(t *testing.T) {
	resp := ServeSync(prunedReader{earliest: 500}, &SyncRequest{From: 10, Count: 8}, 900, 64, 1<<20)
	if resp == nil || resp.Earliest != 500 || len(resp.Blocks) != 0 {
		t.Fatalf("answer %+v, want earliest 500 and no blocks", resp)
	}
	if r := ServeSync(prunedReader{earliest: 500}, &SyncRequest{From: 901, Count: 8}, 900, 64, 1<<20); r != nil {
		t.Fatalf("answer above the tip: %+v", r)
	}

	n := newTestNet(t, 4, nil)
	c := n.cores[3]
	c.Ready()
	c.startSync(1)
	if r := c.Ready(); len(r.Messages) != 1 || r.Messages[0].To != 1 || r.Messages[0].SyncRequest == nil {
		t.Fatalf("sent %+v, want a sync request to 1", r.Messages)
	}
	if _, ok := c.LastPruned(); ok {
		t.Fatal("pruned before any answer")
	}
	c.Step(Message{From: 1, To: 3, SyncResponse: &SyncResponse{Tip: 900, Earliest: 500}})
	p, ok := c.LastPruned()
	if !ok || p.Peer != 1 || p.Earliest != 500 || p.From != 1 {
		t.Fatalf("LastPruned = %+v, %v", p, ok)
	}
	r := c.Ready()
	if len(r.Messages) != 1 || r.Messages[0].SyncRequest == nil || r.Messages[0].To == 1 || r.Messages[0].To == 3 {
		t.Fatalf("after the answer sent %+v, want a sync request to another peer", r.Messages)
	}
}

// While a catch-up by height runs, a certificate of a block not held
// (a network far ahead) does not start a backward fetch: the catch-up
// brings the blocks, and the peers' serving budget is kept for it.
func TestNoBackwardFetchWhileCatchingUp(t *testing.T) {
	blockRequests := func(r Ready) (n int) {
		for _, m := range r.Messages {
			if m.BlockRequest != nil {
				n++
			}
		}
		return n
	}
	for _, syncing := range []bool{false, true} {
		c := newTestNet(t, 4, nil).cores[3]
		c.Ready()
		if syncing {
			c.startSync(1)
			c.Ready()
		}
		c.processQC(&chain.QC{Round: 50, BlockHash: chain.Hash{9}}, 1)
		got := blockRequests(c.Ready())
		if want := map[bool]int{false: 1, true: 0}[syncing]; got != want {
			t.Errorf("catching up %v: %d block requests for an unknown certified block, want %d", syncing, got, want)
		}
	}
}
