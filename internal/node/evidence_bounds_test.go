package node

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"github.com/strategos/strategos/internal/app/apps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/wire"
)

// evidenceNode is validator 0 of a new 4-validator kv network, built but
// not running, with the other validators' keys.
func evidenceNode(t *testing.T) (*Node, []ed25519.PrivateKey) {
	t.Helper()
	dir := t.TempDir()
	if err := config.Init(config.InitOptions{Nodes: 4, Out: dir, App: "kv", APIPort: 1, P2PPort: 1}); err != nil {
		t.Fatal(err)
	}
	var keys []ed25519.PrivateKey
	var home *config.Home
	for i := range 4 {
		h, err := config.Load(filepath.Join(dir, "node"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, h.Key)
		if i == 0 {
			home = h
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Home: home, App: apps.For(home, nil), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, keys
}

// doubleProposal is validator v's two signed proposals for round, each
// with a payload of size bytes.
func doubleProposal(n *Node, key ed25519.PrivateKey, v uint32, round uint64, size int) chain.Evidence {
	sh := func(tag byte) *chain.SignedHeader {
		b := &chain.Block{Height: 2, Round: round, Proposer: v, QC: &chain.QC{Round: round - 1},
			Payload: [][]byte{append(make([]byte, size), tag)}}
		p := &chain.Proposal{Block: b, Sig: ed25519.Sign(key, chain.ProposalSignBytes(n.chainID, round, b.Hash(n.chainID)))}
		return p.SignedHeader(n.chainID)
	}
	return chain.Evidence{Kind: chain.DoubleProposal, Validator: v, Round: round, Height: 2, HeaderA: sh('a'), HeaderB: sh('b')}
}

func evidenceEntry(t *testing.T, e chain.Evidence) []byte {
	t.Helper()
	b, err := wire.MarshalEvidence(e)
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), evidencePrefix...), b...)
}

// TestEvidenceStaysInsideTheBlockBudget is finding 1: self-accusing double
// proposals of 1 MiB blocks used to ride on top of every honest proposal's
// 3 MiB payload, past the 4 MiB frame, and halted the chain. A proof is now
// two headers, and proofs come out of the block's budget, at most
// maxBlockEvidence of them.
func TestEvidenceStaysInsideTheBlockBudget(t *testing.T) {
	n, keys := evidenceNode(t)
	n.round = 10 // proofs of rounds 1..3 are recordable
	for v := uint32(1); v < 4; v++ {
		n.addEvidence(doubleProposal(n, keys[v], v, uint64(v), 1<<20), false)
	}
	if len(n.evidence.pending) != 3 {
		t.Fatalf("%d proofs pending, want 3", len(n.evidence.pending))
	}
	// Transactions that fill the budget exactly: with the proofs on top
	// the block would be over it.
	for i := range maxBlockBytes / (64 << 10) {
		tx := []byte(fmt.Sprintf("k%04d=", i))
		tx = append(tx, strings.Repeat("v", 64<<10-len(tx))...)
		if err := n.pool.Add(app.NewTx(tx)); err != nil {
			t.Fatal(err)
		}
	}
	payload := source{n}.Payload(3, nil)
	size, proofs := 0, 0
	for _, tx := range payload {
		size += len(tx)
		if isEvidenceTx(tx) {
			proofs++
			if len(tx) > 4<<10 {
				t.Errorf("a proof of two 1 MiB proposals takes %d bytes, want a few hundred", len(tx))
			}
		}
	}
	if proofs != 3 || size > maxBlockBytes {
		t.Fatalf("payload of %d bytes with %d proofs, want 3 proofs within %d bytes", size, proofs, maxBlockBytes)
	}
	if err := checkBlockBudget(100, n.tr.MaxFrame()); err != nil {
		t.Fatalf("the block budget does not fit the frame for 100 validators: %v", err)
	}
}

