package node

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// receive feeds one decoded frame from a peer to the core, or, for
// transaction gossip, to the mempool.
func (n *Node) receive(in inFrame) {
	env := in.Env
	if n.farBehind != nil && env.Msg.SyncResponse != nil {
		return // about to jump: blocks executed now would be thrown away (resync.go)
	}
	if env.Evidence != nil {
		n.metrics.msgsIn.WithLabelValues("evidence").Inc()
		// An honest validator gossips only proofs it verified under the
		// same rules, so one that fails (other than by age, which depends
		// on the round each side is in) proves its sender Byzantine:
		// checking its signatures again and again on this loop is what a
		// flood of forgeries would cost.
		if err := n.addEvidence(*env.Evidence, false); err != nil && !errors.Is(err, chain.ErrEvidenceStale) {
			n.quarantine(in.From, "forged evidence")
		}
		return
	}
	if env.TxBatch != nil {
		n.metrics.msgsIn.WithLabelValues("tx-batch").Inc()
		// Admission checks signatures: it runs beside the consensus loop,
		// never in it.
		select {
		case n.gossipIn <- env.TxBatch:
		default:
			n.metrics.dropped.WithLabelValues("gossip admission queue full").Inc()
		}
		return
	}
	if env.SnapshotRequest != nil {
		n.metrics.msgsIn.WithLabelValues("snapshot-request").Inc()
		if reason, ok := n.serve.offer(serveRequest{from: in.From, snap: env.SnapshotRequest}, time.Now()); !ok {
			n.metrics.dropped.WithLabelValues(reason).Inc()
		}
		return
	}
	if env.SnapshotResponse != nil {
		n.metrics.dropped.WithLabelValues("snapshot response to a running validator").Inc()
		return
	}
	m := env.Msg
	m.From, m.To = in.From, n.self
	if m.BlockRequest != nil || m.SyncRequest != nil {
		n.metrics.msgsIn.WithLabelValues(m.Kind()).Inc()
		n.serveRequest(m) // answered beside the consensus loop
		return
	}
	n.metrics.msgsIn.WithLabelValues(m.Kind()).Inc()
	mark := n.markStep(m)
	n.replica.Step(m)
	n.emitReceived(m, mark)
}

// flush applies the core's Ready in the order the core requires.
func (n *Node) flush() error {
	if err := n.retryApp(); err != nil {
		return err
	}
	// A read that failed (Block, CommittedBlock) could not say so where
	// it was made: the store is failing, and the node stops loudly rather
	// than act on "absent".
	if err := n.store.Err(); err != nil {
		return fmt.Errorf("node: stopping: %w", err)
	}
	if r, ok := n.replica.(rounder); ok {
		// The round evidence is judged at and recorded after; the loop
		// that calls flush is the only one that reads it.
		n.round = r.Round()
	}
	rd := n.replica.Ready()
	if rd.IsEmpty() {
		return nil
	}
	if rd.Safety != nil || len(rd.Blocks) > 0 {
		start := time.Now()
		if err := n.store.Persist(rd.Blocks, rd.Safety); err != nil {
			return fmt.Errorf("node: persist: %w", err)
		}
		n.metrics.storeWrite.Observe(time.Since(start).Seconds())
	}
	if s := rd.Safety; s != nil {
		if s.HighQC != nil && s.HighQC.Round > n.highQC {
			n.highQC = s.HighQC.Round
			n.metrics.qcs.Inc()
		}
		if s.HighTC != nil && s.HighTC.Round > n.highTC {
			n.highTC = s.HighTC.Round
			n.metrics.tcs.Inc()
		}
	}
	for _, b := range rd.Blocks {
		txs := n.txsOf(b)
		hs := make([]chain.Hash, len(txs))
		for i, t := range txs {
			hs[i] = t.Hash
		}
		// The hashes are at hand: the block's hash takes its payload
		// root from them rather than hashing every transaction again.
		n.pool.InFlight(b.HashWith(n.chainID, chain.PayloadHashOf(hs)), b.Height, hs)
	}
	if n.signLog != nil {
		n.journal(rd.Messages)
	}
	for _, m := range rd.Messages {
		n.send(m)
	}
	if len(rd.Committed) > 0 {
		if err := n.commit(rd.Committed); err != nil {
			return err
		}
	}
	n.emitReady(&rd)
	for _, e := range rd.Evidence {
		_ = n.addEvidence(e, true) // the core's own finding; a failure is counted and logged
	}
	return nil
}

