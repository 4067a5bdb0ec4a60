// Package transport moves opaque byte frames between the validators of a
// fixed validator set over TCP with mutual TLS 1.3. It knows nothing of
// consensus messages: the node encodes them elsewhere and hands the bytes
// to Send, Broadcast and Inbound.
//
// # Identity
//
// Each node presents a self-signed X.509 certificate whose public key is its
// ed25519 validator key; there is no certificate authority and no plaintext
// mode. A handshake is accepted only if the peer's leaf key is in the
// validator set: a listener accepts any validator other than itself (and
// learns the sender's index from that key), a dialer accepts exactly the key
// of the validator it dialed. TLS 1.3 proves that the peer holds the private
// key of its leaf, so the key check is the whole of authentication. A
// refused peer is disconnected during the handshake, before any frame of
// it is read; after verifying the client, the listener sends a one-byte
// confirmation, and the dialer counts the connection as up only once it has
// that byte.
//
// # Admission
//
// Anyone who can reach the listener can open connections, so what a
// connection may take before it has proven a validator key is bounded.
// Its first bytes, the header of a TLS handshake record, must arrive
// within 2 s, and the whole handshake must end within 5 s of the accept.
// At most 64 handshakes run at once from addresses that are not a
// configured peer's host (resolved at Start), at most 4 of them from one
// address; each peer's host address has room of its own for 4 handshakes
// per peer at that address, which strangers cannot take. A connection
// beyond these limits is reset at once, before any goroutine or TLS state
// is spent on it. Every refusal is counted by reason (Stats.Refusals:
// busy, per_ip, hello, handshake).
//
// # Logs
//
// Whatever peers or strangers repeat (refused connections, failed
// handshakes, reconnections, dropped frames) is logged at most once per
// kind of event per 10 s, with the number of events the line stands for
// ("suppressed"): a flood of connections adds a few lines, not one per
// connection. The exact counts are in Stats.
//
// # Connections
//
// Every node dials every other validator and uses that connection only for
// its own outbound frames; frames from a peer arrive on the connection the
// peer dialed. A pair of validators is thus joined by two one-way
// connections and needs no duplicate resolution. A new inbound connection
// from a validator replaces the previous one. A failed dial, handshake or
// connection is retried with exponential backoff (50 ms doubling to 2 s,
// with jitter).
//
// # Framing
//
// A frame on the wire is a 4-byte big-endian payload length, a class byte
// and the payload. The reader checks the length against Config.MaxFrame
// before allocating; a peer that sends a larger frame or an unknown class
// has that one connection closed (and counted in Stats). Send refuses
// frames larger than MaxFrame.
//
// # Queues and priority
//
// Each peer has one outbound queue per Class, bounded in frames
// (Config.QueueLen, default 1,024) and in payload bytes (Config.QueueBytes,
// default twice MaxFrame, 8 MiB, per class), so that a peer that is down
// or slow pins at most the sum of its three budgets (24 MiB by default)
// plus the frame being written and a 64 KiB write buffer. Send and
// Broadcast never block. A Sync or Gossip frame that does not fit is
// refused; a Consensus frame that does not fit is queued and the oldest
// Consensus frames are dropped to make room, since a stale consensus
// message is worth nothing once newer ones exist. Every frame dropped is
// counted in its peer's PeerStats.Drops by class and reason (DropReason:
// oversize, queue_full, peer_down when no connection to the peer is up,
// stopping), Send and Broadcast return an error naming the reason, and a
// line is logged at most once per reason and class per 10 s with the
// number of drops it stands for (oversize at Error level: a frame larger
// than MaxFrame is a bug of the caller, who can read MaxFrame). The peer's
// writer always takes Consensus before Sync
// before Gossip, oldest first within a class, so consensus traffic is never
// stuck behind bulk data (a class can starve the ones below it; that is the
// intended policy). Writes are buffered and flushed when the queue is
// empty. A write that makes no progress for Config.WriteTimeout drops the
// connection, which is then redialed; a slow or dead peer only fills its own
// queues.
//
// Delivery is best effort and at most once: frames queued while a peer is
// unreachable wait in its queue, but frames being written when a connection
// fails are lost. Within one class, frames to one peer that are delivered
// arrive in the order they were sent. Callers must not modify a frame after
// passing it to Send or Broadcast (Broadcast shares one slice among peers).
//
// # Inbound
//
// Received frames are delivered on one bounded channel per class,
// Inbound(c), of capacity Config.InboundLen frames and Config.InboundBytes
// payload bytes (default twice MaxFrame, 8 MiB; the dispatcher waits while
// the frames its consumer has not yet taken exceed it), so that a consumer can take
// Consensus frames first however much bulk data is waiting. Each connection
// has its own reader, which puts every frame it reads on its peer's queue
// for the frame's class, bounded in frames (Config.PeerInboundLen, default
// 64) and in payload bytes (Config.PeerInboundBytes, default twice
// MaxFrame, 8 MiB, per class). One dispatcher per
// class moves frames from the peers' queues to the class's channel in
// round-robin order, one frame from each peer that has one, oldest first
// within a peer: when the channel is full, the frames of a peer that floods
// the class pile up in that peer's queue only, and the other peers still get
// every other slot of the channel once it drains.
//
// When a peer's queue is full, what its reader does depends on the class.
// For Consensus it waits, which stops reading from that peer alone, and TCP
// flow control pushes back on it; the other peers are unaffected. A Sync or
// Gossip frame is instead discarded and counted (PeerStats.InDropped), and
// the reader goes on: all classes share one connection, so a reader waiting
// for room for bulk data would hold up the consensus frames behind it on
// the connection. A peer's Sync or Gossip frames are thus lost only when the
// consumer has fallen behind by a whole channel and a whole queue of that
// class. Within one class, the frames of one peer that are delivered arrive
// in the order they were read. At most InboundLen frames and InboundBytes
// bytes per class, plus
// PeerInboundLen frames and PeerInboundBytes bytes per peer and class, plus
// one frame per class held by its dispatcher and one per connection being
// read, are buffered. The channels are closed once the transport has
// stopped; frames still queued are discarded.
//
// # Lifecycle
//
// New checks the configuration; Start listens, starts dialing every peer
// and returns once listening; Close, or cancelling the context given to
// Start, closes the listener and every connection, and Close waits until
// every goroutine of the transport has returned.
package transport
