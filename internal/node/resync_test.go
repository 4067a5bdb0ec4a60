package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app/apps"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/statesync"
)

// awaitFarBehind waits for validator i's Run to stop with FarBehind.
func (c *cluster) awaitFarBehind(i int, within time.Duration) *FarBehind {
	c.t.Helper()
	select {
	case err := <-c.done[i]:
		c.cancel[i] = nil
		var fb *FarBehind
		if !errors.As(err, &fb) {
			c.t.Fatalf("validator %d stopped with %v; want FarBehind", i, err)
		}
		return fb
	case <-time.After(within):
		c.t.Fatalf("validator %d did not stop to jump within %v (height %d)", i, within, c.nodes[i].Status().Height)
		return nil
	}
}

func (c *cluster) resync(i int, fb *FarBehind) (*statesync.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := c.homes[i]
	return Resync(ctx, h, apps.For(h, nil), nil, fb)
}

// TestFarBehindValidatorJumpsToSnapshot stops a validator while the others
// go on far past its height, restarts it, and checks that it stops to
// jump, restores a snapshot above its height keeping its record of what
// it signed, and then follows the chain from there with the others'
// blocks and state, signing only in rounds above those it signed in.
func TestFarBehindValidatorJumpsToSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	const behind = 60
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) {
		h.Node.SnapshotInterval, h.Node.StateSyncBehind = 10, behind
	})
	c.waitHeight(5, 20*time.Second)
	c.submitKeys(30)
	c.waitHeight(15, 30*time.Second)
	c.stop(3)
	left := c.nodes[3].Status().Height
	oldSafety, _, err := readSafety(c.homes[3], storePath(c.homes[3]))
	if err != nil {
		t.Fatal(err)
	}
	var signedBefore uint64
	for _, r := range c.signLogs[3].rounds() {
		signedBefore = max(signedBefore, r)
	}
	c.waitHeight(left+6*behind, 90*time.Second)

	c.start(3, nil)
	fb := c.awaitFarBehind(3, 30*time.Second)
	// Its record as it stopped to jump: it ran, and may have signed, since
	// it came back.
	oldSafety, _, err = readSafety(c.homes[3], storePath(c.homes[3]))
	if err != nil {
		t.Fatal(err)
	}
	if fb.Committed < left || fb.Certified <= fb.Committed+behind || fb.MinHeight <= fb.Committed {
		t.Fatalf("FarBehind %+v for a validator that left at height %d, %d behind", fb, left, behind)
	}
	res, err := c.resync(3, fb)
	if err != nil {
		t.Fatal(err)
	}
	if res.Height < fb.MinHeight {
		t.Fatalf("restored height %d, below %d", res.Height, fb.MinHeight)
	}
	safety, committed, err := readSafety(c.homes[3], storePath(c.homes[3]))
	if err != nil {
		t.Fatal(err)
	}
	if committed != res.Height || safety.LastVotedRound != oldSafety.LastVotedRound ||
		!sameRound(safety.LastTimeout, oldSafety.LastTimeout) || safety.HighQC == nil || safety.HighQC.Round <= oldSafety.HighQC.Round {
		t.Fatalf("after the jump: committed %d, safety %+v; before: %+v; restored %+v", committed, safety, oldSafety, res)
	}
	if _, err := os.Stat(storePath(c.homes[3]) + resyncSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the side store remains: %v", err)
	}

	c.signLogs[3].reset()
	c.start(3, nil)
	target := c.nodes[0].Status().Height + 10
	c.waitHeight(target, 60*time.Second)
	if e := c.nodes[3].Store().EarliestHeight(); e > res.Height || e <= left {
		t.Fatalf("earliest height %d after a jump from %d to %d", e, left, res.Height)
	}
	for height := res.Height; height <= target; height++ {
		_, want, _, _ := c.nodes[0].Store().CommittedBlock(height)
		_, got, _, ok := c.nodes[3].Store().CommittedBlock(height)
		if !ok || got != want {
			t.Fatalf("height %d: the validator that jumped holds %v (%v), validator 0 %v", height, got, ok, want)
		}
	}
	c.checkKeys(3, 30)
	c.checkSignsAbove(3, signedBefore)
}

func sameRound(a, b *chain.Timeout) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Round == b.Round)
}

