package statesync

import (
	"testing"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/snapshot"
)

const testChain = "statesync-test"

// line returns blocks 1..n, each the parent of the next, newest first.
func line(n int) []*chain.Block {
	var out []*chain.Block
	var parent chain.Hash
	for h := 1; h <= n; h++ {
		b := &chain.Block{Height: uint64(h), Round: uint64(h), Parent: parent}
		parent = b.Hash(testChain)
		out = append([]*chain.Block{b}, out...)
	}
	return out
}

func TestChainFromKeepsOnlyTheLinkedPrefix(t *testing.T) {
	bs := line(5) // heights 5..1
	top := bs[0]
	if got := chainFrom(testChain, top.Hash(testChain), 5, bs); len(got) != 5 {
		t.Fatalf("a whole linked chain: kept %d of 5", len(got))
	}
	forged := *bs[2]
	forged.Round++ // height 3, but not the parent of height 4
	mixed := []*chain.Block{bs[0], bs[1], &forged, bs[3]}
	if got := chainFrom(testChain, top.Hash(testChain), 5, mixed); len(got) != 2 {
		t.Fatalf("a chain broken at height 3: kept %d blocks, want heights 5 and 4", len(got))
	}
	if got := chainFrom(testChain, top.Hash(testChain), 4, bs); len(got) != 0 {
		t.Fatal("a block at the wrong height was kept")
	}
	if got := chainFrom(testChain, chain.Hash{1}, 5, bs); len(got) != 0 {
		t.Fatal("a block that is not the one asked for was kept")
	}
	if got := chainFrom(testChain, top.Hash(testChain), 5, []*chain.Block{nil}); len(got) != 0 {
		t.Fatal("a nil block was kept")
	}
}

// noApp restores nothing; it only makes the client take key/value
// snapshots.
type noApp struct{ app.Snapshotter }

func TestPickPrefersHighestFromTrustedPeers(t *testing.T) {
	meta := func(h uint64) *snapshot.Meta {
		return &snapshot.Meta{Height: h, Format: snapshot.Format, AppHash: []byte{byte(h)}, Chunks: [][]byte{make([]byte, 32)}}
	}
	offers := map[[32]byte]*offer{}
	add := func(h uint64, peers ...uint32) *offer {
		o := &offer{meta: meta(h), peers: peers}
		offers[o.meta.Hash()] = o
		return o
	}
	low := add(10, 0, 1, 2)
	high := add(20, 1)
	c := &client{cfg: Config{App: noApp{}}, failed: map[[32]byte]bool{}, suspect: map[uint32]bool{}}
	if o, _ := c.pick(offers); o != high {
		t.Fatalf("picked height %d, want the highest, 20", o.meta.Height)
	}
	c.suspect[1] = true
	if o, _ := c.pick(offers); o != low {
		t.Fatalf("picked height %d offered only by a suspect peer; want 10, offered by others too", o.meta.Height)
	}
	c.suspect[0], c.suspect[2] = true, true
	if o, _ := c.pick(offers); o != high {
		t.Fatalf("with every peer suspect, picked height %d; want the highest, 20", o.meta.Height)
	}
	abci := add(30, 0, 1, 2)
	abci.meta.Format, abci.meta.ABCI = snapshot.FormatABCI, &snapshot.ABCIMeta{}
	if o, _ := c.pick(offers); o == abci {
		t.Fatal("picked an ABCI snapshot for an application that restores key/value snapshots")
	}
	c.failed[high.meta.Hash()] = true
	c.failed[low.meta.Hash()] = true
	if o, ok := c.pick(offers); ok {
		t.Fatalf("picked height %d, though every snapshot was given up", o.meta.Height)
	}
}
