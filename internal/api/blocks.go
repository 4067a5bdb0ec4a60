package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxRangeBytes is the byte budget of one GET /v1/blocks?from&to answer,
// besides the contract's cut at MaxRange blocks: a block of a full 3 MiB
// payload of small transactions lists tens of thousands of 64-digit
// hashes, and 100 of them made answers of over 14 MB, built in memory
// (the time-limit handler buffers every answer). The answer stops before
// the block that would take it past the budget, but always holds the
// first block, so a client that asks again from the height after the
// last one it got walks any range. Counted in
// strategos_api_blocks_cut_total.
const MaxRangeBytes = 4 << 20

func (s *server) blocks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, err1 := strconv.ParseUint(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseUint(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil || from == 0 || to < from {
		writeErr(w, http.StatusBadRequest, "want from and to, positive integers with from <= to")
		return
	}
	if to-from >= MaxRange {
		to = from + MaxRange - 1
	}
	if s.gone(w, from) {
		return
	}
	// Each block is encoded as it is read, so that what is held is the
	// answer itself (within the budget plus one block), not the blocks.
	buf := append(make([]byte, 0, 4<<10), `{"blocks":[`...)
	size, n := 0, 0
	for h := from; h <= to; h++ {
		b, hash, qc, ok := s.b.Store().CommittedBlock(h)
		if !ok {
			break
		}
		enc, err := json.Marshal(blockView(b, hash, qc))
		if err != nil {
			writeErr(w, http.StatusInternalServerError, err.Error())
			return
		}
		if n > 0 && size+len(enc) > s.limits.rangeBytes {
			s.rangeCut.Inc()
			break
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, enc...)
		size += len(enc)
		n++
	}
	buf = append(buf, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(buf)
}

// rangeCutCounter registers strategos_api_blocks_cut_total with reg.
func rangeCutCounter(reg *prometheus.Registry) prometheus.Counter {
	return counter(reg, "strategos_api_blocks_cut_total",
		"Answers of GET /v1/blocks?from&to that ended before the range asked because of their byte budget.")
}

// counter registers a counter with reg, or returns the one already
// registered (a node serves one API, but tests build several handlers for
// one node).
func counter(reg *prometheus.Registry, name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	if err := reg.Register(c); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if errors.As(err, &dup) {
			if old, ok := dup.ExistingCollector.(prometheus.Counter); ok {
				return old
			}
		}
		return c // counted, though not exported: the answer does not depend on it
	}
	return c
}
