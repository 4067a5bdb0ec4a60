package transport

// Stats is a snapshot of a transport's counters.
type Stats struct {
	// Peers holds one entry per validator other than self, by index.
	Peers []PeerStats
	// InboundRefused counts inbound connections refused before or during
	// the handshake: a key outside the validator set (or self's), no
	// certificate, not TLS 1.3, a timeout, or too many handshakes at once;
	// the sum of Refusals.
	InboundRefused uint64
	// Refusals counts the same by reason (see RefuseReason).
	Refusals [NumRefuseReasons]uint64
}

// PeerStats are the counters of one peer.
type PeerStats struct {
	Index        uint32
	OutConnected bool // an outbound connection to the peer is up
	InConnected  bool // an inbound connection from the peer is up
	// Sent counts frames written to the connection (not necessarily
	// delivered); Received counts frames read from it (including those
	// then discarded, see InDropped).
	Sent, Received [NumClasses]Traffic
	// Dropped counts the frames for the peer that Send or Broadcast
	// refused or that were dropped from its queue, by class: the sum of
	// Drops over the reasons.
	Dropped [NumClasses]uint64
	// Drops counts the same by class and reason (see DropReason).
	Drops [NumClasses][NumDropReasons]uint64
	// QueuedFrames and QueuedBytes are the frames and payload bytes waiting
	// in the peer's outbound queue of each class (bounded by
	// Config.QueueLen and Config.QueueBytes).
	QueuedFrames, QueuedBytes [NumClasses]int
	// Connects counts outbound connections established.
	Connects uint64
	// Refused counts outbound handshakes that failed, for example
	// because the server presented another key than the peer's.
	Refused uint64
	// Oversize counts inbound connections closed because the peer sent
	// a frame larger than MaxFrame; Malformed those closed because it
	// sent an unknown class.
	Oversize, Malformed uint64
	// Quarantined counts inbound connections of the peer refused while
	// it was quarantined (see Quarantine).
	Quarantined uint64
	// InQueued counts frames received from the peer that wait in its
	// inbound queue of each class (not those already in an Inbound
	// channel); InDropped counts the Sync and Gossip frames received from
	// it and discarded because that queue was full.
	InQueued [NumClasses]int
	// InQueuedBytes are the payload bytes of the frames counted in
	// InQueued (bounded by Config.PeerInboundBytes).
	InQueuedBytes [NumClasses]int
	InDropped     [NumClasses]uint64
}

// Traffic counts frames and payload bytes.
type Traffic struct{ Frames, Bytes uint64 }

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	s := Stats{Peers: make([]PeerStats, len(t.peers))}
	for r := range NumRefuseReasons {
		s.Refusals[r] = t.refusals[r].Load()
		s.InboundRefused += s.Refusals[r]
	}
	for i, p := range t.peers {
		ps := &s.Peers[i]
		ps.Index = p.index
		ps.OutConnected = p.outUp.Load()
		p.mu.Lock()
		ps.InConnected = p.in != nil
		p.mu.Unlock()
		for c := range NumClasses {
			ps.Sent[c] = Traffic{p.sent[c].frames.Load(), p.sent[c].bytes.Load()}
			ps.Received[c] = Traffic{p.recv[c].frames.Load(), p.recv[c].bytes.Load()}
			for r := range NumDropReasons {
				ps.Drops[c][r] = p.drops[c][r].Load()
				ps.Dropped[c] += ps.Drops[c][r]
			}
			ps.QueuedFrames[c], ps.QueuedBytes[c] = p.out.queued(Class(c))
			ps.InQueued[c] = len(p.inq[c])
			ps.InQueuedBytes[c] = int(p.inBytes[c].Load())
			ps.InDropped[c] = p.shed[c].Load()
		}
		ps.Connects = p.connects.Load()
		ps.Refused = p.refused.Load()
		ps.Oversize = p.oversize.Load()
		ps.Malformed = p.malformed.Load()
		ps.Quarantined = p.quarantined.Load()
	}
	return s
}

// Peer returns the counters of validator index, and false if it is not a
// peer of this transport.
func (s Stats) Peer(index uint32) (PeerStats, bool) {
	for _, p := range s.Peers {
		if p.Index == index {
			return p, true
		}
	}
	return PeerStats{}, false
}

// Connected returns the validators this one has an outbound connection to
// now: Stats' connection figures alone, cheap enough to ask often.
func (t *Transport) Connected() []uint32 {
	var up []uint32
	for _, p := range t.peers {
		if p.outUp.Load() {
			up = append(up, p.index)
		}
	}
	return up
}
