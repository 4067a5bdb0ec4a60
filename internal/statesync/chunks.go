package statesync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strategos/strategos/internal/snapshot"
	"github.com/strategos/strategos/internal/wire"
)

const (
	// inFlight bounds the chunk requests outstanding at once.
	inFlight = 4
	// maxMisses is how many chunk requests in a row a peer may leave
	// unanswered before it is dropped for this snapshot (a peer that
	// offers a snapshot it does not serve).
	maxMisses = 3
)

type request struct {
	peer     uint32
	deadline time.Time
}

// fetcher collects one snapshot's chunks from the peers that offered it.
type fetcher struct {
	c       *client
	o       *offer
	r       *snapshot.Restorer
	peers   []uint32 // still trusted for this snapshot
	next    int      // round-robin position in peers
	pending map[int]request
	misses  map[uint32]int // unanswered requests in a row, per peer

	progress time.Time // last chunk added
	logged   time.Time
	added    int
}

func newFetcher(c *client, o *offer, r *snapshot.Restorer) *fetcher {
	now := time.Now()
	return &fetcher{c: c, o: o, r: r, peers: append([]uint32(nil), o.peers...), pending: map[int]request{}, misses: map[uint32]int{}, progress: now, logged: now}
}

// step sends the requests that are due, and handles one answer or
// timeout.
func (f *fetcher) step(ctx context.Context) error {
	if len(f.peers) == 0 {
		return errors.New("no peer that offered the snapshot is left: each sent a bad chunk or did not answer")
	}
	if time.Since(f.progress) > f.c.cfg.StallTimeout {
		return fmt.Errorf("no chunk for %s", f.c.cfg.StallTimeout)
	}
	f.ask()
	f.log()
	from, e, err := f.c.recv(ctx, f.earliestDeadline())
	if errors.Is(err, errTimeout) {
		f.expire()
		return nil
	}
	if err != nil {
		return err
	}
	if r := e.SnapshotResponse; r != nil && r.Kind == wire.SnapshotChunk && r.Height == f.o.meta.Height {
		f.answer(from, r)
	}
	return nil
}

// ask fills the in-flight window with the missing chunks not asked for.
func (f *fetcher) ask() {
	for _, i := range f.r.Missing(len(f.pending) + inFlight) {
		if len(f.pending) >= inFlight {
			return
		}
		if _, ok := f.pending[i]; ok {
			continue
		}
		p := f.peers[f.next%len(f.peers)]
		f.next++
		f.pending[i] = request{peer: p, deadline: time.Now().Add(f.c.cfg.RequestTimeout)}
		f.c.cfg.Net.Send(p, wire.Envelope{SnapshotRequest: &wire.SnapshotRequest{Kind: wire.SnapshotChunk, Height: f.o.meta.Height, Chunk: uint32(i)}})
	}
}

func (f *fetcher) earliestDeadline() time.Time {
	d := time.Now().Add(f.c.cfg.RequestTimeout)
	for _, q := range f.pending {
		if q.deadline.Before(d) {
			d = q.deadline
		}
	}
	return d
}

// expire forgets overdue requests, so that they are asked of the next
// peer, and drops a peer that left maxMisses in a row unanswered.
func (f *fetcher) expire() {
	now := time.Now()
	for i, q := range f.pending {
		if q.deadline.After(now) {
			continue
		}
		delete(f.pending, i)
		if f.misses[q.peer]++; f.misses[q.peer] == maxMisses {
			f.c.cfg.Log.Warn("state sync: a peer does not answer chunk requests; it is dropped for this snapshot", "peer", q.peer, "unanswered", maxMisses)
			f.drop(q.peer)
		}
	}
}

// answer adds a chunk a peer was asked for; a chunk that fails its check
// drops the peer for this snapshot.
func (f *fetcher) answer(from uint32, r *wire.SnapshotResponse) {
	i := int(r.Chunk)
	q, ok := f.pending[i]
	if !ok || q.peer != from {
		return // not asked of it, or asked again of another meanwhile
	}
	delete(f.pending, i)
	if err := f.r.Add(i, r.Data); err != nil {
		f.c.cfg.Log.Warn("state sync: a peer's chunk is refused; the peer is dropped for this snapshot", "peer", from, "chunk", i, "err", err)
		f.drop(from)
		return
	}
	f.added++
	f.misses[from] = 0
	f.progress = time.Now()
}

func (f *fetcher) drop(peer uint32) {
	f.c.suspect[peer] = true
	kept := f.peers[:0]
	for _, p := range f.peers {
		if p != peer {
			kept = append(kept, p)
		}
	}
	f.peers = kept
}

func (f *fetcher) log() {
	if time.Since(f.logged) < f.c.cfg.ProgressEvery {
		return
	}
	f.logged = time.Now()
	f.c.cfg.Log.Info("state sync: fetching chunks", "height", f.o.meta.Height, "have", f.added, "of", len(f.o.meta.Chunks), "peers", len(f.peers))
}
