package node

import (
	"errors"
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
