package transport

import (
	"log/slog"
	"time"
)

// Quarantine stops reading from validator index until the given time: its
// inbound connection is closed at once, and the connections it dials
// before then are closed after the handshake. Sending to it goes on. A
// node quarantines a validator that sent what no honest validator sends
// (a frame over the network's decode limits): a flood of such frames then
// costs this node a handshake per redial instead of decrypting and
// scanning every frame.
func (t *Transport) Quarantine(index uint32, until time.Time) {
	p := t.byIndex[index]
	if p == nil {
		return
	}
	p.quarantine.Store(until.UnixNano())
	p.mu.Lock()
	in := p.in
	p.mu.Unlock()
	if in != nil {
		in.Close()
	}
}

// quarantined reports whether p's inbound connections are refused now, and
// counts and logs the refusal if so.
func (t *Transport) quarantined(p *peer) bool {
	if time.Now().UnixNano() >= p.quarantine.Load() {
		return false
	}
	p.quarantined.Add(1)
	t.rlog.logf(slog.LevelWarn, p.kinds.misbehaved, "transport: refusing a quarantined validator's connection",
		func() []any {
			return []any{"peer", p.index, "until", time.Unix(0, p.quarantine.Load()).Format(time.RFC3339)}
		})
	return true
}
