package events

import (
	"errors"
	"strconv"
)

// Event types.
const (
	Proposal = "proposal" // a proposal received, or sent as leader
	Vote     = "vote"     // a vote received, or cast
	QC       = "qc"       // a quorum certificate formed or first learned
	Timeout  = "timeout"  // a timeout received or sent
	TC       = "tc"       // a timeout certificate formed or learned
	Commit   = "commit"   // a block committed
	Evidence = "evidence" // misbehaviour proven
	Round    = "round"    // the node entered a round
	Dropped  = "dropped"  // this subscriber missed Count events
)

// Event is one thing a node saw. Which fields apply depends on Type (see
// docs/ledger.md for the schema); those that do not are left unset and
// are omitted from the JSON. Seq and TimeMS are set by the broker.
type Event struct {
	Seq    uint64 `json:"seq"`
	TimeMS int64  `json:"time_ms"`
	Type   string `json:"type"`
	Node   Num    `json:"node,omitzero"` // the node that saw it

	Height      Num      `json:"height,omitzero"`
	Round       Num      `json:"round,omitzero"`
	Validator   Num      `json:"validator,omitzero"` // proposer, voter, sender of a timeout, or the accused
	BlockHash   string   `json:"block_hash,omitempty"`
	ParentHash  string   `json:"parent_hash,omitempty"`
	Txs         Num      `json:"txs,omitzero"`
	QCRound     Num      `json:"qc_round,omitzero"`
	HighQCRound Num      `json:"high_qc_round,omitzero"`
	Signers     []uint32 `json:"signers,omitempty"`
	Proposer    Num      `json:"proposer,omitzero"`
	Leader      Num      `json:"leader,omitzero"`
	Kind        string   `json:"kind,omitempty"` // of evidence
	Count       Num      `json:"count,omitzero"` // of a dropped event

	// From is the peer a received message came from; unset for the node's
	// own messages.
	From Num `json:"from,omitzero"`
	// Rejected is why the node refused a received message (an invalid
	// signature, a stale round...); empty when it accepted it.
	Rejected string `json:"rejected,omitempty"`
}

// Num is an optional unsigned number. Validator 0, round 0 of the genesis
// certificate and an empty block's 0 transactions are meaningful, so
// "not applicable" cannot be the zero value: an unset Num is omitted from
// the JSON, a set one is written even when it is 0.
type Num struct {
	v   uint64
	set bool
}

// N returns a set Num.
func N[T ~uint32 | ~uint64 | ~int](v T) Num { return Num{v: uint64(v), set: true} }

// Get returns the number and whether it is set.
func (n Num) Get() (uint64, bool) { return n.v, n.set }

// IsZero reports whether n is unset (for the omitzero JSON option).
func (n Num) IsZero() bool { return !n.set }

// MarshalJSON writes the number.
func (n Num) MarshalJSON() ([]byte, error) { return strconv.AppendUint(nil, n.v, 10), nil }

// UnmarshalJSON reads a number, and sets n.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return errors.New("events: not an unsigned integer: " + string(b))
	}
	*n = Num{v: v, set: true}
	return nil
}
