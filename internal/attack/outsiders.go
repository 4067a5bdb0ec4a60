package attack

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"github.com/strategos/strategos/internal/transport"
)

// Outsider is an attacker with no validator key, connecting from its own
// loopback address (127.0.0.2 and up stand for other hosts), so that a
// node can tell it apart from the validators, which connect from
// 127.0.0.1.
type Outsider struct {
	Source net.IP
}

func (o Outsider) dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: o.Source}}
}

// Dial opens a TCP connection to addr.
func (o Outsider) Dial(addr string) (net.Conn, error) {
	return o.dialer(5*time.Second).Dial("tcp", addr)
}

// HoldIdle keeps count TCP connections to addr open, sending nothing, and
// reopens each one the node closes, until ctx is done. It reports on
// opened how many connections it opened in all.
func (o Outsider) HoldIdle(ctx context.Context, addr string, count int, opened func()) {
	sem := make(chan struct{}, count)
	for ctx.Err() == nil {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		c, err := o.Dial(addr)
		if err != nil {
			<-sem
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if opened != nil {
			opened()
		}
		go func() {
			defer func() { <-sem }()
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { c.Close() })
			defer stop()
			var b [1]byte
			c.Read(b[:]) // returns when the node (or ctx) closes it
		}()
	}
}

// Garbage connects to addr, writes n random bytes and closes.
func (o Outsider) Garbage(addr string, n int) error {
	c, err := o.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	b := make([]byte, n)
	rand.Read(b)
	c.SetDeadline(time.Now().Add(time.Second))
	_, err = c.Write(b)
	return err
}

// Handshake runs a complete TLS 1.3 handshake with addr under a fresh key
// that is no validator's, which the node must refuse.
func (o Outsider) Handshake(addr string) error {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	cert, err := transport.Certificate(key)
	if err != nil {
		return err
	}
	c, err := o.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	tc := tls.Client(c, &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true})
	err = tc.Handshake()
	if err == nil {
		var b [1]byte
		_, err = tc.Read(b[:]) // the refusal comes after the handshake, as an alert
	}
	return err
}

// HTTPClient returns an HTTP client whose connections come from the
// outsider's address, one connection per request.
func (o Outsider) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: o.dialer(5 * time.Second).DialContext, DisableKeepAlives: true}}
}
