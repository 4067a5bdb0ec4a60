package node

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/strategos/strategos/internal/app/apps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/events"
	"github.com/strategos/strategos/internal/testbin"
)

// wireEvent is an event as a subscriber reads its JSON, decoded
// independently of package events; pointers tell absent from zero.
type wireEvent struct {
	Seq         uint64   `json:"seq"`
	TimeMS      int64    `json:"time_ms"`
	Type        string   `json:"type"`
	Node        *uint32  `json:"node"`
	Height      *uint64  `json:"height"`
	Round       *uint64  `json:"round"`
	Validator   *uint32  `json:"validator"`
	BlockHash   string   `json:"block_hash"`
	ParentHash  string   `json:"parent_hash"`
	Txs         *uint64  `json:"txs"`
	QCRound     *uint64  `json:"qc_round"`
	HighQCRound *uint64  `json:"high_qc_round"`
	Signers     []uint32 `json:"signers"`
	Proposer    *uint32  `json:"proposer"`
	Leader      *uint32  `json:"leader"`
	Kind        string   `json:"kind"`
	Count       *uint64  `json:"count"`
	From        *uint32  `json:"from"`
	Rejected    string   `json:"rejected"`
}

// The schema: the keys each type must have, and those it may have, beyond
// seq, time_ms and type.
var (
	eventRequired = map[string][]string{
		"proposal": {"node", "height", "round", "validator", "block_hash", "parent_hash", "txs", "qc_round"},
		"vote":     {"node", "round", "validator", "block_hash"},
		"qc":       {"node", "height", "round", "block_hash", "signers"},
		"timeout":  {"node", "round", "validator", "high_qc_round"},
		"tc":       {"node", "round", "signers"},
		"commit":   {"node", "height", "round", "block_hash", "txs", "proposer"},
		"evidence": {"node", "validator", "kind", "round"},
		"round":    {"node", "round", "leader"},
		"dropped":  {"count"},
	}
	eventOptional = map[string][]string{
		"proposal": {"from", "rejected"},
		"vote":     {"height", "from", "rejected"},
		"timeout":  {"from", "rejected"},
		"tc":       {"high_qc_round"},
		"evidence": {"height"},
	}
)

// decodeEvent decodes one event and checks it against the schema. It
// reports with Errorf, so collectors may call it from their goroutines.
func decodeEvent(tb testing.TB, data []byte) wireEvent {
	tb.Helper()
	var keys map[string]any
	var e wireEvent
	if err := json.Unmarshal(data, &keys); err != nil {
		tb.Errorf("event is not a JSON object: %q", data)
		return e
	}
	if err := json.Unmarshal(data, &e); err != nil {
		tb.Errorf("event %s: %v", data, err)
		return e
	}
	req, ok := eventRequired[e.Type]
	if !ok {
		tb.Errorf("event of unknown type: %s", data)
		return e
	}
	for _, k := range append([]string{"seq", "time_ms", "type"}, req...) {
		if _, ok := keys[k]; !ok {
			tb.Errorf("%s event lacks %q: %s", e.Type, k, data)
		}
	}
	for k := range keys {
		if !slices.Contains(req, k) && !slices.Contains(eventOptional[e.Type], k) && k != "seq" && k != "time_ms" && k != "type" {
			tb.Errorf("%s event has unexpected key %q: %s", e.Type, k, data)
		}
	}
	if e.BlockHash != "" && len(e.BlockHash) != 64 {
		tb.Errorf("block_hash %q is not 64 hex digits", e.BlockHash)
	}
	return e
}

// collector keeps everything one subscription receives.
type collector struct {
	mu     sync.Mutex
	events []wireEvent
}

func collect(t *testing.T, b *events.Broker) *collector {
	t.Helper()
	sub, err := b.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range sub.C() {
			e := decodeEvent(t, m.Data)
			if e.Seq != m.Seq || e.Type != m.Type {
				t.Errorf("event %s delivered as seq %d type %s", m.Data, m.Seq, m.Type)
			}
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { sub.Close(); <-done })
	return c
}

func (c *collector) snapshot() []wireEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}