func classOf(m consensus.Message) transport.Class {
	switch {
	case m.BlockRequest != nil, m.BlockResponse != nil, m.SyncRequest != nil, m.SyncResponse != nil:
		return transport.Sync
	}
	return transport.Consensus
}

func (n *Node) send(m consensus.Message) {
	frame, err := wire.EncodeMessage(m)
	if err != nil {
		// Only a Byzantine wrapper can produce an unencodable message.
		n.log.Debug("cannot encode outgoing message", "kind", m.Kind(), "err", err)
		return
	}
	kind := m.Kind()
	n.metrics.msgsOut.WithLabelValues(kind).Inc()
	if m.Timeout != nil && m.Timeout.Voter == n.self {
		n.metrics.timeouts.Inc()
	}
	if m.To == consensus.Broadcast {
		n.tr.Broadcast(classOf(m), frame)
		return
	}
	if err := n.tr.Send(m.To, classOf(m), frame); err != nil {
		// The transport counts and logs its drops by reason and class
		// (strategos_transport_dropped_total); this counts them by reason
		// among the node's dropped messages.
		n.metrics.dropped.WithLabelValues("outbound " + transport.Reason(err)).Inc()
	}
}

// commit makes committed blocks durable, executes them, and clears their
// transactions from the mempool. While the application is unusable, the
// blocks are committed without execution, which the handshake catches up
// once it is back.
func (n *Node) commit(cs []consensus.Commit) error {
	n.admitMu.Lock()
	defer n.admitMu.Unlock()
	// Counted once the index holds the blocks' transactions, before the
	// lock goes: an admission that read the index earlier, during this
	// commit, sees the count move and reads it again (counted at the
	// start, an admission could read the count after it moved and the
	// index before it was written, and admit a committed transaction).
	defer n.commits.Add(1)
	for i, c := range cs {
		if err := n.rootDiffers(c.Block); errors.Is(err, errRootDiffers) {
			n.diverged(c.Block, err)
		} else if err != nil {
			return fmt.Errorf("node: reading the recorded state root: %w", err)
		}
		if n.appError() != "" {
			return n.commitUnexecuted(cs[i:])
		}
		ctx, cancel := appContext()
		ex, err := n.execute(ctx, c.Block, &c)
		cancel()
		if errors.Is(err, app.ErrUnavailable) {
			n.appFailed(err)
			if h, _ := n.store.AppState(); h < c.Block.Height {
				return n.commitUnexecuted(cs[i:])
			}
			err = nil // recorded; the application's Commit is replayed
		}
		if err != nil {
			return err
		}
		n.settle(c.Block, c.Hash, ex)
	}
	n.publish()
	return nil
}

// commitUnexecuted commits blocks without executing them.
func (n *Node) commitUnexecuted(cs []consensus.Commit) error {
	if err := n.store.Commit(cs); err != nil {
		return fmt.Errorf("node: commit: %w", err)
	}
	for _, c := range cs {
		n.lastHash = c.Hash
		n.metrics.height.Set(float64(c.Block.Height))
	}
	n.publish()
	return nil
}

