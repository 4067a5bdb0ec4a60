package transport

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net"
	"slices"
	"testing"
	"time"
)

// The certificate is self-signed over the validator key itself.
func TestCertificateIsTheValidatorKey(t *testing.T) {
	key := newKey(t)
	cert, err := Certificate(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(ed25519.PublicKey).Equal(leaf.PublicKey) {
		t.Error("certificate key is not the validator key")
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
}

// Clients whose key is not that of another validator, clients without a
// certificate and plaintext clients are refused during the handshake; no
// frame of theirs is delivered, and the listener counts each refusal.
func TestListenerRefusesUnknownClients(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2)
	v, w := start(t, tn.config(t, 0)), start(t, tn.config(t, 1))
	addr := tn.peers[0].Addr
	outsider, err := Certificate(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	self, err := Certificate(tn.keys[0])
	if err != nil {
		t.Fatal(err)
	}
	frame := []byte{0, 0, 0, 5, byte(Consensus), 'e', 'v', 'i', 'l', '!'}

	for name, certs := range map[string][]tls.Certificate{
		"outsider key":   {outsider},
		"listener's key": {self},
		"no certificate": nil,
	} {
		refused := v.Stats().InboundRefused
		cfg := v.clientConfig(tn.peers[0].PubKey)
		cfg.Certificates = certs
		conn, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			// In TLS 1.3 the client finishes its handshake before the
			// server has checked the client's certificate; the refusal
			// arrives as an alert on the first read.
			conn.Write(frame)
			conn.SetReadDeadline(time.Now().Add(waitLimit))
			if _, err = conn.Read(make([]byte, 1)); err == nil {
				t.Errorf("%s: the listener confirmed the connection", name)
			}
			conn.Close()
		}
		t.Logf("%s: %v", name, err)
		eventually(t, name+" refusal to be counted", func() bool { return v.Stats().InboundRefused == refused+1 })
	}

	refused := v.Stats().InboundRefused
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(frame) // plaintext framing is not TLS
	conn.Read(make([]byte, 1))
	conn.Close()
	eventually(t, "plaintext refusal to be counted", func() bool { return v.Stats().InboundRefused == refused+1 })

	// An outsider running a transport that believes v is its peer never
	// gets a connection up.
	okey := newKey(t)
	o := start(t, Config{Self: 9, Key: okey, Logger: testLogger(t), Listener: listen(t), Peers: []Peer{
		tn.peers[0], {Index: 9, PubKey: okey.Public().(ed25519.PublicKey)},
	}})
	o.Send(0, Consensus, []byte("from the outsider"))
	eventually(t, "the outsider to be refused twice", func() bool { return peerStats(t, o, 0).Refused >= 2 })
	if ps := peerStats(t, o, 0); ps.OutConnected || ps.Connects != 0 || ps.Sent[Consensus].Frames != 0 {
		t.Errorf("outsider: %+v", ps)
	}

	// Nothing from the refused clients reached v: the first frame it
	// delivers is the one w sends now.
	w.Send(0, Gossip, []byte("legit"))
	expect(t, v, 1, Gossip, []byte("legit"))
	ps := peerStats(t, v, 1)
	ps.Received[Gossip] = Traffic{}
	if slices.ContainsFunc(ps.Received[:], func(tr Traffic) bool { return tr.Frames != 0 }) || ps.Oversize+ps.Malformed != 0 {
		t.Errorf("v counted other frames: %+v", ps)
	}
}

// A server that answers on a validator's address with another key is
// refused by the dialer, which sends it nothing.
func TestDialerRefusesImpostor(t *testing.T) {
	checkGoroutines(t)
	tn := newTestNet(t, 2) // node 1 never runs; an impostor takes its listener
	a := start(t, tn.config(t, 0))
	mkey := newKey(t)
	m := start(t, Config{Self: 1, Key: mkey, Listener: tn.lns[1], Logger: testLogger(t), Peers: []Peer{
		tn.peers[0], {Index: 1, PubKey: mkey.Public().(ed25519.PublicKey)},
	}})
	a.Send(1, Consensus, []byte("secret"))
	eventually(t, "the impostor to be refused twice", func() bool { return peerStats(t, a, 1).Refused >= 2 })
	if ps := peerStats(t, a, 1); ps.OutConnected || ps.Connects != 0 || ps.Sent[Consensus].Frames != 0 {
		t.Errorf("dialer: %+v", ps)
	}
	if m.Stats().InboundRefused == 0 {
		t.Error("the impostor did not see the handshake fail")
	}
	if ps := peerStats(t, m, 0); ps.InConnected || ps.Received[Consensus].Frames != 0 {
		t.Errorf("impostor: %+v", ps)
	}
	expectNone(t, m)
}
