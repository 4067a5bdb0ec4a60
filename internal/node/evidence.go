package node

import (
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
// validator goes nowhere. Leaders then put pending evidence into the
// evidence field of their blocks (chain.Block.Evidence), voters refuse a
// block whose evidence does not verify, and execution records each proof
// once on the ledger, so every validator's ledger holds the same record,
// and hands the proofs it records to the application as misbehaviour.

// Keys of the ledger's evidence record in the application area.
const (
	evidenceCountKey  = "evidence/count"
	evidenceKeyPrefix = "evidence/key/"  // + Evidence.Key() -> recorded
	evidenceItem      = "evidence/item/" // + big-endian index -> height + proof
	evidenceLast      = "evidence/last/" // + big-endian validator -> round of its latest recorded proof
	// evidenceAt + big-endian height -> the positions in that block's
	// evidence of the proofs it recorded, one byte each: what a replay
	// hands the application again.
	evidenceAt = "evidence/height/"
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

func evidenceAtKey(height uint64) string {
	return evidenceAt + string(binary.BigEndian.AppendUint64(nil, height))
}

// The positions evidenceAt records must fit a byte.
var _ [255 - chain.MaxBlockEvidence]struct{}

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

// pendingEvidence returns the proofs for a block this validator leads: at
// most chain.MaxBlockEvidence of them and chain.MaxBlockEvidenceBytes in
// all, none against a validator in skip (a proof against it rides in the
// branch the block extends), none on the ledger, and all within the window
// at this validator's round; with their total size. Stale proofs are
// dropped from the pool.
func (n *Node) pendingEvidence(skip map[uint32]bool) ([]chain.Evidence, int) {
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	vs := make([]uint32, 0, len(n.evidence.pending))
	for v, e := range n.evidence.pending {
		if e.Round+evidenceWindow < n.round {
			delete(n.evidence.pending, v)
			n.metrics.dropped.WithLabelValues("evidence: stale").Inc()
			continue
		}
		if !recordableAt(e, n.round) || skip[v] {
			continue // kept until a block of a later round can record it
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	var out []chain.Evidence
	size := 0
	for _, v := range vs {
		if len(out) == chain.MaxBlockEvidence {
			break
		}
		e := n.evidence.pending[v]
		if sz := e.Size(); size+sz <= chain.MaxBlockEvidenceBytes {
			out = append(out, e)
			size += sz
		}
	}
	return out, size
}

// checkEvidence is a voter's judgement of the evidence a proposed block
// carries (consensus has checked its count and bytes): each proof
// verifies, at the block's round, is of an earlier round, and no two
// accuse one validator. Whether the ledger holds one already is not
// judged here, since voters' ledgers lag differently: execution settles
// that, alike everywhere.
func (n *Node) checkEvidence(b *chain.Block) error {
	var seen map[uint32]bool
	for i, e := range b.Evidence {
		if seen[e.Validator] {
			return fmt.Errorf("evidence %d: a second proof against validator %d", i, e.Validator)
		}
		if seen == nil {
			seen = make(map[uint32]bool, len(b.Evidence))
		}
		seen[e.Validator] = true
		if err := n.validEvidence(e, b.Round); err != nil {
			return fmt.Errorf("evidence %d: %w", i, err)
		}
	}
	return nil
}

// validEvidence checks a proof as a block of round records it.
func (n *Node) validEvidence(e chain.Evidence, round uint64) error {
	if err := chain.VerifyEvidence(e, n.chainID, n.vals, chain.Ed25519Verifier{}, n.evidenceRules(round)); err != nil {
		return err
	}
	if !recordableAt(e, round) {
		return fmt.Errorf("proof of round %d in a block of the same or a later round %d", e.Round, round)
	}
	return nil
}

// blockEvidence records on the ledger the proofs a committed block
// carries, and returns them as the application's misbehaviour. A proof is
// recorded if it verifies (voters checked it; this only keeps execution
// independent of them) and the ledger holds no proof against its
// validator within the window; either way the pool has no more need of
// one. puts receives the writes.
func (n *Node) blockEvidence(b *chain.Block, puts map[string][]byte) ([]app.Misbehavior, error) {
	if len(b.Evidence) == 0 {
		return nil, nil
	}
	count := uint64(0)
	v, ok, err := n.store.AppGet(evidenceCountKey)
	if err != nil {
		return nil, err
	}
	if ok && len(v) == 8 {
		count = binary.BigEndian.Uint64(v)
	}
	var recorded []byte
	for i, e := range b.Evidence {
		if err := n.validEvidence(e, b.Round); err != nil {
			n.log.Warn("a committed block carries invalid evidence: not recorded", "height", b.Height, "against", e.Validator, "err", err)
			continue
		}
		ok, last, err := n.recordEvidence(b.Height, e, puts, count)
		if err != nil {
			return nil, fmt.Errorf("node: evidence of height %d: %w", b.Height, err)
		}
		n.evidenceCommitted(e.Validator, last)
		if ok {
			count++
			recorded = append(recorded, byte(i))
		}
	}
	if len(recorded) == 0 {
		return nil, nil
	}
	puts[evidenceCountKey] = binary.BigEndian.AppendUint64(nil, count)
	puts[evidenceAtKey(b.Height)] = recorded
	return misbehaviorAt(b, recorded), nil
}

// recordedEvidence returns the misbehaviour a block recorded when it was
// first executed, for a replay: the ledger then already holds it.
func (n *Node) recordedEvidence(b *chain.Block) ([]app.Misbehavior, error) {
	pos, ok, err := n.store.AppGet(evidenceAtKey(b.Height))
	if err != nil || !ok {
		return nil, err
	}
	for _, p := range pos {
		if int(p) >= len(b.Evidence) {
			return nil, fmt.Errorf("node: the evidence record of height %d names proof %d of %d", b.Height, p, len(b.Evidence))
		}
	}
	return misbehaviorAt(b, pos), nil
}

// misbehaviorAt is the application's view of the proofs of b at pos.
func misbehaviorAt(b *chain.Block, pos []byte) []app.Misbehavior {
	out := make([]app.Misbehavior, len(pos))
	for i, p := range pos {
		out[i] = misbehaviorOf(b.Evidence[p], b.Height, b.Time)
	}
	return out
}

// recordEvidence writes a verified proof into puts, as the count-th
// record, unless the ledger (or puts) holds a proof against its validator
// within the window; it reports whether it did, and the round of the
// validator's latest recorded proof after it.
func (n *Node) recordEvidence(height uint64, e chain.Evidence, puts map[string][]byte, count uint64) (bool, uint64, error) {
	lastKey := evidenceLastKey(e.Validator)
	last, recorded, err := n.lastRecorded(e.Validator)
	if err != nil {
		return false, 0, err
	}
	if b := puts[lastKey]; b != nil {
		last, recorded = binary.BigEndian.Uint64(b), true
	}
	if recorded && (e.Round <= last || recordedWithin(last, recorded, e.Round)) {
		return false, last, nil
	}
	proof, err := wire.MarshalEvidence(e)
	if err != nil {
		return false, 0, err
	}
	puts[evidenceKeyPrefix+e.Key()] = binary.BigEndian.AppendUint64(nil, height)
	puts[evidenceItemKey(count)] = append(binary.BigEndian.AppendUint64(nil, height), proof...)
	puts[lastKey] = binary.BigEndian.AppendUint64(nil, e.Round)
	return true, e.Round, nil
}

// evidenceCommitted marks what a committed block recorded: the ledger
// holds a proof against v of round last, so the pool drops a pending proof
// against v that it makes needless (the one included, or another within
// the window), as addEvidence would refuse it now.
func (n *Node) evidenceCommitted(v uint32, last uint64) {
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	if e, ok := n.evidence.pending[v]; ok && (e.Round <= last || recordedWithin(last, true, e.Round)) {
		delete(n.evidence.pending, v)
	}
}

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

// recordableAt reports whether a block of round could record e: voters
// refuse a proof of its own round or a later one. A Byzantine validator
// that double-votes for rounds ahead is proven at once, but proposing that
// proof in every block until then would only keep an idle chain from
// waiting for transactions, block after block, for nothing.
func recordableAt(e chain.Evidence, round uint64) bool { return e.Round < round }
