package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// Evidence of misbehaviour travels in three steps. A validator that sees a
// validator sign two conflicting messages for one round (the core reports
// it) verifies the proof, keeps it and gossips it; every validator that
// receives it verifies it again, so a forged accusation against an honest
// validator goes nowhere. Leaders then put pending evidence into blocks as
// special entries of the payload, and execution records each proof once on
// the ledger, so every validator's ledger holds the same record.

// evidencePrefix marks a payload entry that carries evidence rather than
// an application transaction. Neither application accepts such bytes from
// a client: bank transactions are JSON, kv ones printable text.
var evidencePrefix = []byte("\x00strategos/evidence\x00")

// Keys of the ledger's evidence record in the application area.
const (
	evidenceCountKey  = "evidence/count"
	evidenceKeyPrefix = "evidence/key/"  // + Evidence.Key() -> recorded
	evidenceItem      = "evidence/item/" // + big-endian index -> height + proof
	evidenceLast      = "evidence/last/" // + big-endian validator -> round of its latest recorded proof
)

// Bounds on evidence, so that proofs can neither crowd blocks out nor fill
// a ledger: every rule that decides what a block records depends only on
// the block and the ledger, so all validators decide alike.
const (
	// evidenceWindow is how many rounds a proof stays valid (judged at the
	// round of the block that carries it, or at this validator's round
	// when it arrives by gossip), and how far apart two recorded proofs
	// against one validator must be: one proof per validator per window
	// is enough to know it misbehaves.
	evidenceWindow = consensus.EvidenceRounds
	// maxBlockEvidence is the most evidence entries a block records; their
	// bytes and count come out of the block's payload budget.
	maxBlockEvidence = 4
	// maxListedEvidence is the most ledger records /v1/evidence lists (the
	// latest ones).
	maxListedEvidence = 1000
)

func evidenceItemKey(i uint64) string {
	return evidenceItem + string(binary.BigEndian.AppendUint64(nil, i))
}

func evidenceLastKey(v uint32) string {
	return evidenceLast + string(binary.BigEndian.AppendUint32(nil, v))
}

// evidencePool holds verified proofs not yet on the ledger: at most one
// per validator, so at most n.
type evidencePool struct {
	mu      sync.Mutex
	pending map[uint32]chain.Evidence
}

// evidenceRules are the rules a proof is judged by at round now.
func (n *Node) evidenceRules(now uint64) chain.EvidenceRules {
	// No leader rule: who led a round is a function of the committed chain
	// that a validator may see differently while it catches up, and an
	// honest validator never signs two proposals for one round, whoever
	// it believes leads it. Self-accusation is bounded like any proof: one
	// pending per validator, one on the ledger per window.
	return chain.EvidenceRules{Now: now, Window: evidenceWindow}
}

// lastRecorded returns the round of the latest proof against v on the
// ledger.
func (n *Node) lastRecorded(v uint32) (uint64, bool, error) {
	b, ok, err := n.store.AppGet(evidenceLastKey(v))
	if err != nil || !ok {
		return 0, false, err
	}
	if len(b) != 8 {
		return 0, false, fmt.Errorf("node: evidence record of validator %d has %d bytes", v, len(b))
	}
	return binary.BigEndian.Uint64(b), true, nil
}

// recordedWithin reports whether the ledger holds a proof against v within
// evidenceWindow rounds before round: a further proof is then not needed.
func recordedWithin(last uint64, recorded bool, round uint64) bool {
	return recorded && round < last+evidenceWindow
}

