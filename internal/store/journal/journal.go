// Package journal makes a node's acceptance of client transactions
// durable: a transaction is written to an fsynced log before the client is
// told 202, and the log is replayed when the node starts, so that a crash
// between the answer and the block that carries the transaction loses
// nothing. It also keeps the reasons for which the node rejected
// transactions it had accepted, so that those answers survive a restart.
//
// Why a file of our own and not the store's bbolt or Pebble: the records
// are short-lived (most settle within a few blocks) and written in
// arrival order, which an append-only file does in one sequential write
// and one fsync, with nothing to rewrite; a bbolt Update costs two fsyncs
// and serialises with the block commits' large writes, so admission would
// queue behind execution. Pebble would group its WAL syncs too, but a
// second LSM (memtables, compactions, goroutines) for a few megabytes of
// transient records costs more than this file. Records carry a length and
// a CRC-32C, so a write that a crash cut short is recognised and ignored.
//
// Group commit: concurrent [Journal.Accept] calls share fsyncs. The first
// caller to find no write in progress writes everything queued so far and
// syncs once; callers that queue meanwhile wait for the next write, which
// again takes all of them. There is one fsync per write, never one per
// transaction.
//
// Bounds: the log lives in segment files of SegmentBytes. A record stops
// being live when its transaction commits ([Journal.Settle]), when it is
// rejected ([Journal.Reject], which writes a small rejection record that
// settles the accept once durable), or, for a rejection, when the node
// forgets it ([Journal.Forget]). A segment with no live record is deleted;
// when dead bytes pass a quarter of MaxBytes the live records of the
// emptiest segment are copied forward and it is deleted. Accept refuses,
// with ErrFull, anything that would take live records past half of
// MaxBytes or the files past MaxBytes: the node answers busy instead of
// accepting what it could not make durable.
package journal

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/chain"
)

// ErrFull refuses an Accept that would pass the journal's byte bounds.
var ErrFull = errors.New("journal: full")

// ErrClosed refuses use after Close.
var ErrClosed = errors.New("journal: closed")

// Config bounds a journal.
type Config struct {
	MaxBytes     int64 // bytes on disk, default 256 MiB
	SegmentBytes int64 // a segment is closed past this size, default 8 MiB
	Logger       *slog.Logger
}

// Accepted is a transaction the journal holds as accepted, not settled.
type Accepted struct {
	Tx   []byte
	Hash chain.Hash
}

// Rejection is a rejected transaction's hash and reason.
type Rejection struct {
	Hash   chain.Hash
	Reason string
}

// Replay is what a journal held when it was opened, in acceptance order.
type Replay struct {
	Accepted []Accepted
	Rejected []Rejection
	// Torn counts segments whose tail was cut short (a crash mid-write).
	Torn int
}

// rec is the memory of one live record.
type rec struct {
	hash chain.Hash
	kind byte
	seq  uint64
	size int64  // encoded bytes
	seg  uint64 // the segment holding its durable copy, 0 until written
}

type segment struct {
	size      int64
	live      int
	liveBytes int64
}

// pending is a queued record: its bytes are in Journal.pend.
type pending struct {
	r *rec // a new record, or a live one being moved forward
}

// Journal is the acceptance log. It is safe for concurrent use.
type Journal struct {
	dir string
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	cond     *sync.Cond
	accepts  map[chain.Hash]*rec
	rejects  map[chain.Hash]*rec
	segs     map[uint64]*segment
	active   uint64
	file     *os.File // the active segment, written only while flushing
	seq      uint64
	pend     []byte
	pendRecs []pending
	queued   uint64 // writes requested
	durable  uint64 // writes completed
	flushing bool
	err      error // sticky: a failed write leaves the journal unusable
	closed   bool

	liveBytes int64
	diskBytes int64
	stats     Stats
}

// Stats are counters for metrics.
type Stats struct {
	DiskBytes, LiveBytes     int64
	LiveAccepts, LiveRejects int
	Segments                 int
	Syncs                    uint64
	SyncSeconds              float64
	Records                  uint64 // records written, moved ones included
	Refused                  uint64 // transactions refused with ErrFull
	MovedBytes               uint64 // copied forward by compaction
	Deleted                  uint64 // segments deleted
}

