package node

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
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
)

func evidenceItemKey(i uint64) string {
	return evidenceItem + string(binary.BigEndian.AppendUint64(nil, i))
}

type evidencePool struct {
	mu      sync.Mutex
	pending map[string]chain.Evidence
}

// addEvidence verifies and keeps a proof not yet on the ledger, and
// gossips it when this validator found it.
func (n *Node) addEvidence(e chain.Evidence, gossip bool) {
	key := e.Key()
	if _, ok := n.store.AppGet(evidenceKeyPrefix + key); ok {
		return
	}
	n.evidence.mu.Lock()
	if n.evidence.pending == nil {
		n.evidence.pending = make(map[string]chain.Evidence)
	}
	_, known := n.evidence.pending[key]
	n.evidence.mu.Unlock()
	if known {
		return
	}
	if err := chain.VerifyEvidence(e, n.chainID, n.vals, chain.Ed25519Verifier{}); err != nil {
		n.metrics.dropped.WithLabelValues("invalid evidence").Inc()
		n.log.Warn("refused evidence", "against", e.Validator, "kind", e.Kind, "err", err)
		return
	}
	n.evidence.mu.Lock()
	n.evidence.pending[key] = e
	n.evidence.mu.Unlock()
	n.metrics.evidence.Inc()
	n.emitEvidence(e)
	n.log.Warn("misbehaviour proven", "validator", e.Validator, "kind", e.Kind, "round", e.Round, "found_here", gossip)
	if gossip {
		if frame, err := wire.Encode(wire.Envelope{Evidence: &e}); err == nil {
			n.tr.Broadcast(transport.Gossip, frame)
		}
	}
}

// pendingEvidence returns payload entries for the proofs that are neither
// on the ledger nor in the branch a new block extends.
func (n *Node) pendingEvidence(skip map[chain.Hash]bool) [][]byte {
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	keys := make([]string, 0, len(n.evidence.pending))
	for k := range n.evidence.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out [][]byte
	for _, k := range keys {
		e := n.evidence.pending[k]
		b, err := wire.MarshalEvidence(e)
		if err != nil {
			continue
		}
		tx := append(append([]byte(nil), evidencePrefix...), b...)
		if !skip[chain.TxHash(tx)] {
			out = append(out, tx)
		}
	}
	return out
}

// executeEvidence records a payload entry carrying evidence: verified, and
// once per misbehaviour. It writes into puts; count is the ledger's
// evidence count so far, updated.
func (n *Node) executeEvidence(height uint64, tx []byte, puts map[string][]byte, count *uint64) app.TxResult {
	r := app.TxResult{Hash: chain.TxHash(tx)}
	e, err := wire.UnmarshalEvidence(tx[len(evidencePrefix):])
	if err == nil {
		err = chain.VerifyEvidence(e, n.chainID, n.vals, chain.Ed25519Verifier{})
	}
	if err != nil {
		r.Error = fmt.Sprintf("invalid evidence: %v", err)
		return r
	}
	key := evidenceKeyPrefix + e.Key()
	if _, done := n.store.AppGet(key); done || puts[key] != nil {
		r.Error = "evidence already recorded"
		return r
	}
	proof, _ := wire.MarshalEvidence(e)
	puts[key] = binary.BigEndian.AppendUint64(nil, height)
	puts[evidenceItemKey(*count)] = append(binary.BigEndian.AppendUint64(nil, height), proof...)
	*count++
	r.OK = true
	n.evidence.mu.Lock()
	delete(n.evidence.pending, e.Key())
	n.evidence.mu.Unlock()
	return r
}

func isEvidenceTx(tx []byte) bool { return bytes.HasPrefix(tx, evidencePrefix) }

// EvidenceRecord is a proven misbehaviour as the API shows it.
type EvidenceRecord struct {
	Evidence chain.Evidence
	Height   uint64 // the block that recorded it on the ledger; 0 while pending
}

// Evidence lists the misbehaviour on this validator's ledger, then the
// proofs it holds that no block has recorded yet.
func (n *Node) Evidence() []EvidenceRecord {
	var out []EvidenceRecord
	count := uint64(0)
	if v, ok := n.store.AppGet(evidenceCountKey); ok && len(v) == 8 {
		count = binary.BigEndian.Uint64(v)
	}
	for i := range count {
		v, ok := n.store.AppGet(evidenceItemKey(i))
		if !ok || len(v) < 8 {
			continue
		}
		e, err := wire.UnmarshalEvidence(v[8:])
		if err != nil {
			continue
		}
		out = append(out, EvidenceRecord{Evidence: e, Height: binary.BigEndian.Uint64(v)})
	}
	n.evidence.mu.Lock()
	keys := make([]string, 0, len(n.evidence.pending))
	for k := range n.evidence.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, EvidenceRecord{Evidence: n.evidence.pending[k]})
	}
	n.evidence.mu.Unlock()
	return out
}

func (n *Node) hasPendingEvidence() bool {
	n.evidence.mu.Lock()
	defer n.evidence.mu.Unlock()
	return len(n.evidence.pending) > 0
}
