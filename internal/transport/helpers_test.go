package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"net"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitLimit bounds every wait in the tests; it is a failure deadline, not
// a synchronisation delay.
const waitLimit = 15 * time.Second

// eventually polls cond until it holds, failing the test after waitLimit.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkGoroutines fails the test if, once its other cleanups have run,
// more goroutines are left than when it started. Call it first.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitLimit)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				var b strings.Builder
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Fatalf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), b.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// testNet is a validator set on loopback: node i has keys[i] and listens
// on lns[i], bound before any transport exists.
type testNet struct {
	keys  []ed25519.PrivateKey
	peers []Peer
	lns   []net.Listener
}

func newTestNet(t testing.TB, n int) *testNet {
	tn := &testNet{}
	for i := range n {
		key, ln := newKey(t), listen(t)
		tn.keys = append(tn.keys, key)
		tn.lns = append(tn.lns, ln)
		tn.peers = append(tn.peers, Peer{Index: uint32(i), PubKey: key.Public().(ed25519.PublicKey), Addr: ln.Addr().String()})
	}
	return tn
}

// config returns node i's configuration, which owns lns[i].
func (tn *testNet) config(t testing.TB, i int) Config {
	return Config{Self: uint32(i), Key: tn.keys[i], Peers: slices.Clone(tn.peers), Listener: tn.lns[i], Logger: testLogger(t)}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// start creates and starts a transport that is closed when the test ends.
func start(t testing.TB, cfg Config) *Transport {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// startAll starts every node of tn, after letting mod adjust its config.
func (tn *testNet) startAll(t testing.TB, mod func(i int, cfg *Config)) []*Transport {
	var trs []*Transport
	for i := range tn.keys {
		cfg := tn.config(t, i)
		if mod != nil {
			mod(i, &cfg)
		}
		trs = append(trs, start(t, cfg))
	}
	return trs
}

// recv returns the next inbound frame of class c of tr.
func recv(t testing.TB, tr *Transport, c Class) Inbound {
	t.Helper()
	select {
	case in, ok := <-tr.Inbound(c):
		if !ok {
			t.Fatal("inbound channel closed")
		}
		if in.Class != c {
			t.Fatalf("%s frame on the %s channel", in.Class, c)
		}
		return in
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for a frame")
	}
	return Inbound{}
}

// expect receives one frame and checks it.
func expect(t testing.TB, tr *Transport, from uint32, c Class, data []byte) {
	t.Helper()
	in := recv(t, tr, c)
	if in.From != from || in.Class != c || !bytes.Equal(in.Data, data) {
		t.Fatalf("got %s frame %q from %d, want %s frame %q from %d", in.Class, in.Data, in.From, c, data, from)
	}
}

// expectNone fails if a frame of any class is waiting for tr's consumer.
func expectNone(t testing.TB, tr *Transport) {
	t.Helper()
	for c := range Class(NumClasses) {
		select {
		case in := <-tr.Inbound(c):
			t.Errorf("unexpected %s frame %q from %d", in.Class, in.Data, in.From)
		default:
		}
	}
}

func peerStats(t testing.TB, tr *Transport, index uint32) PeerStats {
	t.Helper()
	ps, ok := tr.Stats().Peer(index)
	if !ok {
		t.Fatalf("no stats for peer %d", index)
	}
	return ps
}

// queueFull reports whether tr's outbound queue of class c to validator to
// has no room for a frame of size bytes: a Send would then drop a frame.
func queueFull(tr *Transport, to uint32, c Class, size int) bool {
	o := tr.byIndex[to].out
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.q[c].fits(size, o.budget[c])
}

type tlsCertificate = tls.Certificate

func tlsDial(addr string, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: waitLimit}
	return tls.DialWithDialer(d, "tcp", addr, cfg)
}