// Open opens (creating if needed) the journal in dir and returns what it
// held. Records of the returned Replay are live: the caller settles,
// rejects or keeps each.
func Open(dir string, cfg Config) (*Journal, Replay, error) {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 20
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = 8 << 20
	}
	if cfg.SegmentBytes > cfg.MaxBytes/4 {
		cfg.SegmentBytes = max(cfg.MaxBytes/4, 1)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, Replay{}, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{dir: dir, cfg: cfg, log: log,
		accepts: make(map[chain.Hash]*rec), rejects: make(map[chain.Hash]*rec), segs: make(map[uint64]*segment)}
	j.cond = sync.NewCond(&j.mu)
	rep, err := j.replay()
	if err != nil {
		return nil, Replay{}, err
	}
	if err := j.openSegment(j.active + 1); err != nil {
		return nil, Replay{}, err
	}
	return j, rep, nil
}

// openSegment creates segment id and makes it the active one. The caller
// holds the write turn (or is Open).
func (j *Journal) openSegment(id uint64) error {
	f, err := os.OpenFile(segPath(j.dir, id), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: new segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return fmt.Errorf("journal: new segment: %w", err)
	}
	old := j.file
	j.mu.Lock()
	j.file, j.active = f, id
	j.segs[id] = &segment{}
	j.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Accept makes txs (with their hashes) durable as accepted, sharing one
// fsync with concurrent callers, and returns once they are on disk. A
// transaction already held as accepted is not written again. It fails
// with ErrFull, writing nothing, past the byte bounds.
func (j *Journal) Accept(txs [][]byte, hashes []chain.Hash) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return ErrClosed
	}
	if j.err != nil {
		return j.err
	}
	var add int64
	fresh, queued := 0, false
	for i, tx := range txs {
		if r := j.accepts[hashes[i]]; r == nil {
			add += int64(headerSize + bodyPrefix + len(tx))
			fresh++
		} else if r.seg == 0 {
			queued = true // accepted by a concurrent caller, not yet durable
		}
	}
	if fresh == 0 {
		if queued {
			return j.waitLocked(j.queued)
		}
		return nil
	}
	if j.liveBytes+add > j.cfg.MaxBytes/2 || j.diskBytes+int64(len(j.pend))+add > j.cfg.MaxBytes {
		j.stats.Refused += uint64(fresh)
		return fmt.Errorf("%w: %d bytes live, %d on disk, limit %d", ErrFull, j.liveBytes, j.diskBytes, j.cfg.MaxBytes)
	}
	for i, tx := range txs {
		h := hashes[i]
		if j.accepts[h] != nil {
			continue
		}
		j.seq++
		start := len(j.pend)
		j.pend = acceptRecord(j.pend, j.seq, tx)
		r := &rec{hash: h, kind: kindAccept, seq: j.seq, size: int64(len(j.pend) - start)}
		j.accepts[h] = r
		j.liveBytes += r.size
		j.pendRecs = append(j.pendRecs, pending{r: r})
	}
	j.queued++
	return j.waitLocked(j.queued)
}

// Reject records that the transaction h was rejected for reason. The
// record is written with the next write (it needs no fsync of its own:
// until it is durable the accept stays live, and a replay re-derives the
// rejection); once durable it settles the transaction's accept.
func (j *Journal) Reject(h chain.Hash, reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || j.err != nil {
		return
	}
	if old := j.rejects[h]; old != nil {
		j.dropLocked(old)
	}
	j.seq++
	start := len(j.pend)
	j.pend = rejectRecord(j.pend, j.seq, h, reason)
	r := &rec{hash: h, kind: kindReject, seq: j.seq, size: int64(len(j.pend) - start)}
	j.rejects[h] = r
	j.liveBytes += r.size
	j.pendRecs = append(j.pendRecs, pending{r: r})
}

// Settle forgets the accepts of transactions that committed (their
// outcome is in the store's transaction index).
func (j *Journal) Settle(hashes []chain.Hash) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, h := range hashes {
		if r := j.accepts[h]; r != nil {
			j.dropLocked(r)
		}
	}
}

// Forget drops the rejection record of h: the node no longer answers it.
func (j *Journal) Forget(h chain.Hash) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r := j.rejects[h]; r != nil {
		j.dropLocked(r)
	}
}

