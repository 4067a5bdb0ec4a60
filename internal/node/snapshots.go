package node

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/light"
	"github.com/strategos/strategos/internal/snapshot"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// Snapshots for state sync. Every snapshot_interval heights a validator
// whose application can export its state (app.Snapshotter: bank, kv)
// writes the state of that height to data/snapshots, beside the
// consensus loop, and keeps the latest snapshotsKept. It serves them to
// peers that start with --state-sync (package statesync), with the
// commit certificate of their height, through the same worker and
// per-peer budgets as block requests.

const (
	snapshotsDir = "snapshots"
	// snapshotsKept: a peer that is fetching the older one can finish
	// while the newer is written.
	snapshotsKept = 2
	// snapshotInUse keeps a snapshot beyond snapshotsKept while a peer
	// has asked for one of its chunks this recently (a restore asks for
	// chunks without pause, and gives a peer up after a few seconds of
	// silence); at most snapshotsInUse such, so that peers cannot make a
	// node keep them all. Pruning keeps their blocks too, so the window
	// is short.
	snapshotInUse  = 15 * time.Second
	snapshotsInUse = 2
	// DefaultSnapshotInterval is how many heights apart snapshots are
	// taken unless the config says otherwise.
	DefaultSnapshotInterval = 100
)

func (n *Node) snapshotDir() string { return filepath.Join(n.home.DataPath(), snapshotsDir) }

// snapshotInterval is the configured interval; 0 when snapshots are off
// or the application cannot export its state.
func (n *Node) snapshotInterval() uint64 {
	_, exports := n.app.(app.Snapshotter)
	_, keeps := n.app.(app.SnapshotKeeper)
	if !exports && !keeps {
		return 0
	}
	switch k := n.home.Node.SnapshotInterval; {
	case k < 0:
		return 0
	case k == 0:
		return DefaultSnapshotInterval
	default:
		return uint64(k)
	}
}

// maybeSnapshot starts writing the snapshot of height if it is due and
// none is being written. The export reads the immutable tree version of
// that height, so it goes on while later blocks execute.
func (n *Node) maybeSnapshot(height uint64, root []byte) {
	k := n.snapshotInterval()
	if k == 0 || height%k != 0 || !n.snapshotting.CompareAndSwap(false, true) {
		return
	}
	root = bytes.Clone(root)
	n.snapshotWriters.Add(1)
	go func() {
		defer n.snapshotWriters.Done()
		defer n.snapshotting.Store(false)
		start := time.Now()
		var m *snapshot.Meta
		var err error
		if s, ok := n.app.(app.Snapshotter); ok {
			m, err = snapshot.Write(n.snapshotDir(), height, root, func(fn func(k, v []byte) error) error {
				return s.ExportState(height, fn)
			})
		} else {
			m, err = n.copyAppSnapshot(n.app.(app.SnapshotKeeper), height)
		}
		if err == nil && m != nil {
			err = snapshot.PruneExcept(n.snapshotDir(), snapshotsKept, snapshotsInUse, n.snapshotServing)
			n.forgetServed()
		}
		if err != nil {
			n.log.Error("snapshot failed", "height", height, "err", err)
			return
		}
		if m == nil {
			return // the application has no new snapshot
		}
		n.snapshotAt.Store(time.Now().Unix())
		n.log.Info("snapshot taken", "height", height, "pairs", m.Pairs, "bytes", m.Bytes, "chunks", len(m.Chunks),
			"seconds", fmt.Sprintf("%.2f", time.Since(start).Seconds()))
	}()
}

// copyAppSnapshotTimeout bounds copying one snapshot out of an ABCI
// application.
const copyAppSnapshotTimeout = 10 * time.Minute

// copyAppSnapshot copies into the snapshot directory the newest snapshot
// that an ABCI application keeps, at or below height, if it is newer than
// the newest copied; nil if there is none. Its chunks are hashed as they
// are copied, and its app hash is the one this node recorded for its
// height.
func (n *Node) copyAppSnapshot(k app.SnapshotKeeper, height uint64) (*snapshot.Meta, error) {
	ctx, cancel := context.WithTimeout(context.Background(), copyAppSnapshotTimeout)
	defer cancel()
	list, err := k.ListSnapshots(ctx)
	if err != nil {
		return nil, err
	}
	var newest uint64
	if have, err := snapshot.List(n.snapshotDir()); err == nil && len(have) > 0 {
		newest = have[0].Height // highest first
	}
	var best *app.Snapshot
	for i, s := range list {
		if s.Height <= height && s.Height > newest && (best == nil || s.Height > best.Height) {
			best = &list[i]
		}
	}
	if best == nil {
		return nil, nil
	}
	root, ok, err := n.store.AppGet(rootKey(best.Height))
	if err != nil || !ok {
		return nil, fmt.Errorf("the app hash of height %d is not recorded (%v)", best.Height, err)
	}
	meta := snapshot.ABCIMeta{Format: best.Format, Hash: best.Hash, Metadata: best.Metadata}
	return snapshot.WriteChunks(n.snapshotDir(), best.Height, root, meta, int(best.Chunks), func(i int) ([]byte, error) {
		return k.LoadSnapshotChunk(ctx, best.Height, best.Format, uint32(i))
	})
}

