package consensus

import (
	"slices"

	"github.com/strategos/strategos/internal/chain"
)

// Block fetching. A validator that sees a certificate or a proposal for a
// block it does not hold asks a peer for the block and its ancestors. The
// requested hash always comes from a verified certificate or a verified
// proposal's parent link, and every ancestor is bound to it by parent
// hashes; so fetched blocks are authentic without checking their
// signatures again.

type fetchState struct {
	peer     uint32
	deadline uint64
	tries    int
}

// fetch asks peer for block h (and ancestors) unless a request is in
// flight, or a catch-up by height is: that brings the blocks from the tip
// up, and walking back from every proposal and certificate of a network
// far ahead would spend the peers' serving budget (which the catch-up
// shares) on blocks that cannot connect yet.
func (c *Core) fetch(h chain.Hash, peer uint32) {
	if _, ok := c.fetching[h]; ok || c.syncing != nil {
		return
	}
	if peer == c.cfg.Self || !c.cfg.Validators.Has(peer) {
		peer = c.nextPeer(c.cfg.Self)
	}
	c.fetching[h] = &fetchState{peer: peer}
	c.requestBlock(h, c.fetching[h])
}

func (c *Core) requestBlock(h chain.Hash, f *fetchState) {
	f.deadline = c.now + uint64(fetchRetryTicks*c.cfg.BaseTimeout)
	f.tries++
	c.send(f.peer, Message{BlockRequest: &BlockRequest{Hash: h, Count: c.cfg.MaxFetch, Above: c.tip.Height}})
}

func (c *Core) nextPeer(p uint32) uint32 {
	n := uint32(c.cfg.Validators.Len())
	q := (p + 1) % n
	if q == c.cfg.Self {
		q = (q + 1) % n
	}
	return q
}

// retryFetches re-sends overdue requests to the next peer, and gives up
// after a few tries (a later certificate will ask again).
func (c *Core) retryFetches() {
	var due []chain.Hash
	for h, f := range c.fetching {
		if f.deadline <= c.now {
			due = append(due, h)
		}
	}
	slices.SortFunc(due, func(a, b chain.Hash) int { return compareHash(a, b) })
	for _, h := range due {
		f := c.fetching[h]
		if f.tries >= maxFetchTries {
			delete(c.fetching, h)
			continue
		}
		f.peer = c.nextPeer(f.peer)
		c.requestBlock(h, f)
	}
}

func compareHash(a, b chain.Hash) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}

// onBlockRequest serves a block and its ancestors, from memory or storage,
// within a per-peer budget so that requests cannot starve consensus, down
// to the requester's committed height and within MaxResponseBytes.
func (c *Core) onBlockRequest(r *BlockRequest, from uint32) {
	if c.served[from] >= servedPerTick {
		c.drop("block request over budget")
		return
	}
	c.served[from]++
	out := ServeBlocks(c.readBlock, r, c.cfg.MaxFetch, c.cfg.MaxResponseBytes)
	if len(out) == 0 {
		return
	}
	c.send(from, Message{BlockResponse: &BlockResponse{Blocks: out}})
}

// readBlock reads a block from the tree, or else from storage.
func (c *Core) readBlock(h chain.Hash) (*chain.Block, bool) {
	if b, ok := c.tree[h]; ok {
		return b, true
	}
	if c.cfg.Storage == nil {
		return nil, false
	}
	return c.cfg.Storage.Block(h)
}

// onBlockResponse accepts blocks that were asked for and links them into
// the tree, fetching further ancestors while they are missing.
func (c *Core) onBlockResponse(r *BlockResponse, from uint32) {
	if len(r.Blocks) == 0 || len(r.Blocks) > c.cfg.MaxFetch || r.Blocks[0] == nil {
		c.drop("malformed block response")
		return
	}
	want := r.Blocks[0].Hash(c.cfg.ChainID)
	if _, ok := c.fetching[want]; !ok {
		c.drop("unsolicited block response")
		return
	}
	delete(c.fetching, want)
	h := want
	var oldest *chain.Block
	for i, b := range r.Blocks {
		if i > 0 {
			if b == nil || b.Hash(c.cfg.ChainID) != r.Blocks[i-1].Parent {
				break
			}
			h = r.Blocks[i-1].Parent
		}
		if c.checkBlockShape(b) != nil {
			break
		}
		if b.Height <= c.tip.Height {
			break
		}
		if _, ok := c.tree[h]; ok {
			break
		}
		if len(c.orphans) >= maxOrphans {
			clear(c.orphans)
		}
		c.orphans[h] = b
		oldest = b
	}
	c.connectOrphans()
	if oldest != nil {
		if _, ok := c.tree[oldest.Parent]; !ok && oldest.Height-1 > c.tip.Height {
			if oldest.Height > c.tip.Height+uint64(c.cfg.MaxFetch) {
				c.startSync(from)
			} else {
				c.fetch(oldest.Parent, from)
			}
		}
	}
}

// connectOrphans inserts, lowest first, every orphan whose parent is now
// in the tree.
func (c *Core) connectOrphans() {
	for {
		var ready []*chain.Block
		for _, b := range c.orphans {
			if _, ok := c.tree[b.Parent]; ok {
				ready = append(ready, b)
			}
		}
		if len(ready) == 0 {
			return
		}
		slices.SortFunc(ready, func(a, b *chain.Block) int {
			if a.Height != b.Height {
				return int(a.Height) - int(b.Height)
			}
			return compareHash(a.Hash(c.cfg.ChainID), b.Hash(c.cfg.ChainID))
		})
		for _, b := range ready {
			h := b.Hash(c.cfg.ChainID)
			delete(c.orphans, h)
			if !c.parentOK(b) {
				c.drop("fetched block does not extend its parent")
				continue
			}
			c.insert(b, h)
		}
	}
}

// encodedSize bounds from above the bytes block b takes in a response:
// its payload with each entry's tag and length, its evidence with each
// proof's tags, the header, and its QC.
func encodedSize(b *chain.Block) int {
	n := 1<<10 + b.PayloadBytes() + 6*len(b.Payload)
	for _, e := range b.Evidence {
		n += e.Size() + e.EncodingOverhead()
	}
	if b.QC != nil {
		n += 96 * len(b.QC.Votes)
	}
	return n
}
