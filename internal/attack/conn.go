package attack

import (
	"bufio"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/transport"
)

// The transport's frame classes, as bytes on the wire.
const (
	ClassConsensus = byte(transport.Consensus)
	ClassSync      = byte(transport.Sync)
	ClassGossip    = byte(transport.Gossip)
)

// MaxFrame is the largest payload an honest transport accepts.
const MaxFrame = transport.DefaultMaxFrame

// Conn is an authenticated connection to a validator, on which the
// attacker writes frames. Its methods are safe for concurrent use.
type Conn struct {
	raw  net.Conn
	tls  *tls.Conn
	mu   sync.Mutex
	w    *bufio.Writer
	dead chan struct{}
}

// Dial connects to the validator listening at addr whose key is server,
// authenticating as the validator whose private key is key, exactly as the
// transport does: TLS 1.3 with a self-signed certificate over the key, then
// the listener's one-byte confirmation.
func Dial(addr string, key ed25519.PrivateKey, server ed25519.PublicKey, timeout time.Duration) (*Conn, error) {
	cert, err := transport.Certificate(key)
	if err != nil {
		return nil, err
	}
	raw, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, // the key check below replaces chain verification
		VerifyConnection: func(cs tls.ConnectionState) error {
			k, err := transport.PeerKey(cs)
			if err != nil {
				return err
			}
			if !k.Equal(server) {
				return errors.New("attack: unexpected server key")
			}
			return nil
		},
	}
	c := tls.Client(raw, cfg)
	raw.SetDeadline(time.Now().Add(timeout))
	if err := c.Handshake(); err != nil {
		raw.Close()
		return nil, fmt.Errorf("attack: handshake with %s: %w", addr, err)
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		raw.Close()
		return nil, fmt.Errorf("attack: awaiting confirmation from %s: %w", addr, err)
	}
	if b[0] != transport.WireVersion {
		raw.Close()
		return nil, fmt.Errorf("attack: %s speaks version %d", addr, b[0])
	}
	raw.SetDeadline(time.Time{})
	conn := &Conn{raw: raw, tls: c, w: bufio.NewWriterSize(c, 256<<10), dead: make(chan struct{})}
	go func() { // the listener never writes after its confirmation: a read ends with the connection
		defer close(conn.dead)
		c.Read(b[:])
	}()
	return conn, nil
}

// WriteFrame writes one frame (it may be larger than MaxFrame, or of an
// unknown class: the attacker decides) and flushes it. A write that makes
// no progress for 10 s fails.
func (c *Conn) WriteFrame(class byte, payload []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw.SetWriteDeadline(time.Now().Add(10 * time.Second))
	var h [5]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(payload)))
	h[4] = class
	if _, err := c.w.Write(h[:]); err != nil {
		return err
	}
	if _, err := c.w.Write(payload); err != nil {
		return err
	}
	return c.w.Flush()
}

// WriteRaw writes bytes as they are, inside the TLS stream.
func (c *Conn) WriteRaw(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.raw.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	return c.w.Flush()
}

// Dead is closed once the peer has closed the connection.
func (c *Conn) Dead() <-chan struct{} { return c.dead }

// Close closes the connection.
func (c *Conn) Close() error { return c.raw.Close() }

// Frame is one frame received from a validator.
type Frame struct {
	From  uint32
	Class byte
	Data  []byte
}

// Listener accepts the connections that honest validators dial to the
// attacker's slot, and delivers what they send.
type Listener struct {
	ln     net.Listener
	out    chan Frame
	wg     sync.WaitGroup
	mu     sync.Mutex
	open   map[net.Conn]bool
	paused map[uint32]bool
	resume chan struct{} // closed and replaced whenever paused shrinks
}

// Listen listens on addr as the validator whose key is key; validators maps
// each other validator's key to its index. Frames arrive on Frames; when
// nobody takes them fast enough they are dropped (the attacker does not
// care).
func Listen(addr string, key ed25519.PrivateKey, validators map[string]uint32) (*Listener, error) {
	cert, err := transport.Certificate(key)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &Listener{ln: ln, out: make(chan Frame, 4096), open: make(map[net.Conn]bool),
		paused: make(map[uint32]bool), resume: make(chan struct{})}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			k, err := transport.PeerKey(cs)
			if err != nil {
				return err
			}
			if _, ok := validators[string(k)]; !ok {
				return errors.New("attack: client is not a validator")
			}
			return nil
		},
	}
	l.wg.Go(func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			l.wg.Go(func() { l.serve(tls.Server(raw, cfg), raw, validators) })
		}
	})
	return l, nil
}

func (l *Listener) serve(c *tls.Conn, raw net.Conn, validators map[string]uint32) {
	defer raw.Close()
	l.mu.Lock()
	l.open[raw] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.open, raw)
		l.mu.Unlock()
	}()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return
	}
	k, err := transport.PeerKey(c.ConnectionState())
	if err != nil {
		return
	}
	from := validators[string(k)]
	if _, err := c.Write([]byte{transport.WireVersion}); err != nil {
		return
	}
	raw.SetDeadline(time.Time{})
	r := bufio.NewReaderSize(c, 256<<10)
	for {
		l.waitResumed(from)
		var h [5]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(h[:4])
		if n > MaxFrame {
			return
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return
		}
		select {
		case l.out <- Frame{From: from, Class: h[4], Data: data}:
		default:
		}
	}
}

// Pause stops reading what validator i sends (on, true) or resumes it:
// its frames then wait in its socket and in its own outbound queue, as for
// a peer that is up but never reads.
func (l *Listener) Pause(i uint32, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if on {
		l.paused[i] = true
		return
	}
	delete(l.paused, i)
	close(l.resume)
	l.resume = make(chan struct{})
}

func (l *Listener) waitResumed(i uint32) {
	for {
		l.mu.Lock()
		paused, resume := l.paused[i], l.resume
		l.mu.Unlock()
		if !paused {
			return
		}
		<-resume
	}
}

// Frames returns the channel of received frames.
func (l *Listener) Frames() <-chan Frame { return l.out }

// Close stops listening, closes every connection and waits for the
// listener's goroutines.
func (l *Listener) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	for c := range l.open {
		c.Close()
	}
	clear(l.paused)
	close(l.resume)
	l.resume = make(chan struct{})
	l.mu.Unlock()
	l.wg.Wait()
	return err
}