// Accepted reports whether h is held as accepted.
func (j *Journal) Accepted(h chain.Hash) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.accepts[h] != nil
}

// dropLocked makes r dead. The caller holds mu.
func (j *Journal) dropLocked(r *rec) {
	m := j.accepts
	if r.kind == kindReject {
		m = j.rejects
	}
	if m[r.hash] != r {
		return
	}
	delete(m, r.hash)
	j.liveBytes -= r.size
	if s := j.segs[r.seg]; r.seg != 0 && s != nil {
		s.live--
		s.liveBytes -= r.size
	}
}

// isLive reports whether r is still the live record for its hash.
func (j *Journal) isLive(r *rec) bool {
	if r.kind == kindReject {
		return j.rejects[r.hash] == r
	}
	return j.accepts[r.hash] == r
}

// waitLocked returns once write number n is durable, taking the write turn
// itself when no write is in progress. The caller holds mu.
func (j *Journal) waitLocked(n uint64) error {
	for j.durable < n {
		if j.err != nil {
			return j.err
		}
		if j.closed { // Close wrote what was queued before it
			return ErrClosed
		}
		if j.flushing {
			j.cond.Wait()
			continue
		}
		j.flushLocked()
	}
	return j.err
}

// flushLocked writes and syncs everything queued, releasing mu during the
// I/O. The caller holds mu and no write is in progress.
func (j *Journal) flushLocked() {
	j.flushing = true
	buf, recs, upto := j.pend, j.pendRecs, j.queued
	j.pend, j.pendRecs = nil, nil
	seg := j.active
	j.mu.Unlock()
	start := time.Now()
	err := j.write(buf)
	took := time.Since(start).Seconds()
	j.mu.Lock()
	j.flushing = false
	j.durable = max(j.durable, upto)
	j.cond.Broadcast()
	if err != nil {
		j.err = fmt.Errorf("journal: write: %w", err)
		j.log.Error("acceptance journal write failed: the node stops accepting transactions", "err", err)
		return
	}
	j.stats.Syncs++
	j.stats.SyncSeconds += took
	j.stats.Records += uint64(len(recs))
	j.diskBytes += int64(len(buf))
	j.segs[seg].size += int64(len(buf))
	j.placeLocked(recs, seg)
	if j.segs[seg].size >= j.cfg.SegmentBytes {
		j.flushing = true
		j.mu.Unlock()
		err := j.openSegment(seg + 1)
		j.mu.Lock()
		j.flushing = false
		j.cond.Broadcast()
		if err != nil {
			j.err = err
		}
	}
}

// write appends buf to the active segment and syncs it.
func (j *Journal) write(buf []byte) error {
	if len(buf) == 0 {
		return nil
	}
	if _, err := j.file.Write(buf); err != nil {
		return err
	}
	return j.file.Sync()
}

// placeLocked records that recs are now durable in segment seg: live ones
// count there (and no longer where a moved one was), and a durable
// rejection settles the accept it follows.
func (j *Journal) placeLocked(recs []pending, seg uint64) {
	s := j.segs[seg]
	for _, p := range recs {
		r := p.r
		if !j.isLive(r) {
			continue
		}
		if old := j.segs[r.seg]; r.seg != 0 && old != nil {
			old.live--
			old.liveBytes -= r.size
		}
		r.seg = seg
		s.live++
		s.liveBytes += r.size
		if r.kind == kindReject {
			if a := j.accepts[r.hash]; a != nil && a.seq < r.seq {
				j.dropLocked(a)
			}
		}
	}
}

// Stats returns the journal's counters.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.DiskBytes, s.LiveBytes = j.diskBytes+int64(len(j.pend)), j.liveBytes
	s.LiveAccepts, s.LiveRejects, s.Segments = len(j.accepts), len(j.rejects), len(j.segs)
	return s
}

// Close writes what is queued and closes the active segment.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	if len(j.pend) > 0 && j.err == nil {
		j.queued++
		_ = j.waitLocked(j.queued)
	}
	for j.flushing {
		j.cond.Wait()
	}
	j.closed = true
	err := j.err
	j.mu.Unlock()
	if cerr := j.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal: close: %w", cerr)
	}
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return err
}
