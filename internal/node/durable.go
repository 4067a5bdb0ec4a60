package node

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/mempool"
	"github.com/strategos/strategos/internal/store/journal"
)

// Durable acceptance. A client told 202 must never see its transaction
// lost, even when this node is killed before gossip or a block carries it
// away: admitted client transactions are written to the acceptance journal
// (group-committed, fsynced) before the answer, and replayed into
// admission when the node starts. Rejections this node decided are
// journaled too, so that "rejected, with its reason" survives a restart.

// journalMaxBytes bounds the acceptance journal on disk; past half of it
// live, clients are answered busy.
const journalMaxBytes = 256 << 20

// journalDir is where the journal lives, beside the store.
const journalDir = "accepted"

// openAcceptLog opens the journal and replays it: rejections are answered
// again; accepted transactions re-enter admission, and those that
// committed meanwhile are settled, those no longer valid rejected with
// the reason. Re-admitted ones are gossiped again. New calls it once the
// application has caught up.
func (n *Node) openAcceptLog() error {
	j, rep, err := journal.Open(filepath.Join(n.home.DataPath(), journalDir),
		journal.Config{MaxBytes: journalMaxBytes, Logger: n.log.With("part", "journal")})
	if err != nil {
		return fmt.Errorf("node: acceptance journal: %w", err)
	}
	n.acceptLog = j
	for _, r := range rep.Rejected {
		if evicted, ok := n.rejected.add(r.Hash, r.Reason); ok {
			j.Forget(evicted)
		}
	}
	if len(rep.Accepted) == 0 {
		return nil
	}
	txs := make([][]byte, len(rep.Accepted))
	for i, a := range rep.Accepted {
		txs[i] = a.Tx
	}
	hashes, errs := n.admitBatch(txs)
	kept, settled, rejected, deferred := 0, 0, 0, 0
	for i, err := range errs {
		switch {
		case err == nil || errors.Is(err, mempool.ErrDuplicate):
			kept++
			n.gossipTxs = append(n.gossipTxs, txs[i])
		case errors.Is(err, ErrCommitted):
			settled++
			j.Settle(hashes[i : i+1])
		case errors.Is(err, ErrAppUnavailable):
			// Admitted once, and not refused since: admitted again once
			// the application is back (readmitDeferred).
			deferred++
			n.deferred = append(n.deferred, txs[i])
		default:
			rejected++
			n.reject(hashes[i], "not valid when this node restarted: "+err.Error())
		}
	}
	n.log.Info("acceptance journal replayed", "pending", kept, "committed", settled, "rejected", rejected, "deferred", deferred,
		"rejections", len(rep.Rejected), "torn_segments", rep.Torn)
	return nil
}