// waitFor polls cond over what c collected until it holds.
func (c *collector) waitFor(t *testing.T, what string, within time.Duration, cond func([]wireEvent) bool) []wireEvent {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		evs := c.snapshot()
		if cond(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%d events)", what, within, len(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isOwn(e wireEvent) bool { return e.From == nil }

// proposedCommits counts commits whose proposal the subscriber also saw.
func proposedCommits(evs []wireEvent) int {
	proposed := map[string]bool{}
	n := 0
	for _, e := range evs {
		switch e.Type {
		case "proposal":
			proposed[e.BlockHash] = true
		case "commit":
			if proposed[e.BlockHash] {
				n++
			}
		}
	}
	return n
}

// On a running network, every node's stream follows the protocol: a
// block's proposal comes before the votes for it, the votes before its
// QC, the QC before its commit, and the round before its leader's
// proposal; the QCs a node formed as leader come after the votes of all
// their signers.
func TestEventsOrderOnNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	const n = 4
	c := newCluster(t, n)
	cols := make([]*collector, n)
	for i := range n {
		cols[i] = collect(t, c.nodes[i].Events())
	}
	for i := range n {
		evs := cols[i].waitFor(t, fmt.Sprintf("node %d: 8 commits of proposals it saw", i), 30*time.Second,
			func(evs []wireEvent) bool { return proposedCommits(evs) >= 8 })
		checkOrder(t, uint32(i), n, evs)
	}
}

func checkOrder(t *testing.T, self uint32, n int, evs []wireEvent) {
	t.Helper()
	type voteKey struct {
		voter uint32
		block string
	}
	proposal, qc, commit := map[string]int{}, map[string]int{}, map[string]int{}
	vote := map[voteKey]int{}
	roundAt := map[uint64]int{}
	leaderOf := map[uint64]uint32{}
	var lastRound, lastHeight uint64
	for i, e := range evs {
		if e.Node == nil || *e.Node != self {
			t.Fatalf("node %d: event names node %v: %+v", self, e.Node, e)
		}
		if i > 0 && e.Seq != evs[i-1].Seq+1 {
			t.Fatalf("node %d: seq %d after %d", self, e.Seq, evs[i-1].Seq)
		}
		switch e.Type {
		case "proposal":
			if _, ok := proposal[e.BlockHash]; !ok {
				proposal[e.BlockHash] = i
			}
		case "vote":
			if _, ok := vote[voteKey{*e.Validator, e.BlockHash}]; !ok {
				vote[voteKey{*e.Validator, e.BlockHash}] = i
			}
			if isOwn(e) && *e.Validator != self {
				t.Errorf("node %d: own vote names validator %d", self, *e.Validator)
			}
		case "qc":
			if _, ok := qc[e.BlockHash]; ok {
				t.Errorf("node %d: QC for %s published twice", self, e.BlockHash)
			}
			qc[e.BlockHash] = i
		case "commit":
			commit[e.BlockHash] = i
			if lastHeight > 0 && *e.Height != lastHeight+1 {
				t.Errorf("node %d: commit of height %d after %d", self, *e.Height, lastHeight)
			}
			lastHeight = *e.Height
		case "round":
			if *e.Round <= lastRound {
				t.Errorf("node %d: round %d after round %d", self, *e.Round, lastRound)
			}
			if *e.Leader >= uint32(n) {
				t.Errorf("node %d: round %d led by %d, not a validator", self, *e.Round, *e.Leader)
			}
			leaderOf[*e.Round] = *e.Leader
			lastRound = *e.Round
			roundAt[*e.Round] = i
		case "dropped":
			t.Fatalf("node %d: a prompt subscriber lost events: %+v", self, e)
		}
	}
	checked, formed := 0, 0
	for i, e := range evs {
		switch e.Type {
		case "commit":
			p, ok := proposal[e.BlockHash]
			if !ok {
				continue // proposed before the subscription
			}
			q, ok := qc[e.BlockHash]
			if !ok || !(p < q && q < i) {
				t.Errorf("node %d: block %d: proposal at %d, qc at %d (%v), commit at %d", self, *e.Height, p, q, ok, i)
				continue
			}
			pe, qe := evs[p], evs[q]
			if *pe.Height != *e.Height || *pe.Round != *e.Round || *pe.Validator != *e.Proposer || *pe.Txs != *e.Txs || *qe.Height != *e.Height || *qe.Round != *e.Round {
				t.Errorf("node %d: proposal %+v, qc %+v and commit %+v disagree", self, pe, qe, e)
			}
			checked++
		case "qc":
			p, ok := proposal[e.BlockHash]
			if !ok {
				continue
			}
			if p > i {
				t.Errorf("node %d: qc for %s at %d before its proposal at %d", self, e.BlockHash, i, p)
			}
			need := []uint32{}
			if slices.Contains(e.Signers, self) {
				need = append(need, self)
			}
			// Every validator forms QCs from the votes it receives, but
			// may learn one from a proposal first, so only its own vote
			// is sure to precede it. A peer's vote may overtake the
			// proposal on the way here (they travel on different
			// connections); this node's own vote follows the proposal.
			for _, s := range need {
				v, ok := vote[voteKey{s, e.BlockHash}]
				if !ok || v > i || (s == self && v < p) {
					t.Errorf("node %d: qc round %d signed by %v: vote of %d at %d (%v), proposal at %d, qc at %d", self, *e.Round, e.Signers, s, v, ok, p, i)
				}
			}
		case "proposal":
			// The leader a round event announced is the one whose
			// proposal this node shows for it.
			if l, ok := leaderOf[*e.Round]; ok && *e.Validator != l && *e.Round > 1 {
				formed = -1000
				t.Errorf("node %d: round %d announced leader %d, proposal by %d", self, *e.Round, l, *e.Validator)
			}
			formed++
			if isOwn(e) {
				if r, ok := roundAt[*e.Round]; !ok || r > i {
					t.Errorf("node %d: own proposal for round %d at %d, round event at %d (%v)", self, *e.Round, i, r, ok)
				}
			}
		}
	}
	if checked < 8 || formed < 8 {
		t.Fatalf("node %d: checked %d commits and %d proposals against their round's leader: too few", self, checked, formed)
	}
}

