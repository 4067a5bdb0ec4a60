package node

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app/apps"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/events"
	"github.com/strategos/strategos/internal/keys"
)

// TestCheckProposal checks what a validator refuses to vote for: a block
// timed before its parent or too far ahead of the local clock, or whose
// payload the application refuses, or that carries a forged proof. Each
// refusal is counted by reason.
func TestCheckProposal(t *testing.T) {
	n, stop := runFast(t, events.Config{})
	deadline := time.Now().Add(30 * time.Second)
	for n.Status().Height < 2 {
		if time.Now().After(deadline) {
			t.Fatal("height 2 not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Check runs on the consensus goroutine: the checks run on the same
	// validator reopened, not running.
	stop()
	n, err := New(Options{Home: n.home, App: apps.For(n.home, nil)}) // a new n
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	parent, ph, _, ok := n.store.CommittedBlock(1)
	if !ok {
		t.Fatal("no block 1")
	}
	block := func(at int64, txs ...string) *chain.Block {
		b := &chain.Block{Height: 2, Round: parent.Round + 1, Parent: ph, Time: at, StateRoot: genesisRoot(t, n)}
		for _, tx := range txs {
			b.Payload = append(b.Payload, []byte(tx))
		}
		return b
	}
	forger, err2 := keys.New()
	if err2 != nil {
		t.Fatal(err2)
	}
	forged := block(max(time.Now().UnixNano(), parent.Time), "a=b")
	forged.Evidence = []chain.Evidence{doubleProposal(n, forger, 0, 1, 8)}
	now := time.Now().UnixNano()
	for _, c := range []struct {
		name   string
		b      *chain.Block
		reason string // "" if accepted
	}{
		{"good", block(max(now, parent.Time), "a=b"), ""},
		{"forged evidence", forged, refusedEvidence},
		{"at its parent's time", block(parent.Time, "a=b"), ""},
		{"before its parent", block(parent.Time-1, "a=b"), refusedTimeParent},
		{"far ahead", block(now+int64(maxTimeAhead+time.Minute), "a=b"), refusedTimeAhead},
		{"junk payload", block(max(now, parent.Time), "a=b", "no-equals"), refusedPayload},
	} {
		before := dropped(t, n, c.reason)
		err := source{n}.Check(c.b)
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.reason != "" && !errors.Is(err, errRefused):
			t.Errorf("%s: Check = %v, want a refusal (%s)", c.name, err, c.reason)
		case c.reason != "" && dropped(t, n, c.reason) != before+1:
			t.Errorf("%s: refusal not counted as %q", c.name, c.reason)
		}
	}
}

// dropped reads strategos_messages_dropped_total{reason}.
func dropped(t *testing.T, n *Node, reason string) float64 {
	t.Helper()
	fams, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "strategos_messages_dropped_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestProposalClock(t *testing.T) {
	var c proposalClock
	ahead := time.Now().Add(time.Hour).UnixNano()
	c.saw(ahead)
	c.saw(ahead - 1) // never goes back
	if got := c.now(); got != ahead {
		t.Fatalf("now = %d after seeing %d", got, ahead)
	}
}

// genesisRoot is the genesis app hash n recorded: the state root a block
// carries before any block is executed.
func genesisRoot(t *testing.T, n *Node) []byte {
	t.Helper()
	root, ok, err := n.store.AppGet(rootKey(0))
	if err != nil || !ok {
		t.Fatalf("no genesis app hash recorded: %v", err)
	}
	return root
}

// A block that carries another genesis app hash than the one InitChain
// gave is refused like any other wrong root.
func TestCheckGenesisRoot(t *testing.T) {
	n, _ := evidenceNode(t)
	if err := n.rootDiffers(&chain.Block{Height: 1, StateRoot: genesisRoot(t, n)}); err != nil {
		t.Fatalf("the genesis app hash refused: %v", err)
	}
	if err := n.rootDiffers(&chain.Block{Height: 1}); !errors.Is(err, errRootDiffers) {
		t.Fatalf("an empty root before execution: %v, want refused", err)
	}
}

// Every executed height's root is carried by some committed block, one
// height after the parent's, so that a light client can be given a
// certified root for any height; and every carried root is the one each
// validator recorded for that height.
func TestEveryRootCarried(t *testing.T) {
	c := newCluster(t, 4)
	for k := range 200 {
		if _, err := c.nodes[k%4].Submit(fmt.Appendf(nil, "carry%d=v", k)); err != nil {
			t.Fatal(err)
		}
	}
	c.waitHeight(25, 30*time.Second)
	st := c.nodes[0].store
	carried := map[uint64]bool{}
	top := st.CommittedHeight()
	for h := uint64(1); h <= top; h++ {
		b, _, _, ok := st.CommittedBlock(h)
		if !ok {
			t.Fatalf("no committed block at %d", h)
		}
		if b.ExecHeight == 0 {
			continue
		}
		carried[b.ExecHeight] = true
		for i, n := range c.nodes {
			own, ok, err := n.store.AppGet(rootKey(b.ExecHeight))
			if err == nil && ok && !bytes.Equal(own, b.StateRoot) {
				t.Fatalf("block %d carries root %x for height %d, validator %d recorded %x", h, b.StateRoot, b.ExecHeight, i, own)
			}
		}
	}
	last := uint64(0)
	for h := range carried {
		last = max(last, h)
	}
	if last < 15 {
		t.Fatalf("the highest carried root is of height %d, at committed height %d", last, top)
	}
	for h := uint64(1); h <= last; h++ {
		if !carried[h] {
			t.Errorf("no committed block carries the root of height %d (carried up to %d)", h, last)
		}
	}
}

// A proposal carries the root of the height after its parent's, or this
// validator's latest when that is more than maxRootLag ahead or the
// parent's is not executed here yet.
func TestExecutedCarriesNext(t *testing.T) {
	c := newCluster(t, 1)
	c.waitHeight(maxRootLag+4, 20*time.Second)
	n := c.nodes[0]
	src := source{n}
	root := func(h uint64) []byte {
		r, ok, err := n.store.AppGet(rootKey(h))
		if err != nil || !ok {
			t.Fatalf("no root recorded for height %d", h)
		}
		return r
	}
	latest, _ := n.store.AppState()
	h, r := src.Executed(&chain.Block{Height: 9, ExecHeight: latest - 3})
	if h != latest-2 || !bytes.Equal(r, root(latest-2)) {
		t.Errorf("over a parent carrying height %d: carried %d %x, want %d %x", latest-3, h, r, latest-2, root(latest-2))
	}
	if h, _ := src.Executed(&chain.Block{Height: 9, ExecHeight: latest - maxRootLag - 1}); h != latest && h != latest+1 {
		// latest+1: another block executed meanwhile
		t.Errorf("%d behind: carried %d, want the latest %d", maxRootLag+1, h, latest)
	}
	if h, _ := src.Executed(&chain.Block{Height: 9, ExecHeight: 1 << 40}); h >= 1<<40 {
		t.Errorf("over a parent ahead of this validator: carried %d", h)
	}
}