// makeDurable journals the transactions of a client's request that
// admission accepted (errs[i] nil), and those already pending from gossip
// that the client is told are pending too, before the answer goes out. If
// the journal cannot take them, they are withdrawn and answered busy.
func (n *Node) makeDurable(txs [][]byte, hashes []chain.Hash, errs []error) {
	var idx []int
	for i, err := range errs {
		if err == nil || (errors.Is(err, mempool.ErrDuplicate) && !n.acceptLog.Accepted(hashes[i]) && n.pool.Has(hashes[i])) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	sel, hs := make([][]byte, len(idx)), make([]chain.Hash, len(idx))
	for j, i := range idx {
		sel[j], hs[j] = txs[i], hashes[i]
	}
	if err := n.acceptLog.Accept(sel, hs); err != nil {
		busy := fmt.Errorf("%w: %v", mempool.ErrFull, err)
		for _, i := range idx {
			if errs[i] == nil {
				n.pool.Remove(hashes[i])
			}
			errs[i] = busy
		}
		n.metrics.dropped.WithLabelValues("journal refused a client transaction").Add(float64(len(idx)))
		return
	}
	// A transaction that left the pool before its record was queued (it
	// committed, or was rejected, that fast) was settled before the
	// journal held it: settle it now. Pool removal precedes the journal's
	// settling in commit, so nothing is missed.
	var gone []chain.Hash
	for _, h := range hs {
		if !n.pool.Has(h) {
			gone = append(gone, h)
		}
	}
	n.acceptLog.Settle(gone)
}

// reject records that this node dropped a transaction it had accepted,
// in memory and in the journal.
func (n *Node) reject(h chain.Hash, why string) {
	if evicted, ok := n.rejected.add(h, why); ok {
		n.acceptLog.Forget(evicted)
	}
	n.acceptLog.Reject(h, why)
}

// registerDurableMetrics exposes the store's fork collection and the
// acceptance journal.
func (n *Node) registerDurableMetrics() {
	st := n.store
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	js := func(f func(journal.Stats) float64) func() float64 {
		return func() float64 {
			if n.acceptLog == nil {
				return 0
			}
			return f(n.acceptLog.Stats())
		}
	}
	n.metrics.reg.MustRegister(
		counter("strategos_store_fork_blocks_deleted_total", "Stored blocks deleted because another block committed at their height.",
			func() float64 { d, _, _ := st.ForkStats(); return float64(d) }),
		counter("strategos_store_fork_bytes_deleted_total", "Encoded bytes of the fork blocks deleted.",
			func() float64 { _, b, _ := st.ForkStats(); return float64(b) }),
		counter("strategos_store_blocks_not_stored_total", "Blocks not stored because they are at or below the committed height (they can never commit).",
			func() float64 { _, _, r := st.ForkStats(); return float64(r) }),
		gauge("strategos_journal_bytes", "Bytes of the acceptance journal on disk (bound: 256 MiB).",
			js(func(s journal.Stats) float64 { return float64(s.DiskBytes) })),
		gauge("strategos_journal_live_bytes", "Bytes of live journal records (accepted and not settled, or remembered rejections; bound: 128 MiB).",
			js(func(s journal.Stats) float64 { return float64(s.LiveBytes) })),
		gauge("strategos_journal_live_accepts", "Accepted client transactions the journal holds, not yet committed or rejected.",
			js(func(s journal.Stats) float64 { return float64(s.LiveAccepts) })),
		gauge("strategos_journal_live_rejections", "Rejections the journal keeps for clients to query.",
			js(func(s journal.Stats) float64 { return float64(s.LiveRejects) })),
		counter("strategos_journal_syncs_total", "Journal writes, one fsync each, shared by concurrent requests.",
			js(func(s journal.Stats) float64 { return float64(s.Syncs) })),
		counter("strategos_journal_sync_seconds_total", "Time spent writing and syncing the journal.",
			js(func(s journal.Stats) float64 { return s.SyncSeconds })),
		counter("strategos_journal_records_total", "Journal records written (moved ones included).",
			js(func(s journal.Stats) float64 { return float64(s.Records) })),
		counter("strategos_journal_refused_total", "Client transactions answered busy because the journal was at its bound.",
			js(func(s journal.Stats) float64 { return float64(s.Refused) })),
		counter("strategos_journal_compacted_bytes_total", "Live record bytes copied forward to free journal segments.",
			js(func(s journal.Stats) float64 { return float64(s.MovedBytes) })),
		gauge("strategos_disk_bytes", "Bytes of the files in the node's data directory (store, transaction index, journal), read when scraped.",
			func() float64 { return float64(dirBytes(n.home.DataPath())) }),
		gauge("strategos_earliest_height", "Lowest committed height this node serves (1: nothing is pruned).",
			func() float64 { return float64(min(st.CommittedHeight(), st.EarliestHeight())) }),
		gauge("strategos_store_free_bytes", "Bytes on the store file's free list: pruned pages that new blocks are written into before the file grows.",
			func() float64 { return float64(st.Disk().FreeBytes) }),
		gauge("strategos_store_file_bytes", "Bytes of the store file in use (its high-water mark).",
			func() float64 { return float64(st.Disk().FileBytes) }),
		gauge("strategos_snapshot_age_seconds", "Seconds since this node last took a snapshot for state sync (0: none yet).",
			func() float64 { return n.snapshotAge() }),
		gauge("strategos_catch_up_lag", "Heights between the highest certified block this validator knows of and its committed one.",
			func() float64 {
				s := n.status.Load()
				if s == nil {
					return 0
				}
				return float64(s.Certified - min(s.Certified, s.Height))
			}),
	)
}

// dirBytes returns the total size of the regular files under dir; files
// that vanish meanwhile (a compaction) are skipped.
func dirBytes(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			total += info.Size()
		}
		return nil
	})
	return total
}

// readmitDeferred admits again, once the application is back, the
// journaled transactions that it could not check when the node started.
func (n *Node) readmitDeferred() {
	txs := n.deferred
	n.deferred = nil
	if len(txs) == 0 {
		return
	}
	go func() {
		hashes, errs := n.admitBatch(txs)
		for i, err := range errs {
			switch {
			case err == nil:
				n.gossipMu.Lock()
				n.gossipTxs = append(n.gossipTxs, txs[i])
				n.gossipMu.Unlock()
			case errors.Is(err, ErrCommitted):
				n.acceptLog.Settle(hashes[i : i+1])
			case !errors.Is(err, mempool.ErrDuplicate) && !errors.Is(err, ErrAppUnavailable):
				n.reject(hashes[i], "not valid once the application was back: "+err.Error())
			}
		}
	}()
}