// answerSnapshot answers a peer's state sync request, or nothing when it
// cannot (the requester asks another peer).
func (n *Node) answerSnapshot(r *wire.SnapshotRequest) *wire.SnapshotResponse {
	switch r.Kind {
	case wire.SnapshotList:
		metas, _ := snapshot.List(n.snapshotDir())
		safety := n.store.SafetyState()
		resp := &wire.SnapshotResponse{Kind: wire.SnapshotList, HighQC: safety.HighQC, HighTC: safety.HighTC}
		for _, m := range metas {
			if len(resp.Metas) == wire.MaxSnapshotOffers {
				break
			}
			// Offered once its commit certificate can be built (its
			// block's certified child and root are committed), so that a
			// peer can check it at once.
			if _, err := light.Build(n.store, n.chainID, m.Height); err != nil {
				continue
			}
			if b, err := m.Marshal(); err == nil && len(b) <= wire.MaxSnapshotMetaBytes {
				resp.Metas = append(resp.Metas, b)
			}
		}
		return resp
	case wire.SnapshotChunk:
		data, err := snapshot.LoadChunk(n.snapshotDir(), r.Height, int(r.Chunk))
		if err != nil || len(data) > wire.MaxSnapshotData {
			return nil
		}
		n.snapshotServed.Store(r.Height, time.Now()) // a snapshot that exists: bounded
		return &wire.SnapshotResponse{Kind: wire.SnapshotChunk, Height: r.Height, Chunk: r.Chunk, Data: data}
	case wire.SnapshotCertificate:
		// A restore starts here: hold the snapshot while it fetches its
		// chunks. One no longer held is not certified: the restore would
		// find no chunk, and is better told now (it asks another peer).
		metas, err := snapshot.List(n.snapshotDir())
		if err != nil || !slices.ContainsFunc(metas, func(m *snapshot.Meta) bool { return m.Height == r.Height }) {
			return nil
		}
		n.snapshotServed.Store(r.Height, time.Now())
		cert, err := light.Build(n.store, n.chainID, r.Height)
		b, _, _, ok := n.store.CommittedBlock(r.Height)
		if err != nil || !ok {
			return nil
		}
		data, err := cert.MarshalJSON()
		if err != nil || len(data) > wire.MaxSnapshotData {
			return nil
		}
		return &wire.SnapshotResponse{Kind: wire.SnapshotCertificate, Height: r.Height, Data: data, Block: b}
	}
	return nil
}

// snapshotServing reports whether a peer asked for a chunk of the
// snapshot of height within snapshotInUse.
func (n *Node) snapshotServing(height uint64) bool {
	at, ok := n.snapshotServed.Load(height)
	if ok && time.Since(at.(time.Time)) > snapshotInUse {
		n.snapshotServed.Delete(height)
		return false
	}
	return ok
}

// forgetServed drops the records of snapshots not asked for within
// snapshotInUse (pruned ones among them), so that they do not pile up
// over the years.
func (n *Node) forgetServed() {
	n.snapshotServed.Range(func(h, at any) bool {
		if time.Since(at.(time.Time)) > snapshotInUse {
			n.snapshotServed.Delete(h)
		}
		return true
	})
}

// sendSnapshotAnswer encodes and sends resp within the peer's byte budget.
func (n *Node) sendSnapshotAnswer(to uint32, resp *wire.SnapshotResponse) {
	frame, err := wire.Encode(wire.Envelope{SnapshotResponse: resp})
	if err != nil {
		n.log.Error("cannot encode a snapshot answer", "err", err)
		return
	}
	if !n.serve.allow(n.serve.bytes, to, time.Now(), float64(len(frame)), serveBytesPerSec, serveBytesBurst) {
		n.metrics.dropped.WithLabelValues("serve: over the peer's byte rate").Inc()
		return
	}
	n.metrics.msgsOut.WithLabelValues("snapshot-response").Inc()
	if err := n.tr.Send(to, transport.Sync, frame); err != nil {
		n.metrics.dropped.WithLabelValues("outbound " + transport.Reason(err)).Inc()
	}
}

// snapshotAge is the seconds since the last snapshot was taken, for the
// metric (0 before the first).
func (n *Node) snapshotAge() float64 {
	at := n.snapshotAt.Load()
	if at == 0 {
		return 0
	}
	return float64(time.Now().Unix() - at)
}
