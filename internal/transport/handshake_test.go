package transport

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// attacker opens connections to addr from each of the given loopback
// source addresses, one at a time per source, and holds each idle until
// the listener closes it, then opens the next; it stops when the test ends.
// It returns the number of connections it has opened so far.
func attacker(t *testing.T, addr string, sources []string) *atomic.Int64 {
	var opened atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				conn, err := d.Dial("tcp", addr)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // the attack paces itself, not the test
					continue
				}
				opened.Add(1)
				start := time.Now()
				closed := make(chan struct{})
				go func() {
					conn.Read(make([]byte, 1)) // returns once the listener closes it
					close(closed)
				}()
				select {
				case <-closed:
				case <-stop:
				}
				conn.Close()
				<-closed
				if time.Since(start) < 10*time.Millisecond {
					time.Sleep(10 * time.Millisecond) // refused at once: do not spin
				}
			}
		})
	}
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
	})
	return &opened
}

// loopbackSources returns n loopback addresses from 127.0.1.0 on, none of
// them a validator's (the validators listen on 127.0.0.1).
func loopbackSources(n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250))
	}
	return s
}

// Strangers holding idle connections from many addresses fill the shared
// pool of pending handshakes, but a configured validator, dialing from its
// own host, still connects at its first attempt: its address has room of
// its own. (Before, 64
// idle connections held every slot for 10 s each, and a validator that
// came back was refused for as long as the strangers kept them full.)
func TestIdleStrangersDoNotLockOutValidators(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	cfgA := tn.config(t, 0)
	a := start(t, cfgA)
	attacker(t, tn.peers[0].Addr, loopbackSources(maxPendingHandshakes+36))
	eventually(t, "the strangers to fill the pool", func() bool { return a.Stats().Refusals[RefuseBusy] > 0 })

	b := start(t, tn.config(t, 1))
	if err := b.Send(0, Consensus, []byte("back")); err != nil {
		t.Fatal(err)
	}
	expect(t, a, 1, Consensus, []byte("back"))
	// Its first attempt succeeded: a full pool never turned it away.
	if ps := peerStats(t, b, 0); ps.Refused != 0 || ps.Connects != 1 {
		t.Errorf("the validator was refused %d times before it connected (%d connections)", ps.Refused, ps.Connects)
	}
	t.Logf("refusals %v", a.Stats().Refusals)
}

// One stranger address gets at most maxPendingPerIP pending handshakes; a
// connection that sends nothing is closed after helloTimeout.
func TestPerAddressLimitAndHelloTimeout(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	tr, err := New(tn.config(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	tr.helloTimeout = waitLimit * 10 // held for the whole test, unless the fix is missing
	if err := tr.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	var conns []net.Conn
	for k := range maxPendingPerIP + 3 {
		conn, err := d.Dial("tcp", tn.peers[0].Addr)
		if err != nil {
			if k < maxPendingPerIP {
				t.Fatal(err)
			}
			continue // the reset of a refused connection can beat connect's return
		}
		conns = append(conns, conn)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	eventually(t, "the connections beyond the per-address limit to be refused", func() bool {
		return tr.Stats().Refusals[RefusePerIP] == 3
	})
	if st := tr.Stats(); st.InboundRefused != 3 {
		t.Errorf("refusals %v, want only 3 per-address ones", st.Refusals)
	}
	// Another address is not affected.
	other, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}).Dial("tcp", tn.peers[0].Addr)
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, other)
	time.Sleep(20 * time.Millisecond) // a chance for a wrong refusal to show; not a synchronisation
	if st := tr.Stats(); st.InboundRefused != 3 {
		t.Errorf("refusals %v after a connection from another address, want 3", st.Refusals)
	}

	fast, err := New(tn.config(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	fast.helloTimeout = 50 * time.Millisecond
	if err := fast.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fast.Close() })
	idle, err := d.Dial("tcp", tn.peers[1].Addr)
	if err != nil {
		t.Fatal(err)
	}
	conns = append(conns, idle)
	idle.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Error("the listener sent something to a client that sent nothing")
	}
	eventually(t, "the idle connection to count as refused", func() bool { return fast.Stats().Refusals[RefuseHello] == 1 })
}

func TestAdmissionReservesPeersRoom(t *testing.T) {
	peer, stranger := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	a := admission{reserved: map[netip.Addr]int{peer: 2}, pending: map[netip.Addr]int{}}
	var releases []func()
	take := func(ip netip.Addr) (RefuseReason, bool) {
		rel, why, ok := a.admit(ip)
		if ok {
			releases = append(releases, rel)
		}
		return why, ok
	}
	for i := range maxPendingHandshakes / maxPendingPerIP {
		for range maxPendingPerIP {
			if _, ok := take(netip.AddrFrom4([4]byte{192, 168, 0, byte(i)})); !ok {
				t.Fatal("the shared pool refused a handshake before it was full")
			}
		}
	}
	if why, ok := take(stranger); ok || why != RefuseBusy {
		t.Errorf("a stranger with a full pool: %v %v, want refused busy", why, ok)
	}
	for range 2 {
		if why, ok := take(peer); !ok {
			t.Fatalf("the peer's address was refused (%v) with its room free", why)
		}
	}
	if why, ok := take(peer); ok || why != RefusePerIP {
		t.Errorf("the peer's address beyond its room: %v %v, want refused per address", why, ok)
	}
	for _, rel := range releases {
		rel()
	}
	if a.shared != 0 || len(a.pending) != 0 {
		t.Errorf("after every release: shared %d, pending %v", a.shared, a.pending)
	}
}

// countingWriter counts the bytes written to it.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.n.Add(int64(len(b)))
	return len(b), nil
}

// A flood of garbage connections (plaintext, TLS from strangers' keys, idle
// ones beyond the limits) adds a few lines to the log, not one per
// connection: every kind of refusal is logged at most once per interval,
// with the count of the others.
func TestConnectionFloodLogsLittle(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	var logged countingWriter
	cfg := tn.config(t, 0)
	cfg.Logger = slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := start(t, cfg)
	addr := tn.peers[0].Addr
	const garbage = 400
	garbageFrom := loopbackSources(8)
	for k := range garbage {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(garbageFrom[k%len(garbageFrom)])}}
		conn, err := d.Dial("tcp", addr)
		if err != nil {
			continue // refused (reset) already: it still counts
		}
		conn.Write(bytes.Repeat([]byte("GET / HTTP/1.1\r\n"), 4))
		conn.Close()
	}
	outsider, err := Certificate(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	cfgTLS := a.clientConfig(tn.peers[0].PubKey)
	cfgTLS.Certificates = []tlsCertificate{outsider}
	const strangers = 40
	for range strangers {
		if conn, err := tlsDial(addr, cfgTLS); err == nil {
			conn.Read(make([]byte, 1)) // the refusal arrives as an alert
			conn.Close()
		}
	}
	eventually(t, "every connection to be refused", func() bool {
		return a.Stats().InboundRefused >= garbage+strangers
	})
	t.Logf("%d connections refused (%v), %d bytes logged", a.Stats().InboundRefused, a.Stats().Refusals, logged.n.Load())
	// Before, each refusal logged a line of about 200 bytes: 88 KB here.
	if n := logged.n.Load(); n > 4<<10 {
		t.Errorf("%d bytes logged for %d refused connections, want at most 4 KiB", n, garbage+strangers)
	}
}