// TestExecutionBoundsEvidence: whatever a Byzantine leader puts in its
// block, execution records at most maxBlockEvidence proofs, refuses a
// stale proof and
// a second proof against one validator within the window.
func TestExecutionBoundsEvidence(t *testing.T) {
	n, keys := evidenceNode(t)
	const w = evidenceWindow
	const round = w + 50
	puts := map[string][]byte{}
	count := uint64(0)
	block := func(entries []chain.Evidence, want []string) {
		inBlock := 0
		for i, e := range entries {
			r, err := n.executeEvidence(1, round, evidenceEntry(t, e), puts, &count, &inBlock)
			if err != nil {
				t.Fatal(err)
			}
			if (want[i] == "") != r.OK() || !strings.Contains(r.Log, want[i]) {
				t.Errorf("entry %d: ok %v, error %q; want error containing %q", i, r.OK(), r.Log, want[i])
			}
		}
	}
	block([]chain.Evidence{
		doubleProposal(n, keys[1], 1, w+1, 8), // recorded
		doubleProposal(n, keys[1], 1, w+5, 8), // the same validator within the window
		doubleProposal(n, keys[0], 0, w+5, 8), // whoever led the round: two signed proposals
		doubleProposal(n, keys[3], 3, 3, 8),   // stale: more than a window before the block
	}, []string{"", "already recorded", "", "window"})
	block([]chain.Evidence{
		doubleProposal(n, keys[2], 2, w+2, 8),     // recorded
		doubleProposal(n, keys[3], 3, round+5, 8), // from a later round than its block
		doubleProposal(n, keys[1], 1, w+9, 8),     // validator 1 again, within the window
		doubleProposal(n, keys[3], 3, 3, 8),       // stale
		doubleProposal(n, keys[3], 3, w+3, 8),     // valid, but the block's fifth
	}, []string{"", "later", "already recorded", "window", "more than 4"})
	puts[evidenceCountKey] = binary.BigEndian.AppendUint64(nil, count)
	if err := n.store.AppPut(puts, nil); err != nil {
		t.Fatal(err)
	}
	proven, err := n.Proven()
	if err != nil || len(proven) != 3 || proven[0] != 0 || proven[1] != 1 || proven[2] != 2 {
		t.Fatalf("proven = %v, %v; want [0 1 2]", proven, err)
	}
	recs, err := n.Evidence()
	if err != nil || len(recs) != 3 {
		t.Fatalf("evidence = %+v, %v; want two records", recs, err)
	}
}

// TestForgedEvidenceQuarantinesItsSender: a proof that does not verify can
// only come from a Byzantine sender (honest ones gossip what they verified
// under the same rules), so its sender is quarantined rather than costing
// two signature checks per frame on the consensus loop; a proof that is
// merely stale is no such sign.
func TestForgedEvidenceQuarantinesItsSender(t *testing.T) {
	n, keys := evidenceNode(t)
	forged := doubleProposal(n, keys[2], 1, 1, 8) // validator 1's proof, signed by 2
	n.receive(inFrame{From: 2, Env: wire.Envelope{Evidence: &forged}})
	if !n.muted.muted(2, time.Now()) {
		t.Fatal("the sender of a forged proof is not quarantined")
	}
	n.round = 5 * evidenceWindow
	stale := doubleProposal(n, keys[3], 3, 3, 8)
	n.receive(inFrame{From: 1, Env: wire.Envelope{Evidence: &stale}})
	if n.muted.muted(1, time.Now()) {
		t.Fatal("the sender of a stale proof was quarantined")
	}
	if len(n.evidence.pending) != 0 {
		t.Fatalf("pending = %v, want none", n.evidence.pending)
	}
}

// A proof of a round still ahead (a Byzantine validator double-votes for
// future rounds) stays pending, but is not proposed, nor counts as work
// for an idle leader, until a block of a later round can record it: the
// vote-spray attack otherwise kept the chain proposing a refused proof in
// every block, hundreds a second.
func TestFutureEvidenceWaitsForItsRound(t *testing.T) {
	n, keys := evidenceNode(t)
	n.round = 10
	if err := n.addEvidence(doubleProposal(n, keys[2], 2, 50, 8), false); err != nil {
		t.Fatal(err)
	}
	if len(n.evidence.pending) != 1 {
		t.Fatalf("%d proofs pending, want 1", len(n.evidence.pending))
	}
	if n.hasPendingEvidence() {
		t.Fatal("a proof of round 50 counts as work at round 10")
	}
	if out, _ := n.pendingEvidence(nil); len(out) != 0 {
		t.Fatalf("a proof of round 50 proposed at round 10: %d entries", len(out))
	}
	n.round = 51
	if !n.hasPendingEvidence() {
		t.Fatal("a recordable proof does not count as work")
	}
	if out, _ := n.pendingEvidence(nil); len(out) != 1 {
		t.Fatalf("a recordable proof not proposed: %d entries", len(out))
	}
}
