package node

import (
	"crypto/ed25519"
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
	txs, ev := source{n}.Payload(3, nil)
	size := 0
	for _, tx := range txs {
		size += len(tx)
	}
	evBytes := 0
	for _, e := range ev {
		evBytes += e.Size()
		if e.Size() > 4<<10 {
			t.Errorf("a proof of two 1 MiB proposals takes %d bytes, want a few hundred", e.Size())
		}
	}
	b := &chain.Block{Payload: txs, Evidence: ev}
	if len(ev) != 3 || size+evBytes > maxBlockBytes || b.CheckBudget(maxBlockTxs, maxBlockBytes) != nil {
		t.Fatalf("%d bytes of transactions with %d proofs of %d bytes, want 3 proofs within %d bytes in all (%v)",
			size, len(ev), evBytes, maxBlockBytes, b.CheckBudget(maxBlockTxs, maxBlockBytes))
	}
	if err := checkBlockBudget(100, n.tr.MaxFrame()); err != nil {
		t.Fatalf("the block budget does not fit the frame for 100 validators: %v", err)
	}
}

// TestExecutionBoundsEvidence: whatever a Byzantine leader puts in its
// block, execution records a stale proof, one of a later round than its
// block, or a second proof against one validator within the window, never;
// what it records reaches the application as misbehaviour.
func TestExecutionBoundsEvidence(t *testing.T) {
	n, keys := evidenceNode(t)
	const w = evidenceWindow
	const round = w + 50
	puts := map[string][]byte{}
	block := func(height uint64, entries []chain.Evidence, want []uint32) {
		t.Helper()
		b := &chain.Block{Height: height, Round: round, Time: 7, Evidence: entries}
		mis, err := n.blockEvidence(b, puts)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint32
		for _, m := range mis {
			got = append(got, m.Validator)
			if m.Height != height || m.Time != 7 || m.Kind == "" {
				t.Errorf("misbehaviour %+v, want height %d and time 7", m, height)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("block %d recorded against %v, want %v", height, got, want)
		}
		if err := n.store.AppPut(puts, nil); err != nil { // as the block's commit would
			t.Fatal(err)
		}
		clear(puts)
	}
	block(1, []chain.Evidence{
		doubleProposal(n, keys[1], 1, w+1, 8), // recorded
		doubleProposal(n, keys[1], 1, w+5, 8), // the same validator within the window
		doubleProposal(n, keys[0], 0, w+5, 8), // whoever led the round: two signed proposals
		doubleProposal(n, keys[3], 3, 3, 8),   // stale: more than a window before the block
	}, []uint32{1, 0})
	block(2, []chain.Evidence{
		doubleProposal(n, keys[2], 2, w+2, 8),     // recorded
		doubleProposal(n, keys[3], 3, round+5, 8), // from a later round than its block
		doubleProposal(n, keys[1], 1, w+9, 8),     // validator 1 again, within the window
		doubleProposal(n, keys[3], 3, 3, 8),       // stale
	}, []uint32{2})
	proven, err := n.Proven()
	if err != nil || len(proven) != 3 || proven[0] != 0 || proven[1] != 1 || proven[2] != 2 {
		t.Fatalf("proven = %v, %v; want [0 1 2]", proven, err)
	}
	recs, err := n.Evidence()
	if err != nil || len(recs) != 3 {
		t.Fatalf("evidence = %+v, %v; want three records", recs, err)
	}
	// A replay hands the application exactly what the block recorded.
	again, err := n.recordedEvidence(&chain.Block{Height: 1, Round: round, Evidence: []chain.Evidence{
		doubleProposal(n, keys[1], 1, w+1, 8), doubleProposal(n, keys[1], 1, w+5, 8), doubleProposal(n, keys[0], 0, w+5, 8),
	}})
	if err != nil || len(again) != 2 || again[0].Validator != 1 || again[1].Validator != 0 {
		t.Fatalf("replayed misbehaviour %+v, %v; want validators 1 and 0", again, err)
	}
}

// A voter refuses a block that accuses one validator twice, or records a
// proof of its own or a later round.
func TestVotersJudgeBlockEvidence(t *testing.T) {
	n, keys := evidenceNode(t)
	const round = 20
	for name, ev := range map[string][]chain.Evidence{
		"twice":      {doubleProposal(n, keys[1], 1, 5, 8), doubleProposal(n, keys[1], 1, 6, 8)},
		"same round": {doubleProposal(n, keys[2], 2, round, 8)},
		"forged":     {doubleProposal(n, keys[2], 1, 5, 8)},
	} {
		if err := n.checkEvidence(&chain.Block{Round: round, Evidence: ev}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	good := []chain.Evidence{doubleProposal(n, keys[1], 1, 5, 8), doubleProposal(n, keys[2], 2, 6, 8)}
	if err := n.checkEvidence(&chain.Block{Round: round, Evidence: good}); err != nil {
		t.Fatalf("two good proofs refused: %v", err)
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
