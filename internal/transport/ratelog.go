package transport

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// logInterval is how often at most one kind of event is logged.
const logInterval = 10 * time.Second

// rateLog writes at most one line per kind of event per interval: the
// first event of a kind is logged at once, later ones within the interval
// are only counted, and the next line logged says how many were
// suppressed. Whatever peers or strangers do, the log grows by at most one
// line per kind per interval; the exact counts are in Stats.
//
// Kinds are fixed strings chosen by this package (a message, with a class
// or a reason), never data from the network, so the set of kinds is
// bounded.
type rateLog struct {
	log      *slog.Logger
	interval time.Duration

	mu    sync.Mutex
	kinds map[string]*rateState
}

type rateState struct {
	last       time.Time
	suppressed uint64
}

func newRateLog(log *slog.Logger, interval time.Duration) *rateLog {
	return &rateLog{log: log, interval: interval, kinds: make(map[string]*rateState)}
}

// logf logs msg with args at level, unless a line of the same kind was
// logged less than an interval ago. kind defaults to msg. args is called
// only if the line is written, so that suppressed events cost no
// formatting.
func (l *rateLog) logf(level slog.Level, kind, msg string, args func() []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	if kind == "" {
		kind = msg
	}
	now := time.Now()
	l.mu.Lock()
	st := l.kinds[kind]
	if st == nil {
		st = &rateState{}
		l.kinds[kind] = st
	} else if now.Sub(st.last) < l.interval {
		st.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.last, st.suppressed = now, 0
	l.mu.Unlock()
	var a []any
	if args != nil {
		a = args()
	}
	if suppressed > 0 {
		a = append(a, "suppressed", suppressed)
	}
	l.log.Log(context.Background(), level, msg, a...)
}

// logKinds are the rateLog kinds of one peer's connection events: a
// validator that reconnects in a loop gets one line per event per interval.
type logKinds struct{ accepted, misbehaved, inLost, connected, outLost, outFailed string }

func newLogKinds(peer uint32) logKinds {
	k := func(what string) string { return fmt.Sprintf("%s/%d", what, peer) }
	return logKinds{k("accepted"), k("misbehaved"), k("in-lost"), k("connected"), k("out-lost"), k("out-failed")}
}
