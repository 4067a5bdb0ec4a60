package journal

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/strategos/strategos/internal/chain"
)

// replay reads every segment in order and rebuilds the live records. The
// sequence numbers decide between copies and between an accept and a
// rejection of one transaction, wherever compaction moved them.
func (j *Journal) replay() (Replay, error) {
	ids, err := listSegments(j.dir)
	if err != nil {
		return Replay{}, err
	}
	var rep Replay
	txs := make(map[chain.Hash][]byte)
	reasons := make(map[chain.Hash]string)
	for _, id := range ids {
		path := segPath(j.dir, id)
		recs, torn, err := readSegment(path)
		if err != nil {
			return Replay{}, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return Replay{}, fmt.Errorf("journal: %w", err)
		}
		if torn {
			rep.Torn++
			j.log.Warn("acceptance journal: segment ends in a torn record (a crash mid-write); its readable records are kept",
				"segment", segName(id))
		}
		j.segs[id] = &segment{size: fi.Size()}
		j.diskBytes += fi.Size()
		j.active = id
		for _, r := range recs {
			j.seq = max(j.seq, r.seq)
			if !j.replayRecord(r, id) {
				continue
			}
			if r.kind == kindAccept {
				txs[r.hash] = r.tx
			} else {
				reasons[r.hash] = r.reason
			}
		}
	}
	for h := range j.accepts {
		rep.Accepted = append(rep.Accepted, Accepted{Tx: txs[h], Hash: h})
	}
	slices.SortFunc(rep.Accepted, func(a, b Accepted) int { return cmpSeq(j.accepts[a.Hash], j.accepts[b.Hash]) })
	for h := range j.rejects {
		rep.Rejected = append(rep.Rejected, Rejection{Hash: h, Reason: reasons[h]})
	}
	slices.SortFunc(rep.Rejected, func(a, b Rejection) int { return cmpSeq(j.rejects[a.Hash], j.rejects[b.Hash]) })
	return rep, nil
}

func cmpSeq(a, b *rec) int {
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// replayRecord applies one record read from segment id and reports
// whether it is live.
func (j *Journal) replayRecord(r record, id uint64) bool {
	m, other := j.accepts, j.rejects
	if r.kind == kindReject {
		m, other = j.rejects, j.accepts
	}
	if old := m[r.hash]; old != nil {
		if old.seq >= r.seq {
			return false // a copy, or older
		}
		j.dropLocked(old)
	}
	o := other[r.hash]
	if r.kind == kindAccept && o != nil && o.seq > r.seq {
		return false // rejected after it was accepted
	}
	lr := &rec{hash: r.hash, kind: r.kind, seq: r.seq, size: int64(len(r.encoded)), seg: id}
	m[r.hash] = lr
	j.liveBytes += lr.size
	s := j.segs[id]
	s.live++
	s.liveBytes += lr.size
	if r.kind == kindReject && o != nil && o.seq < r.seq {
		j.dropLocked(o)
	}
	return true
}

// Run writes queued rejections, deletes dead segments and compacts, until
// ctx ends. The node runs it beside its other workers.
func (j *Journal) Run(ctx context.Context) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			j.Maintain()
		}
	}
}

// Maintain does one round of Run's work: write what is queued, delete
// segments with nothing live, and copy forward one segment's live records
// when dead bytes pass a quarter of MaxBytes.
func (j *Journal) Maintain() {
	j.mu.Lock()
	if len(j.pend) > 0 && !j.closed && j.err == nil {
		j.queued++
		_ = j.waitLocked(j.queued)
	}
	j.mu.Unlock()
	j.deleteDead()
	if j.compactOne() {
		j.deleteDead()
	}
}

// deleteDead removes the closed segments that hold nothing live.
func (j *Journal) deleteDead() {
	j.mu.Lock()
	var dead []uint64
	for id, s := range j.segs {
		if id != j.active && s.live == 0 {
			dead = append(dead, id)
		}
	}
	closed := j.closed
	j.mu.Unlock()
	if closed || len(dead) == 0 {
		return
	}
	for _, id := range dead {
		if err := os.Remove(segPath(j.dir, id)); err != nil && !os.IsNotExist(err) {
			j.log.Warn("acceptance journal: cannot delete a dead segment", "segment", segName(id), "err", err)
			continue
		}
		j.mu.Lock()
		j.diskBytes -= j.segs[id].size
		delete(j.segs, id)
		j.stats.Deleted++
		j.mu.Unlock()
	}
	// A lost removal only leaves dead records, which a replay skips.
	_ = syncDir(j.dir)
}

// compactOne copies forward the live records of the closed segment with
// the most dead bytes, when dead bytes pass a quarter of MaxBytes, and
// reports whether it did.
func (j *Journal) compactOne() bool {
	j.mu.Lock()
	if j.closed || j.err != nil || j.diskBytes-j.liveBytes <= j.cfg.MaxBytes/4 {
		j.mu.Unlock()
		return false
	}
	var pick uint64
	var most int64
	for id, s := range j.segs {
		if d := s.size - s.liveBytes; id != j.active && s.live > 0 && d > most {
			pick, most = id, d
		}
	}
	j.mu.Unlock()
	if pick == 0 {
		return false
	}
	recs, _, err := readSegment(segPath(j.dir, pick))
	if err != nil {
		j.log.Warn("acceptance journal: cannot read a segment to compact", "segment", segName(pick), "err", err)
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range recs {
		m := j.accepts
		if r.kind == kindReject {
			m = j.rejects
		}
		if lr := m[r.hash]; lr != nil && lr.seg == pick && lr.seq == r.seq {
			j.pend = append(j.pend, r.encoded...)
			j.pendRecs = append(j.pendRecs, pending{r: lr})
			j.stats.MovedBytes += uint64(len(r.encoded))
		}
	}
	j.queued++
	return j.waitLocked(j.queued) == nil
}