// addEvidence verifies and keeps a proof not yet on the ledger, and
// gossips it when this validator found it. It returns the verification
// error of a proof that does not verify; proofs it has no need of (one
// pending, or recorded) are dropped before any signature is checked.
func (n *Node) addEvidence(e chain.Evidence, gossip bool) error {
	n.evidence.mu.Lock()
	_, known := n.evidence.pending[e.Validator]
	n.evidence.mu.Unlock()
	if known {
		n.metrics.dropped.WithLabelValues("evidence: one already pending").Inc()
		return nil
	}
	last, recorded, err := n.lastRecorded(e.Validator)
	if err != nil {
		n.log.Error("reading the evidence record", "err", err)
		return nil
	}
	if recordedWithin(last, recorded, e.Round) || recorded && e.Round <= last {
		n.metrics.dropped.WithLabelValues("evidence: already on the ledger").Inc()
		return nil
	}
	if err := chain.VerifyEvidence(e, n.chainID, n.vals, chain.Ed25519Verifier{}, n.evidenceRules(n.round)); err != nil {
		n.metrics.dropped.WithLabelValues("invalid evidence").Inc()
		if s, ok := n.evidenceLog.allow(time.Now()); ok {
			n.log.Warn("refused evidence", "against", e.Validator, "kind", e.Kind, "err", err, "suppressed", s)
		}
		return err
	}
	n.evidence.mu.Lock()
	if n.evidence.pending == nil {
		n.evidence.pending = make(map[uint32]chain.Evidence)
	}
	if _, known := n.evidence.pending[e.Validator]; known {
		n.evidence.mu.Unlock()
		return nil
	}
	n.evidence.pending[e.Validator] = e
	n.evidence.mu.Unlock()
	n.metrics.evidence.Inc()
	n.emitEvidence(e)
	n.log.Warn("misbehaviour proven", "validator", e.Validator, "kind", e.Kind, "round", e.Round, "found_here", gossip)
	if gossip {
		if frame, err := wire.Encode(wire.Envelope{Evidence: &e}); err == nil {
			n.tr.Broadcast(transport.Gossip, frame)
		}
	}
	return nil
}

