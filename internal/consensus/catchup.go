package consensus

import (
	"github.com/strategos/strategos/internal/chain"
)

// Catch-up by height. A validator far behind its peers (restarted after a
// long outage, or new) asks one peer at a time for committed blocks above
// its tip, lowest first. Unlike fetched ancestors, these blocks are not
// anchored to a certificate the validator already verified, so each
// block's parent certificate, and the certificate of the last block, is
// verified before the block enters the tree; the ordinary commit rule then
// commits them.

type syncState struct {
	from     uint64 // the lowest height asked for
	peer     uint32
	deadline uint64
	tries    int
}

func (c *Core) startSync(peer uint32) {
	if c.syncing != nil {
		return
	}
	if peer == c.cfg.Self || !c.cfg.Validators.Has(peer) {
		peer = c.nextPeer(c.cfg.Self)
	}
	c.syncing = &syncState{peer: peer, from: c.tip.Height + 1}
	c.requestSync()
}

func (c *Core) requestSync() {
	s := c.syncing
	s.deadline = c.now + uint64(fetchRetryTicks*c.cfg.BaseTimeout)
	s.tries++
	c.send(s.peer, Message{SyncRequest: &SyncRequest{From: s.from, Count: c.cfg.MaxFetch}})
}

// retrySync moves an overdue catch-up to the next peer, and gives up after
// a few tries: the next proposal from far ahead starts it again.
func (c *Core) retrySync() {
	s := c.syncing
	if s == nil || s.deadline > c.now {
		return
	}
	if s.tries >= maxFetchTries {
		c.syncing = nil
		return
	}
	s.peer = c.nextPeer(s.peer)
	c.requestSync()
}

// Pruned is what the last peer that pruned the heights this validator
// asked for said: From is the lowest height it lacks, Earliest the lowest
// the peer keeps. A validator that every peer answers this way cannot
// catch up by blocks; it needs a snapshot (state sync).
type Pruned struct {
	Peer           uint32
	From, Earliest uint64
}

// LastPruned returns the last Pruned answer, if any came since this
// validator's tip passed its height.
func (c *Core) LastPruned() (Pruned, bool) {
	if c.pruned.Earliest == 0 || c.pruned.From <= c.tip.Height {
		return Pruned{}, false
	}
	return c.pruned, true
}

// onSyncRequest serves committed blocks from storage, within the same
// per-peer budget as block requests.
func (c *Core) onSyncRequest(r *SyncRequest, from uint32) {
	if c.served[from] >= servedPerTick {
		c.drop("sync request over budget")
		return
	}
	c.served[from]++
	if c.cfg.Storage == nil || r.From == 0 {
		return
	}
	resp := ServeSync(c.cfg.Storage, r, c.tip.Height, c.cfg.MaxFetch, c.cfg.MaxResponseBytes)
	if resp == nil {
		return
	}
	c.send(from, Message{SyncResponse: resp})
}

// onSyncResponse verifies and inserts committed blocks from a peer.
func (c *Core) onSyncResponse(r *SyncResponse, from uint32) {
	s := c.syncing
	if s == nil || from != s.peer {
		c.drop("unsolicited sync response")
		return
	}
	if len(r.Blocks) == 0 && r.QC == nil && r.Earliest > s.from {
		// The peer pruned what this validator lacks: ask the next one,
		// and say so (Pruned) in case every peer did.
		c.pruned = Pruned{Peer: from, From: s.from, Earliest: r.Earliest}
		s.deadline = c.now
		c.retrySync()
		return
	}
	if len(r.Blocks) == 0 || len(r.Blocks) > c.cfg.MaxFetch || r.QC == nil {
		c.drop("malformed sync response")
		return
	}
	var hashes []chain.Hash
	for i, b := range r.Blocks {
		if err := c.checkBlockShape(b); err != nil {
			c.drop("invalid block in sync response")
			return
		}
		h := b.Hash(c.cfg.ChainID)
		if i > 0 && (b.Parent != hashes[i-1] || b.Height != r.Blocks[i-1].Height+1) {
			c.drop("sync response is not a chain")
			return
		}
		hashes = append(hashes, h)
	}
	if r.QC.BlockHash != hashes[len(hashes)-1] {
		c.drop("sync response certificate is for another block")
		return
	}
	for _, b := range r.Blocks {
		if err := c.verifyQC(b.QC); err != nil {
			c.drop("invalid certificate in sync response")
			return
		}
	}
	if err := c.verifyQC(r.QC); err != nil {
		c.drop("invalid certificate in sync response")
		return
	}
	for i, b := range r.Blocks {
		if b.Height <= c.tip.Height {
			continue
		}
		if !c.parentOK(b) {
			c.drop("sync response does not extend the tree")
			c.syncing = nil
			return
		}
		c.insert(b, hashes[i])
	}
	c.processQC(r.QC, from)
	c.connectOrphans()
	c.syncing = nil
	if last := r.Blocks[len(r.Blocks)-1]; (len(r.Blocks) == c.cfg.MaxFetch || last.Height < r.Tip) && last.Height >= c.tip.Height {
		// A full batch, or one cut by the responder's byte budget below
		// its tip: there is more. Ask above what was just inserted, not
		// above the tip: the batch may not have let the commit rule
		// advance the tip.
		c.syncing = &syncState{peer: from, from: last.Height + 1}
		c.requestSync()
	}
}
