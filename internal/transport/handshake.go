package transport

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Admission of inbound connections. Anyone who can reach the port can open
// connections, so what a connection may hold before it has proven a
// validator key is bounded in time and in number, per source address, and
// the configured validators' own addresses have room of their own.
const (
	// helloTimeout bounds the wait for the first bytes of a connection,
	// the header of the TLS ClientHello record.
	helloTimeout = 2 * time.Second
	// handshakeTimeout bounds the whole server handshake, from accept to
	// the confirmation byte.
	handshakeTimeout = 5 * time.Second
	// maxPendingHandshakes bounds the handshakes in progress from
	// addresses that are not a configured validator's host.
	maxPendingHandshakes = 64
	// maxPendingPerIP bounds those from one such address.
	maxPendingPerIP = 4
	// reservedPerPeer is the number of handshakes in progress allowed per
	// configured validator at a validator's host address, outside the
	// shared pool: strangers filling the pool cannot keep validators out.
	// A validator has at most one dial in progress to each peer; the
	// slack covers connections it gave up that are still being closed.
	reservedPerPeer = 4
)

// RefuseReason says why an inbound connection was refused before or during
// its handshake.
type RefuseReason uint8

// The refusal reasons.
const (
	RefuseBusy      RefuseReason = iota // the shared pool of pending handshakes was full
	RefusePerIP                         // the source address had its share of pending handshakes
	RefuseHello                         // no TLS ClientHello header within helloTimeout, or not TLS
	RefuseHandshake                     // the TLS handshake failed or timed out, or the key is not a peer's

	// NumRefuseReasons is the number of refusal reasons.
	NumRefuseReasons = int(RefuseHandshake) + 1
)

// String returns the reason's metric label.
func (r RefuseReason) String() string {
	switch r {
	case RefuseBusy:
		return "busy"
	case RefusePerIP:
		return "per_ip"
	case RefuseHello:
		return "hello"
	case RefuseHandshake:
		return "handshake"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// admission counts the handshakes in progress by source address.
type admission struct {
	mu       sync.Mutex
	reserved map[netip.Addr]int // validators' host addresses: their own limit
	pending  map[netip.Addr]int // handshakes in progress, by source; no zero entries
	shared   int                // handshakes in progress in the shared pool
}

// admit takes a slot for a handshake from ip, and returns the function that
// gives it back, or the reason for refusing.
func (a *admission) admit(ip netip.Addr) (release func(), refused RefuseReason, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit, isPeer := a.reserved[ip]
	switch {
	case isPeer && a.pending[ip] >= limit:
		return nil, RefusePerIP, false
	case !isPeer && a.pending[ip] >= maxPendingPerIP:
		return nil, RefusePerIP, false
	case !isPeer && a.shared >= maxPendingHandshakes:
		return nil, RefuseBusy, false
	}
	a.pending[ip]++
	if !isPeer {
		a.shared++
	}
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.pending[ip]--; a.pending[ip] == 0 {
			delete(a.pending, ip)
		}
		if !isPeer {
			a.shared--
		}
	}, 0, true
}

// reserve gives the hosts of peers room of their own, reservedPerPeer per
// peer at each address the host names. A host name is resolved once, here;
// one that does not resolve gets no room (and is logged).
func (t *Transport) reserve(ctx context.Context) {
	t.admit.reserved = make(map[netip.Addr]int)
	t.admit.pending = make(map[netip.Addr]int)
	for _, p := range t.peers {
		host, _, err := net.SplitHostPort(p.addr)
		if err != nil {
			t.log.Warn("transport: no room reserved for a peer: bad address", "peer", p.index, "addr", p.addr, "err", err)
			continue
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip}
		} else {
			rctx, cancel := context.WithTimeout(ctx, dialTimeout)
			ips, err = net.DefaultResolver.LookupNetIP(rctx, "ip", host)
			cancel()
			if err != nil {
				t.log.Warn("transport: no room reserved for a peer: cannot resolve its host", "peer", p.index, "host", host, "err", err)
			}
		}
		for _, ip := range ips {
			t.admit.reserved[ip.Unmap()] += reservedPerPeer
		}
	}
}

// sourceIP returns the IP address a connection comes from; connections
// that are not TCP share the zero address.
func sourceIP(conn net.Conn) netip.Addr {
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		return a.AddrPort().Addr().Unmap()
	}
	ap, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
	return ap.Addr().Unmap()
}

// refuse closes a connection refused before its handshake as cheaply as
// possible (a reset, no TIME_WAIT), and counts and logs it.
func (t *Transport) refuse(raw net.Conn, why RefuseReason) {
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	raw.Close()
	t.refusedInbound(raw, why, nil)
}

// refusedInbound counts an inbound connection refused for why and logs it
// at most once per reason per interval.
func (t *Transport) refusedInbound(raw net.Conn, why RefuseReason, err error) {
	t.refusals[why].Add(1)
	t.rlog.logf(levelOfRefusal(why), refuseKinds[why], "transport: inbound connection refused", func() []any {
		a := []any{"reason", why.String(), "remote", raw.RemoteAddr().String()}
		if err != nil {
			a = append(a, "err", err)
		}
		return a
	})
}

// levelOfRefusal: connections that are not TLS at all (port scanners,
// garbage) are routine; a full pool, an address over its share and a
// failed handshake (where a validator with a wrong key or configuration
// shows up) deserve attention.
var refuseKinds = func() (k [NumRefuseReasons]string) {
	for r := range k {
		k[r] = "refuse/" + RefuseReason(r).String()
	}
	return k
}()

func levelOfRefusal(why RefuseReason) slog.Level {
	if why == RefuseHello {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// readHello reads the header of the first TLS record, which must be a
// handshake record (the ClientHello) of a plausible length, within
// helloTimeout; it returns the bytes read so that the handshake can replay
// them.
func readHello(raw net.Conn, timeout time.Duration) ([]byte, error) {
	if err := raw.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	var h [5]byte
	if _, err := io.ReadFull(raw, h[:]); err != nil {
		return nil, fmt.Errorf("transport: awaiting a ClientHello: %w", err)
	}
	n := int(h[3])<<8 | int(h[4])
	if h[0] != 0x16 || h[1] != 3 || n == 0 || n > 1<<14 {
		return nil, fmt.Errorf("transport: not a TLS handshake record: % x", h)
	}
	return h[:], nil
}

// prefixConn replays bytes already read from a connection before reading
// from it again.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}
