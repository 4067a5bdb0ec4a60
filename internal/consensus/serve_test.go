package consensus

import (
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// chainOf builds a chain of n blocks above genesis, each with one payload
// entry of size bytes; index i holds height i+1.
func chainOf(n, size int) ([]*chain.Block, map[chain.Hash]*chain.Block) {
	byHash := map[chain.Hash]*chain.Block{}
	var out []*chain.Block
	parent := chain.Hash{1}
	for i := range n {
		b := &chain.Block{Height: uint64(i + 1), Round: uint64(i + 1), Parent: parent, Payload: [][]byte{make([]byte, size)}}
		b.Payload[0][0] = byte(i)
		h := b.Hash(testChainID)
		byHash[h] = b
		out = append(out, b)
		parent = h
	}
	return out, byHash
}

type committedSlice []*chain.Block

func (s committedSlice) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	if h == 0 || h > uint64(len(s)) {
		return nil, chain.Hash{}, nil, false
	}
	b := s[h-1]
	return b, b.Hash(testChainID), &chain.QC{Round: b.Round, BlockHash: b.Hash(testChainID)}, true
}

// The pure serving functions keep the count, the byte budget (at least one
// block) and the requester's height, whoever calls them.
func TestServeBounds(t *testing.T) {
	blocks, byHash := chainOf(20, 10<<10)
	read := func(h chain.Hash) (*chain.Block, bool) { b, ok := byHash[h]; return b, ok }
	top := blocks[19].Hash(testChainID)
	one := encodedSize(blocks[0])
	cases := []struct {
		name             string
		req              BlockRequest
		maxFetch, budget int
		want             int
	}{
		{"count", BlockRequest{Hash: top, Count: 64}, 8, 1 << 30, 8},
		{"bytes", BlockRequest{Hash: top, Count: 64}, 64, 3*one + one/2, 3},
		{"at least one", BlockRequest{Hash: top, Count: 64}, 64, 1, 1},
		{"above", BlockRequest{Hash: top, Count: 64, Above: 15}, 64, 1 << 30, 5},
		{"unknown", BlockRequest{Hash: chain.Hash{9}, Count: 64}, 64, 1 << 30, 0},
	}
	for _, tc := range cases {
		out := ServeBlocks(read, &tc.req, tc.maxFetch, tc.budget)
		if len(out) != tc.want {
			t.Errorf("blocks %s: %d blocks, want %d", tc.name, len(out), tc.want)
		}
		for _, b := range out {
			if b.Height <= tc.req.Above {
				t.Errorf("blocks %s: served height %d at or below %d", tc.name, b.Height, tc.req.Above)
			}
		}
	}
	st := committedSlice(blocks)
	if r := ServeSync(st, &SyncRequest{From: 5, Count: 64}, 20, 64, 3*one+one/2); r == nil || len(r.Blocks) != 3 || r.Tip != 20 || r.QC.BlockHash != r.Blocks[2].Hash(testChainID) {
		t.Fatalf("sync within budget: %+v", r)
	}
	if r := ServeSync(st, &SyncRequest{From: 5, Count: 64}, 20, 64, 1); r == nil || len(r.Blocks) != 1 {
		t.Fatalf("sync with a tiny budget: %+v, want one block", r)
	}
	if r := ServeSync(st, &SyncRequest{From: 21, Count: 64}, 20, 64, 1<<30); r != nil {
		t.Fatalf("sync above the tip: %+v, want nil", r)
	}
	if r := ServeSync(st, &SyncRequest{From: 0, Count: 64}, 20, 64, 1<<30); r != nil {
		t.Fatalf("sync from 0: %+v, want nil", r)
	}
}