// settle clears an executed block's transactions from the mempool and the
// accept log, rechecks what is still pending, and counts the commit. The
// caller holds admitMu.
func (n *Node) settle(b *chain.Block, hash chain.Hash, ex executed) {
	txs := n.txsOf(b)
	now := time.Now()
	done := final(txs, ex.results)
	n.pool.Committed(b.Height, done)
	n.acceptLog.Settle(done) // after the pool: see makeDurable
	n.recheck(ex.recheck)
	for blk := range n.blockTxs {
		if blk.Height <= b.Height {
			delete(n.blockTxs, blk)
		}
	}
	n.txsTotal += uint64(len(b.Payload))
	n.metrics.txsCommitted.Add(float64(len(b.Payload)))
	n.metrics.height.Set(float64(b.Height))
	if b.Time > 0 {
		n.metrics.commitLat.Observe(now.Sub(time.Unix(0, b.Time)).Seconds())
	}
	n.window = append(n.window, commitMark{at: now, txs: len(b.Payload)})
	n.lastHash = hash
	n.log.Debug("committed", "height", b.Height, "hash", hash.Short(), "round", b.Round, "txs", len(b.Payload))
}

// maxGossipBatch bounds one gossip frame.
const maxGossipBatch = 2 << 20

func (n *Node) sendGossip() {
	n.gossipMu.Lock()
	txs := n.gossipTxs
	n.gossipTxs = nil
	n.gossipMu.Unlock()
	for len(txs) > 0 {
		size, i := 0, 0
		for i < len(txs) && i < maxGossipTxs && (i == 0 || size+len(txs[i]) <= maxGossipBatch) {
			size += len(txs[i])
			i++
		}
		frame, err := wire.Encode(wire.Envelope{TxBatch: txs[:i]})
		if err == nil {
			n.tr.Broadcast(transport.Gossip, frame)
			n.metrics.msgsOut.WithLabelValues("tx-batch").Inc()
		}
		txs = txs[i:]
	}
}

// journal writes what this validator signed to the sign log, one line per
// signature: "vote <round> <block>", "timeout <round> <high-qc-round>" or
// "proposal <round> <block>".
func (n *Node) journal(ms []consensus.Message) {
	for _, m := range ms {
		var line string
		switch {
		case m.Vote != nil && m.Vote.Voter == n.self:
			line = fmt.Sprintf("vote %d %s\n", m.Vote.Round, m.Vote.BlockHash)
		case m.Timeout != nil && m.Timeout.Voter == n.self:
			line = fmt.Sprintf("timeout %d %d\n", m.Timeout.Round, m.Timeout.HighQC.Round)
		case m.Proposal != nil && m.Proposal.Block != nil && m.Proposal.Block.Proposer == n.self:
			line = fmt.Sprintf("proposal %d %s\n", m.Proposal.Block.Round, m.Proposal.Block.Hash(n.chainID))
		default:
			continue
		}
		if _, err := io.WriteString(n.signLog, line); err != nil {
			n.log.Error("sign log", "err", err)
		}
	}
}

// final returns the hashes of a block's transactions that the block
// settled (applied or rejected for good), leaving out those not applicable
// yet (app.TxResult.Later), which stay pending.
func final(txs []*app.Tx, rs []app.TxResult) []chain.Hash {
	out := make([]chain.Hash, 0, len(txs))
	for i, t := range txs {
		if i < len(rs) && rs[i].Later {
			continue
		}
		out = append(out, t.Hash)
	}
	return out
}

// txsOf returns b's transactions, parsed once per block while it is
// uncommitted: those in the mempool are the mempool's, with what
// admission parsed. Consensus goroutine only.
func (n *Node) txsOf(b *chain.Block) []*app.Tx {
	if txs, ok := n.blockTxs[b]; ok {
		return txs
	}
	txs := make([]*app.Tx, len(b.Payload))
	for i, bs := range b.Payload {
		h := chain.TxHash(bs)
		if t, ok := n.pool.Get(h); ok {
			txs[i] = t
		} else {
			txs[i] = &app.Tx{Bytes: bs, Hash: h}
		}
	}
	if b.Height > n.store.CommittedHeight() {
		n.blockTxs[b] = txs
	}
	return txs
}
