package node

import (
	"context"
	"math"
	"time"

	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/leader"
	"github.com/strategos/strategos/internal/snapshot"
)

// Pruning (config retain_blocks N): a worker beside the consensus loop
// deletes the committed heights below the latest N, in the store's
// bounded batches, pausing between them so that commits, which share the
// store's write lock, interleave. It never deletes a height the
// application has not executed. Peers that ask for a pruned height are
// told where this node's blocks begin (consensus.SyncResponse.Earliest).

const (
	// pruneEvery is how often the pruner looks for heights to delete.
	pruneEvery = time.Second
	// pruneGap separates two batches of one round of pruning.
	pruneGap = 5 * time.Millisecond
)

func (n *Node) runPruner(ctx context.Context) {
	retain := n.home.Node.RetainBlocks
	if retain == 0 {
		return
	}
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		n.pruneOnce(ctx, retain)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneOnce deletes every height below the latest retain, batch by batch.
func (n *Node) pruneOnce(ctx context.Context, retain uint64) {
	// Read once per round: snapshots taken or removed meanwhile only
	// raise it, so the value read first is the safe one.
	snapFloor := n.snapshotFloor()
	for {
		tip := n.store.CommittedHeight()
		executed, _ := n.store.AppState()
		if tip < retain || executed == 0 {
			return
		}
		k, err := n.store.Prune(min(tip-retain+1, executed+1, n.historyFloor(tip), snapFloor))
		if err != nil {
			n.log.Error("pruning failed; the node goes on without pruning until the next try", "err", err)
			return
		}
		if k == 0 {
			return
		}
		n.forgetRoots(n.store.EarliestHeight()-uint64(k), n.store.EarliestHeight())
		n.metrics.pruned.Add(float64(k))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pruneGap):
		}
	}
}

// forgetRoots deletes the recorded app hashes of heights [from, to),
// pruned: no block the validator will check carries them any more.
func (n *Node) forgetRoots(from, to uint64) {
	var keys []string
	for h := from; h < to; h++ {
		keys = append(keys, rootKey(h))
	}
	if err := n.store.AppPut(nil, keys); err != nil {
		n.log.Error("pruning the recorded app hashes failed", "err", err)
	}
}

// historyFloor is the lowest height the leader rule reads when the node
// starts at tip: a node that lacked those blocks would draw other leaders
// than its peers, so pruning keeps them whatever retain_blocks says.
func (n *Node) historyFloor(tip uint64) uint64 {
	return leader.HistoryFloor(leader.Params{}, // the node runs the default rule
		n.vals.Len(), tip, func(h uint64) (int64, bool) {
			b, _, _, ok := n.store.CommittedBlock(h)
			if !ok {
				return 0, false
			}
			return b.Time, true
		})
}

// snapshotFloor is the lowest height a peer restoring this node's oldest
// snapshot fetches (the leader rule's history below it, as historyFloor
// for that height), so that a snapshot offered can be completed; no bound
// without snapshots.
func (n *Node) snapshotFloor() uint64 {
	metas, err := snapshot.List(n.snapshotDir()) // highest first
	if err != nil || len(metas) == 0 {
		return math.MaxUint64
	}
	return n.historyFloor(metas[len(metas)-1].Height)
}

// notePruned logs, once per answer, that a peer pruned the heights this
// validator lacks: if every peer has, it can only rejoin from a snapshot.
func (n *Node) notePruned() {
	c, ok := n.replica.(*consensus.Core)
	if !ok {
		return
	}
	p, ok := c.LastPruned()
	if !ok || p == n.prunedSeen {
		return
	}
	n.prunedSeen = p
	n.notePrunedBy(p)
	n.log.Warn("a peer pruned the blocks this validator lacks; if every peer has, restart it on an empty home with --state-sync",
		"peer", p.Peer, "lacking_from", p.From, "peer_earliest", p.Earliest)
}
