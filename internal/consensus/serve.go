package consensus

import "github.com/strategos/strategos/internal/chain"

// Serving blocks to peers, as pure functions of what a validator holds, so
// that the Core (driven by the simulator) and a node's serving worker, off
// the consensus loop, answer requests by the same rules: at most maxFetch
// blocks, within maxBytes (at least one block), nothing at or below the
// requester's committed height.

// CommittedReader reads committed blocks by height, as Storage does.
type CommittedReader interface {
	CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool)
}

// ServeBlocks answers r with the requested block and its ancestors, newest
// first, read by read; nil when the requested block is unknown.
func ServeBlocks(read func(chain.Hash) (*chain.Block, bool), r *BlockRequest, maxFetch, maxBytes int) []*chain.Block {
	n := min(max(r.Count, 1), maxFetch)
	var out []*chain.Block
	size := 0
	for h := r.Hash; len(out) < n; {
		b, ok := read(h)
		if !ok || b.Height == 0 || b.Height <= r.Above {
			break
		}
		if size += encodedSize(b); len(out) > 0 && size > maxBytes {
			break
		}
		out = append(out, b)
		h = b.Parent
	}
	return out
}

// PrunedReader is a CommittedReader that may have pruned the oldest
// heights; a store.Store is one.
type PrunedReader interface {
	EarliestHeight() uint64
}

// ServeSync answers r with committed blocks from r.From upwards, up to tip
// (the responder's committed height); nil when it has none to give. If st
// pruned r.From, the answer says from which height it keeps blocks.
func ServeSync(st CommittedReader, r *SyncRequest, tip uint64, maxFetch, maxBytes int) *SyncResponse {
	if r.From == 0 {
		return nil
	}
	if p, ok := st.(PrunedReader); ok && r.From <= tip {
		if e := p.EarliestHeight(); r.From < e {
			return &SyncResponse{Tip: tip, Earliest: e}
		}
	}
	n := uint64(min(max(r.Count, 1), maxFetch))
	resp := &SyncResponse{Tip: tip}
	size := 0
	for h := r.From; h < r.From+n && h <= tip; h++ {
		b, _, qc, ok := st.CommittedBlock(h)
		if !ok {
			break
		}
		if size += encodedSize(b); len(resp.Blocks) > 0 && size > maxBytes {
			break
		}
		resp.Blocks = append(resp.Blocks, b)
		resp.QC = qc
	}
	if len(resp.Blocks) == 0 {
		return nil
	}
	return resp
}