// pendingEvidence returns payload entries for at most maxBlockEvidence
// proofs that are neither on the ledger nor in the branch a new block
// extends, and still within the window at this validator's round, with
// their total size. Stale proofs are dropped from the pool.
func (n *Node) pendingEvidence(skip map[chain.Hash]bool) ([][]byte, int) {
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	vs := make([]uint32, 0, len(n.evidence.pending))
	for v, e := range n.evidence.pending {
		if e.Round+evidenceWindow < n.round {
			delete(n.evidence.pending, v)
			n.metrics.dropped.WithLabelValues("evidence: stale").Inc()
			continue
		}
		if !recordableAt(e, n.round) {
			continue // kept until a block of a later round can record it
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	var out [][]byte
	size := 0
	for _, v := range vs {
		if len(out) == maxBlockEvidence {
			break
		}
		b, err := wire.MarshalEvidence(n.evidence.pending[v])
		if err != nil {
			continue
		}
		tx := append(append([]byte(nil), evidencePrefix...), b...)
		if !skip[chain.TxHash(tx)] {
			out = append(out, tx)
			size += len(tx)
		}
	}
	return out, size
}

// executeEvidence records a payload entry carrying evidence, in a block of
// round round: verified, within the window, by the round's leader for a
// double proposal, and at most once per validator per window. *count is
// the ledger's evidence count so far and *inBlock the evidence entries of
// this block so far, both updated; puts receives the writes.
func (n *Node) executeEvidence(height, round uint64, tx []byte, puts map[string][]byte, count *uint64, inBlock *int) (app.TxResult, error) {
	r := app.TxResult{}
	if *inBlock++; *inBlock > maxBlockEvidence {
		r.Code, r.Log = 1, fmt.Sprintf("invalid evidence: more than %d in one block", maxBlockEvidence)
		return r, nil
	}
	e, err := wire.UnmarshalEvidence(tx[len(evidencePrefix):])
	if err == nil {
		err = chain.VerifyEvidence(e, n.chainID, n.vals, chain.Ed25519Verifier{}, n.evidenceRules(round))
	}
	if err == nil && e.Round >= round {
		err = fmt.Errorf("proof of round %d in a block of the same or a later round %d", e.Round, round)
	}
	if err != nil {
		r.Code, r.Log = 1, fmt.Sprintf("invalid evidence: %v", err)
		return r, nil
	}
	lastKey := evidenceLastKey(e.Validator)
	last, recorded, err := n.lastRecorded(e.Validator)
	if err != nil {
		return r, err
	}
	if b := puts[lastKey]; b != nil {
		last, recorded = binary.BigEndian.Uint64(b), true
	}
	if recorded && (e.Round <= last || recordedWithin(last, recorded, e.Round)) {
		r.Code, r.Log = 1, fmt.Sprintf("evidence already recorded: validator %d has a proof of round %d", e.Validator, last)
		return r, nil
	}
	proof, err := wire.MarshalEvidence(e)
	if err != nil {
		return r, err
	}
	puts[evidenceKeyPrefix+e.Key()] = binary.BigEndian.AppendUint64(nil, height)
	puts[evidenceItemKey(*count)] = append(binary.BigEndian.AppendUint64(nil, height), proof...)
	puts[lastKey] = binary.BigEndian.AppendUint64(nil, e.Round)
	*count++
	n.evidence.mu.Lock()
	delete(n.evidence.pending, e.Validator)
	n.evidence.mu.Unlock()
	return r, nil
}

func isEvidenceTx(tx []byte) bool { return bytes.HasPrefix(tx, evidencePrefix) }

// EvidenceRecord is a proven misbehaviour as the API shows it.
type EvidenceRecord struct {
	Evidence chain.Evidence
	Height   uint64 // the block that recorded it on the ledger; 0 while pending
}

// Evidence lists the latest maxListedEvidence misbehaviour records on this
// validator's ledger, then the proofs it holds that no block has recorded
// yet.
func (n *Node) Evidence() ([]EvidenceRecord, error) {
	var out []EvidenceRecord
	count := uint64(0)
	v, ok, err := n.store.AppGet(evidenceCountKey)
	if err != nil {
		return nil, err
	}
	if ok && len(v) == 8 {
		count = binary.BigEndian.Uint64(v)
	}
	for i := count - min(count, maxListedEvidence); i < count; i++ {
		v, ok, err := n.store.AppGet(evidenceItemKey(i))
		if err != nil {
			return nil, err
		}
		if !ok || len(v) < 8 {
			return nil, fmt.Errorf("node: evidence record %d is missing or short", i)
		}
		e, err := wire.UnmarshalEvidence(v[8:])
		if err != nil {
			return nil, fmt.Errorf("node: evidence record %d: %w", i, err)
		}
		out = append(out, EvidenceRecord{Evidence: e, Height: binary.BigEndian.Uint64(v)})
	}
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	for _, v := range slices.Sorted(maps.Keys(n.evidence.pending)) {
		out = append(out, EvidenceRecord{Evidence: n.evidence.pending[v]})
	}
	return out, nil
}

// Proven returns, in index order, the validators this node holds proof
// against (on its ledger or pending): at most one read per validator.
func (n *Node) Proven() ([]uint32, error) {
	var out []uint32
	n.evidence.mu.Lock()
	pending := maps.Clone(n.evidence.pending)
	n.evidence.mu.Unlock()
	for i := range n.vals.Len() {
		v := uint32(i)
		_, recorded, err := n.lastRecorded(v)
		if err != nil {
			return nil, err
		}
		if _, ok := pending[v]; ok || recorded {
			out = append(out, v)
		}
	}
	return out, nil
}

func (n *Node) hasPendingEvidence() bool {
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	for _, e := range n.evidence.pending {
		if recordableAt(e, n.round) {
			return true
		}
	}
	return false
}

// recordableAt reports whether a block of round could record e: execution
// refuses a proof of its own round or a later one. A Byzantine validator
// that double-votes for rounds ahead is proven at once, but proposing that
// proof in every block until then would only keep an idle chain from
// waiting for transactions, block after block, for nothing.
func recordableAt(e chain.Evidence, round uint64) bool { return e.Round < round }
