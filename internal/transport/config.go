package transport

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"math"
	"net"
	"time"
)

// Class is the traffic class of a frame. Lower values have priority.
type Class uint8

// The traffic classes, in priority order.
const (
	Consensus Class = iota // proposals, votes, timeouts
	Sync                   // block catch-up
	Gossip                 // transaction batches

	// NumClasses is the number of classes; per-class statistics are
	// arrays of this length indexed by Class.
	NumClasses = int(Gossip) + 1
)

func (c Class) valid() bool { return int(c) < NumClasses }

// String returns the lower-case name of c.
func (c Class) String() string {
	switch c {
	case Consensus:
		return "consensus"
	case Sync:
		return "sync"
	case Gossip:
		return "gossip"
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Peer is one validator: its index in the validator set, its ed25519
// validator key and the host:port it listens on.
type Peer struct {
	Index  uint32
	PubKey ed25519.PublicKey
	Addr   string
}

// Defaults for the optional fields of Config.
const (
	DefaultMaxFrame       = 4 << 20
	DefaultQueueLen       = 1024
	DefaultInboundLen     = 1024
	DefaultPeerInboundLen = 64
	DefaultWriteTimeout   = 10 * time.Second
)

// Config configures a Transport. Zero optional fields take their defaults.
type Config struct {
	// Self is this validator's index.
	Self uint32
	// Key is this validator's private key. The TLS certificate is a
	// self-signed certificate over the same key.
	Key ed25519.PrivateKey
	// Peers is the whole validator set, self included; indices and keys
	// are distinct.
	Peers []Peer
	// ListenAddr is the address to listen on; it defaults to self's Addr.
	ListenAddr string
	// Listener, if not nil, is used instead of listening on ListenAddr;
	// the transport owns it and closes it. It lets a caller bind
	// 127.0.0.1:0 and learn the address before building the peer list.
	Listener net.Listener
	// MaxFrame is the largest payload of one frame (default 4 MiB).
	MaxFrame int
	// QueueLen is the capacity of each per-peer, per-class outbound
	// queue (default 1024).
	QueueLen int
	// InboundLen is the capacity of each per-class Inbound channel
	// (default 1024).
	InboundLen int
	// QueueBytes bounds the payload bytes of each per-peer outbound queue,
	// by class (default twice MaxFrame each, 8 MiB; at least MaxFrame): a
	// peer that is down pins at most the sum. See the package
	// documentation for what happens when a queue is full.
	QueueBytes [NumClasses]int
	// InboundBytes bounds the payload bytes of the frames waiting in each
	// Inbound channel, by class (default twice MaxFrame each; at least
	// MaxFrame).
	InboundBytes [NumClasses]int
	// PeerInboundLen is the capacity of each per-peer, per-class inbound
	// queue, between the peer's connection reader and the Inbound channel
	// of the class (default 64). See the package documentation.
	PeerInboundLen int
	// PeerInboundBytes bounds the payload bytes of each per-peer inbound
	// queue, by class (default twice MaxFrame each; at least MaxFrame).
	PeerInboundBytes [NumClasses]int
	// WriteTimeout bounds a write to a peer that makes no progress
	// (default 10 s); the connection is then dropped and redialed.
	WriteTimeout time.Duration
	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// withDefaults checks cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.MaxFrame == 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.QueueLen == 0 {
		cfg.QueueLen = DefaultQueueLen
	}
	if cfg.InboundLen == 0 {
		cfg.InboundLen = DefaultInboundLen
	}
	if cfg.PeerInboundLen == 0 {
		cfg.PeerInboundLen = DefaultPeerInboundLen
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case cfg.MaxFrame < 0 || uint64(cfg.MaxFrame) > math.MaxUint32:
		return cfg, fmt.Errorf("transport: MaxFrame %d out of range", cfg.MaxFrame)
	case cfg.QueueLen < 0:
		return cfg, fmt.Errorf("transport: negative QueueLen %d", cfg.QueueLen)
	case cfg.InboundLen < 0:
		return cfg, fmt.Errorf("transport: negative InboundLen %d", cfg.InboundLen)
	case cfg.PeerInboundLen < 0:
		return cfg, fmt.Errorf("transport: negative PeerInboundLen %d", cfg.PeerInboundLen)
	case cfg.WriteTimeout < 0:
		return cfg, fmt.Errorf("transport: negative WriteTimeout %v", cfg.WriteTimeout)
	case len(cfg.Key) != ed25519.PrivateKeySize:
		return cfg, fmt.Errorf("transport: private key has %d bytes, want %d", len(cfg.Key), ed25519.PrivateKeySize)
	}
	for c := range NumClasses {
		if cfg.QueueBytes[c] == 0 {
			cfg.QueueBytes[c] = 2 * cfg.MaxFrame
		}
		if cfg.PeerInboundBytes[c] == 0 {
			cfg.PeerInboundBytes[c] = 2 * cfg.MaxFrame
		}
		if cfg.InboundBytes[c] == 0 {
			cfg.InboundBytes[c] = 2 * cfg.MaxFrame
		}
		if cfg.InboundBytes[c] < cfg.MaxFrame {
			return cfg, fmt.Errorf("transport: %s Inbound byte budget %d is below MaxFrame %d", Class(c), cfg.InboundBytes[c], cfg.MaxFrame)
		}
		if cfg.QueueBytes[c] < cfg.MaxFrame || cfg.PeerInboundBytes[c] < cfg.MaxFrame {
			return cfg, fmt.Errorf("transport: %s byte budgets %d out, %d in are below MaxFrame %d",
				Class(c), cfg.QueueBytes[c], cfg.PeerInboundBytes[c], cfg.MaxFrame)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	indices := make(map[uint32]bool, len(cfg.Peers))
	keys := make(map[string]bool, len(cfg.Peers))
	var self *Peer
	for i := range cfg.Peers {
		p := &cfg.Peers[i]
		if len(p.PubKey) != ed25519.PublicKeySize {
			return cfg, fmt.Errorf("transport: peer %d: public key has %d bytes, want %d", p.Index, len(p.PubKey), ed25519.PublicKeySize)
		}
		if indices[p.Index] {
			return cfg, fmt.Errorf("transport: peer %d: duplicate index", p.Index)
		}
		if keys[string(p.PubKey)] {
			return cfg, fmt.Errorf("transport: peer %d: duplicate public key", p.Index)
		}
		indices[p.Index], keys[string(p.PubKey)] = true, true
		if p.Index == cfg.Self {
			self = p
		} else if p.Addr == "" {
			return cfg, fmt.Errorf("transport: peer %d: no address", p.Index)
		}
	}
	if self == nil {
		return cfg, fmt.Errorf("transport: self %d is not in the peer list", cfg.Self)
	}
	if !self.PubKey.Equal(cfg.Key.Public()) {
		return cfg, fmt.Errorf("transport: private key does not match the public key of peer %d", cfg.Self)
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = self.Addr
	}
	if cfg.ListenAddr == "" && cfg.Listener == nil {
		return cfg, fmt.Errorf("transport: no listen address for self %d", cfg.Self)
	}
	return cfg, nil
}
