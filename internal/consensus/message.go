package consensus

import "github.com/strategos/strategos/internal/chain"

// Broadcast as a Message's To sends it to every other validator.
const Broadcast = ^uint32(0)

// Message is the unit the core exchanges with its peers. Exactly one of the
// payload fields is set. From is filled in by the transport, which
// authenticates peers; the core trusts it only to route replies, and
// verifies every signed field regardless.
type Message struct {
	From, To uint32

	Proposal      *chain.Proposal
	Vote          *chain.Vote
	Timeout       *chain.Timeout
	BlockRequest  *BlockRequest
	BlockResponse *BlockResponse
	SyncRequest   *SyncRequest
	SyncResponse  *SyncResponse
	// QC is a certificate a validator formed from the votes it received,
	// sent to the leader of the next round: a Byzantine voter can keep its
	// vote from that leader alone (an equivocating leader's twin does), and
	// without the QC the leader could not propose.
	QC *chain.QC
}

// Kind names the message's payload, for logs and statistics.
func (m Message) Kind() string {
	switch {
	case m.Proposal != nil:
		return "proposal"
	case m.Vote != nil:
		return "vote"
	case m.Timeout != nil:
		return "timeout"
	case m.BlockRequest != nil:
		return "block-request"
	case m.BlockResponse != nil:
		return "block-response"
	case m.SyncRequest != nil:
		return "sync-request"
	case m.SyncResponse != nil:
		return "sync-response"
	case m.QC != nil:
		return "qc"
	}
	return "empty"
}

// BlockRequest asks a peer for the block with hash Hash and up to Count-1 of
// its ancestors.
type BlockRequest struct {
	Hash  chain.Hash
	Count int
	// Above is the requester's committed height: it holds every block at
	// or below it, so none is served.
	Above uint64
}

// BlockResponse answers a BlockRequest: the requested block first, then its
// ancestors, newest to oldest.
type BlockResponse struct {
	Blocks []*chain.Block
}

// SyncRequest asks a peer for up to Count committed blocks from height
// From upwards: how a validator that fell far behind catches up.
type SyncRequest struct {
	From  uint64
	Count int
}

// SyncResponse answers a SyncRequest with consecutive committed blocks,
// lowest first, and QC, the certificate of the last one. Every block
// carries its parent's certificate, so each block in the response is
// certified, and each certificate is verified before a block is used.
type SyncResponse struct {
	Blocks []*chain.Block
	QC     *chain.QC
	// Tip is the responder's committed height: while the last block is
	// below it, the requester asks for more. (A response is bounded in
	// bytes, so a short one does not mean the end.)
	Tip uint64
	// Earliest, in a response without blocks, says that the responder
	// pruned the heights asked for and keeps those from Earliest: a
	// validator behind it must catch up from a snapshot (state sync).
	Earliest uint64
}

// SafetyState is what a validator must remember across crashes to never
// contradict itself.
type SafetyState struct {
	// LastVotedRound is the highest round in which the validator voted or
	// timed out; it never votes in that round or below again.
	LastVotedRound uint64
	// HighQC is the highest QC the validator has seen for a block it holds.
	HighQC *chain.QC
	// LastTimeout is the last timeout it signed, re-sent rather than
	// re-signed after a restart (unless its high QC has risen since).
	LastTimeout *chain.Timeout
	// HighTC is the highest timeout certificate seen. It is not needed for
	// safety, but a leader that restarts without it could neither justify
	// its proposal nor help others form the certificate again, and the
	// chain could halt.
	HighTC *chain.TC
}

// Commit is one committed block together with the QC that certified it.
type Commit struct {
	Block *chain.Block
	Hash  chain.Hash
	QC    *chain.QC
}

// Ready is the core's accumulated output since the last call to Ready.
//
// The runtime must handle it in this order: persist Blocks and Safety
// durably, then send Messages, then apply Committed and record Evidence.
type Ready struct {
	Safety    *SafetyState   // non-nil when the safety state changed
	Blocks    []*chain.Block // blocks newly added to the block tree
	Messages  []Message
	Committed []Commit // in height order
	Evidence  []chain.Evidence
}

// IsEmpty reports whether r carries nothing to do.
func (r *Ready) IsEmpty() bool {
	return r.Safety == nil && len(r.Blocks) == 0 && len(r.Messages) == 0 &&
		len(r.Committed) == 0 && len(r.Evidence) == 0
}

// Stats counts what the core dropped and why, so that operators and tests
// can see misbehaving peers without the core trusting them.
type Stats struct {
	Dropped map[string]int // reason -> count
	// ConflictCommit counts commits refused because the certified branch
	// did not extend the committed tip. The tree only holds descendants of
	// the tip, so it stays 0; it guards that invariant.
	ConflictCommit int
}