// When a validator stops while it leads, its round times out: the others'
// streams show their timeouts and then the timeout certificate, and
// commits go on. (A validator that stops while another leads is not heard
// from in the next QCs and is not drawn at all: nothing times out.) The
// network is idle and an idle leader waits a second before an empty
// block, so validator 3 is stopped well before it would propose.
func TestEventsTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) { h.Node.BlockIntervalMillis = 1000 })
	c.waitHeight(2, 20*time.Second)
	col := collect(t, c.nodes[0].Events())
	isRoundOf3 := func(e wireEvent) bool { return e.Type == "round" && e.Leader != nil && *e.Leader == 3 }
	evs := col.waitFor(t, "a round led by validator 3", 60*time.Second, func(evs []wireEvent) bool {
		return slices.ContainsFunc(evs, isRoundOf3)
	})
	c.stop(3)
	after := *evs[slices.IndexFunc(evs, isRoundOf3)].Round - 1
	isTC := func(e wireEvent) bool { return e.Type == "tc" && *e.Round > after }
	evs = col.waitFor(t, "a timeout certificate", 30*time.Second, func(evs []wireEvent) bool {
		return slices.ContainsFunc(evs, isTC)
	})
	i := slices.IndexFunc(evs, isTC)
	tc := evs[i]
	if len(tc.Signers) < 3 || slices.Contains(tc.Signers, 3) || !slices.Contains(tc.Signers, 0) {
		t.Fatalf("tc signers %v: want a quorum of the three running validators", tc.Signers)
	}
	own := slices.IndexFunc(evs, func(e wireEvent) bool {
		return e.Type == "timeout" && isOwn(e) && *e.Validator == 0 && *e.Round == *tc.Round
	})
	if own < 0 || own > i {
		t.Fatalf("own timeout for round %d at %d, tc at %d", *tc.Round, own, i)
	}
	type tk struct {
		v      uint32
		r, hqc uint64
	}
	seen := map[tk]bool{}
	for _, e := range evs {
		if e.Type != "timeout" {
			continue
		}
		k := tk{*e.Validator, *e.Round, *e.HighQCRound}
		if seen[k] {
			t.Errorf("timeout %+v published twice", k)
		}
		seen[k] = true
		if e.From != nil && *e.From != *e.Validator {
			t.Errorf("timeout of %d received from %d", *e.Validator, *e.From)
		}
	}
	h := c.nodes[0].Status().Height
	evs = col.waitFor(t, "rounds and commits after the certificate", 30*time.Second, func(evs []wireEvent) bool {
		return slices.ContainsFunc(evs[i:], func(e wireEvent) bool { return e.Type == "commit" && *e.Height > h })
	})
	next := slices.IndexFunc(evs, func(e wireEvent) bool { return e.Type == "round" && *e.Round > *tc.Round })
	if next < i {
		t.Fatalf("no round after the certificate's round %d, or before it (%d < %d)", *tc.Round, next, i)
	}
}

