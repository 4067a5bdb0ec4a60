package statesync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// silentNet takes requests and never answers, as peers that are down.
type silentNet struct{ sent atomic.Int32 }

func (n *silentNet) Send(uint32, wire.Envelope) { n.sent.Add(1) }
func (n *silentNet) Recv(ctx context.Context) (uint32, wire.Envelope, error) {
	<-ctx.Done()
	return 0, wire.Envelope{}, ctx.Err()
}

func testValidators(t *testing.T, n int) *chain.ValidatorSet {
	t.Helper()
	var vs []chain.Validator
	for i := range n {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		vs = append(vs, chain.Validator{PubKey: ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), Power: 1})
	}
	s, err := chain.NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDiscoverGivesUpAtItsTimeout: a running validator's jump (MinHeight,
// DiscoverTimeout) among peers that never list their snapshots ends with
// ErrNoSnapshot once the timeout has passed, having asked again in the
// meantime, rather than waiting for ever.
func TestDiscoverGivesUpAtItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &silentNet{}
		cfg := Config{ChainID: testChain, Validators: testValidators(t, 4), Self: 3, App: noApp{}, Net: net,
			MinHeight: 100, DiscoverTimeout: time.Minute, RequestTimeout: 5 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		_, err := Sync(ctx, cfg)
		took := time.Since(start)
		if !errors.Is(err, ErrNoSnapshot) {
			t.Fatalf("Sync among silent peers: %v; want ErrNoSnapshot", err)
		}
		if took < time.Minute || took > time.Minute+cfg.RequestTimeout {
			t.Fatalf("gave up after %v; want its timeout, %v", took, cfg.DiscoverTimeout)
		}
		if sent := net.sent.Load(); sent <= 3 {
			t.Fatalf("%d requests sent; want the 3 peers asked again", sent)
		}
	})
}

// scriptedNet delivers the envelopes queued on in, and those answer
// queues when a request is sent.
type scriptedNet struct {
	in     chan scripted
	answer func(to uint32) []scripted
}

type scripted struct {
	from uint32
	e    wire.Envelope
}

func (n *scriptedNet) Send(to uint32, _ wire.Envelope) {
	for _, a := range n.answer(to) {
		n.in <- a
	}
}
func (n *scriptedNet) Recv(ctx context.Context) (uint32, wire.Envelope, error) {
	select {
	case s := <-n.in:
		return s.from, s.e, nil
	case <-ctx.Done():
		return 0, wire.Envelope{}, ctx.Err()
	}
}

func blocksFrom(bs ...*chain.Block) wire.Envelope {
	return wire.Envelope{Msg: consensus.Message{BlockResponse: &consensus.BlockResponse{Blocks: bs}}}
}

// TestAncestorsLateAnswerIsNoFault: an answer that starts at a block asked
// for earlier (late, from a peer asked twice) is skipped without blame,
// and the same peer's right answer is taken; one that starts at a block
// never asked for marks its peer suspect, and the next peer is asked.
func TestAncestorsLateAnswerIsNoFault(t *testing.T) {
	bs := line(6) // heights 6..1
	at := func(h uint64) *chain.Block { return bs[6-h] }
	forged := *at(3)
	forged.Round += 10
	for _, tc := range []struct {
		name    string
		first   []*chain.Block // peer 0's first answer, before its right one
		suspect bool
	}{
		{"late", []*chain.Block{at(5), at(4), at(3)}, false},
		{"never asked for", []*chain.Block{&forged}, true},
	} {
		net := &scriptedNet{in: make(chan scripted, 16)}
		net.answer = func(to uint32) []scripted {
			right := scripted{to, blocksFrom(at(3), at(2), at(1))}
			if to == 0 {
				return []scripted{{0, blocksFrom(tc.first...)}, right}
			}
			return []scripted{right}
		}
		c := &client{cfg: Config{ChainID: testChain, Net: net, RequestTimeout: time.Second}, suspect: map[uint32]bool{}}
		c.cfg.defaults()
		requested := map[chain.Hash]bool{at(5).Hash(testChain): true} // asked before, answered by another peer
		want := at(3).Hash(testChain)
		got, err := c.ancestors(context.Background(), &offer{peers: []uint32{0, 1}}, want, 3, requested)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(got) != 3 || got[0].Hash(testChain) != want {
			t.Fatalf("%s: got %d blocks from height %d", tc.name, len(got), got[0].Height)
		}
		if c.suspect[0] != tc.suspect || c.suspect[1] {
			t.Fatalf("%s: suspects %v; want peer 0 %v", tc.name, c.suspect, tc.suspect)
		}
		if !requested[want] {
			t.Fatalf("%s: the block asked for is not recorded as requested", tc.name)
		}
	}
}