// TestResyncWithoutHighSnapshotChangesNothing: a jump asked for above
// every snapshot offered (a trigger a Byzantine proposer inflated) fails
// with ErrNoSnapshot and leaves the store as it was; the validator then
// runs on from it.
func TestResyncWithoutHighSnapshotChangesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) { h.Node.SnapshotInterval = 10 })
	c.waitHeight(25, 30*time.Second)
	c.stop(3)
	h := c.homes[3]
	before, height, err := readSafety(h, storePath(h))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.resync(3, &FarBehind{Committed: height, Certified: 1 << 40, MinHeight: 1 << 40, Reason: "test"})
	if !errors.Is(err, statesync.ErrNoSnapshot) {
		t.Fatalf("a jump above every snapshot: %v; want ErrNoSnapshot", err)
	}
	after, heightAfter, err := readSafety(h, storePath(h))
	if err != nil {
		t.Fatal(err)
	}
	if heightAfter != height || after.LastVotedRound != before.LastVotedRound || after.HighQC.Round != before.HighQC.Round {
		t.Fatalf("a failed jump changed the store: height %d -> %d, safety %+v -> %+v", height, heightAfter, before, after)
	}
	if _, err := os.Stat(storePath(h) + resyncSuffix); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the side store remains: %v", err)
	}
	c.start(3, nil)
	c.waitHeight(c.nodes[0].Status().Height+5, 60*time.Second)
}

// TestKeepSafetyKeepsTheValidatorsRecord: the restored store starts with
// the validator's own record of what it signed, exactly (not the
// restore's bound for a wiped disk, which would make it skip rounds and
// forget its last timeout), and the snapshot's certificate as its high QC.
func TestKeepSafetyKeepsTheValidatorsRecord(t *testing.T) {
	qc := &chain.QC{Round: 40}
	for _, old := range []consensus.SafetyState{
		{LastVotedRound: 30, HighQC: &chain.QC{Round: 20}},
		{LastVotedRound: 60, HighQC: &chain.QC{Round: 20}, LastTimeout: &chain.Timeout{Round: 60, HighQC: &chain.QC{Round: 20}},
			HighTC: &chain.TC{Round: 59, HighQC: &chain.QC{Round: 20}}},
	} {
		got, err := keepSafety(old, qc)
		if err != nil {
			t.Fatal(err)
		}
		if got.LastVotedRound != old.LastVotedRound || got.LastTimeout != old.LastTimeout || got.HighTC != old.HighTC || got.HighQC != qc {
			t.Fatalf("old %+v: kept %+v", old, got)
		}
	}
	if _, err := keepSafety(consensus.SafetyState{HighQC: &chain.QC{Round: 90}}, qc); err == nil {
		t.Fatal("a validator holding a QC above the snapshot's was restored")
	}
}

// TestRecoverJumpCutShort: a crash before the store's rename leaves the
// old store with its journal and snapshots; after it, the new store
// without them.
func TestRecoverJumpCutShort(t *testing.T) {
	for _, renamed := range []bool{false, true} {
		h := &config.Home{Dir: t.TempDir()}
		data := h.DataPath()
		for _, dir := range droppedByJump {
			if err := os.MkdirAll(filepath.Join(data, dir+dropSuffix), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, dir+dropSuffix, "f"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if !renamed {
			if err := os.WriteFile(storePath(h)+resyncSuffix, []byte("partial"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := recoverJump(h); err != nil {
			t.Fatal(err)
		}
		for _, dir := range droppedByJump {
			_, errKept := os.Stat(filepath.Join(data, dir, "f"))
			_, errDrop := os.Stat(filepath.Join(data, dir+dropSuffix))
			if !errors.Is(errDrop, os.ErrNotExist) || (errKept == nil) == renamed {
				t.Fatalf("store renamed %v: %s kept: %v, %s%s left: %v", renamed, dir, errKept, dir, dropSuffix, errDrop)
			}
		}
		if _, err := os.Stat(storePath(h) + resyncSuffix); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("store renamed %v: the side store remains: %v", renamed, err)
		}
	}
}

// TestPrunedTriggerNeedsWeakQuorum: one peer saying it pruned what the
// validator lacks (perhaps lying) does not make it give up its history;
// peers of more than a third of the power do.
func TestPrunedTriggerNeedsWeakQuorum(t *testing.T) {
	c := newClusterTuned(t, 4, "kv", nil, nil)
	n := c.nodes[0]
	c.stop(0)
	n.notePrunedBy(consensus.Pruned{Peer: 1, From: 101, Earliest: 500})
	if n.prunedByWeakQuorum(100) {
		t.Fatal("one peer's pruned answer triggers a jump")
	}
	n.notePrunedBy(consensus.Pruned{Peer: 2, From: 90, Earliest: 500})
	if n.prunedByWeakQuorum(100) {
		t.Fatal("a stale pruned answer (below the committed height) counts")
	}
	n.notePrunedBy(consensus.Pruned{Peer: 2, From: 101, Earliest: 500})
	if !n.prunedByWeakQuorum(100) {
		t.Fatal("two peers of four that pruned do not trigger a jump")
	}
}