// A validator that equivocates appears in the honest streams as evidence.
func TestEventsEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterWith(t, 4, "kv", map[int]string{3: "equivocate"})
	col := collect(t, c.nodes[0].Events())
	evs := col.waitFor(t, "evidence against validator 3", 40*time.Second, func(evs []wireEvent) bool {
		return slices.ContainsFunc(evs, func(e wireEvent) bool { return e.Type == "evidence" })
	})
	for _, e := range evs {
		if e.Type == "evidence" && (*e.Validator != 3 || (e.Kind != "double-proposal" && e.Kind != "double-vote")) {
			t.Fatalf("evidence %+v: want a double proposal or vote by validator 3", e)
		}
	}
}

// Messages the node refuses are shown with the reason.
func TestEventsRejected(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterWith(t, 4, "kv", map[int]string{3: "bad-signature"})
	col := collect(t, c.nodes[0].Events())
	forged := func(e wireEvent) bool { return strings.Contains(e.Rejected, "invalid") }
	evs := col.waitFor(t, "an invalid message of validator 3", 30*time.Second, func(evs []wireEvent) bool {
		return slices.ContainsFunc(evs, forged) && proposedCommits(evs) >= 3
	})
	for _, e := range evs {
		if forged(e) && (e.From == nil || *e.From != 3 || *e.Validator != 3) {
			t.Errorf("an honest validator's message was refused as invalid: %+v", e)
		}
		if e.Rejected != "" && e.From == nil {
			t.Errorf("the node's own message is marked refused: %+v", e)
		}
		if e.Type == "qc" && slices.Contains(e.Signers, 3) {
			t.Errorf("a QC counts the corrupt signature of validator 3: %+v", e)
		}
	}
}

// startFast runs a single-validator network that commits a block per tick
// (a fast stream of events), with the given event limits.
func startFast(t *testing.T, ec events.Config) *Node {
	t.Helper()
	n, _ := runFast(t, ec)
	return n
}

// runFast is startFast that also returns a function stopping the node.
func runFast(t *testing.T, ec events.Config) (*Node, func()) {
	t.Helper()
	dir := t.TempDir()
	h, err := testbin.OneValidator(dir, "kv")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.Node.Peers[0].Addr, h.Node.P2PListen = ln.Addr().String(), ln.Addr().String()
	h.Node.EmptyBlockTicks = 1
	n, err := New(Options{Home: h, App: apps.For(h, nil), Listener: ln, Events: ec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// A subscriber that stops reading costs the node nothing: heights go on,
// another subscriber keeps receiving, and when the stalled one reads again
// it is told how many events it missed before the next one.
func TestEventsStalledSubscriber(t *testing.T) {
	const buffer = 64
	n := startFast(t, events.Config{Buffer: buffer})
	stalled, err := n.Events().Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	live := collect(t, n.Events())
	deadline := time.Now().Add(20 * time.Second)
	for n.Events().Dropped() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled subscriber's buffer never filled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h := n.Status().Height
	// Commits above the height read just now: the live stream may still
	// be delivering earlier ones, which must not count.
	live.waitFor(t, "the live subscriber receives 20 more commits", 20*time.Second, func(evs []wireEvent) bool {
		commits := 0
		for _, e := range evs {
			if e.Type == "commit" && e.Height != nil && *e.Height > h {
				commits++
			}
		}
		return commits >= 20
	})
	if got := n.Status().Height; got < h+20 {
		t.Fatalf("height went from %d to %d while a subscriber stalled", h, got)
	}
	// The stalled subscriber reads again: its full buffer, in order, then
	// the notice of exactly the gap, then events again.
	recv := func() events.Message {
		t.Helper()
		select {
		case m := <-stalled.C():
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("the resumed subscriber receives nothing")
			return events.Message{}
		}
	}
	var last uint64
	for k := range buffer {
		m := recv()
		if m.Type == events.Dropped || (k > 0 && m.Seq != last+1) {
			t.Fatalf("message %d of the buffer: seq %d type %s after seq %d", k, m.Seq, m.Type, last)
		}
		last = m.Seq
	}
	m := recv()
	e := decodeEvent(t, m.Data)
	if e.Type != "dropped" || e.Count == nil || *e.Count != e.Seq-last || *e.Count == 0 {
		t.Fatalf("after the buffer: %s, want a dropped event counting seqs %d..%d", m.Data, last+1, e.Seq)
	}
	if m := recv(); m.Type == events.Dropped || m.Seq != e.Seq+1 {
		t.Fatalf("after the notice: %s, want the next event, seq %d", m.Data, e.Seq+1)
	}
	for _, e := range live.snapshot() {
		if e.Node == nil && e.Type != "dropped" {
			t.Fatalf("event without node: %+v", e)
		}
	}
}
