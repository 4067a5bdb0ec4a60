package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/apps"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/light"
	"github.com/strategos/strategos/internal/snapshot"
	"github.com/strategos/strategos/internal/statesync"
	"github.com/strategos/strategos/internal/wire"
)

// rounds returns the rounds of the votes and timeouts in a sign log.
func (l *lineLog) rounds() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []uint64
	for _, line := range strings.Split(l.buf.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "vote" || f[0] == "timeout") {
			r, _ := strconv.ParseUint(f[1], 10, 64)
			out = append(out, r)
		}
	}
	return out
}

func (l *lineLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Reset()
}

// wipe deletes the data of stopped validator i and returns the highest
// round it signed in.
func (c *cluster) wipe(i int) uint64 {
	c.t.Helper()
	before := c.signLogs[i].rounds()
	if len(before) == 0 {
		c.t.Fatalf("validator %d signed nothing before the wipe", i)
	}
	var signed uint64
	for _, r := range before {
		signed = max(signed, r)
	}
	c.signLogs[i].reset()
	if err := os.RemoveAll(c.homes[i].DataPath()); err != nil {
		c.t.Fatal(err)
	}
	return signed
}

// checkSignsAbove waits until validator i votes, and checks that it signed
// nothing at or below round.
func (c *cluster) checkSignsAbove(i int, round uint64) {
	c.t.Helper()
	await(c.t, "the restored validator votes", 30*time.Second, func() bool { return c.signLogs[i].votes() > 0 })
	for _, r := range c.signLogs[i].rounds() {
		if r <= round {
			c.t.Fatalf("after state sync validator %d signed in round %d, at or below round %d it signed in before the wipe", i, r, round)
		}
	}
}

// submitKeys submits key<k>=value<k> for k < n to validators 0..2.
func (c *cluster) submitKeys(n int) {
	c.t.Helper()
	for k := range n {
		if _, err := c.nodes[k%3].Submit(fmt.Appendf(nil, "key%d=value%d", k, k)); err != nil {
			c.t.Fatal(err)
		}
	}
}

// checkKeys checks that validator i's application holds what submitKeys
// wrote.
func (c *cluster) checkKeys(i, n int) {
	c.t.Helper()
	for k := range n {
		q, err := c.nodes[i].App().Query(context.Background(), app.Query{Path: "key", Data: []byte("key" + strconv.Itoa(k))})
		if err != nil || string(q.Value) != "value"+strconv.Itoa(k) {
			c.t.Fatalf("key%d on validator %d: %q, %v", k, i, q.Value, err)
		}
	}
}

// stateSync runs state sync for stopped validator i, within a minute.
func (c *cluster) stateSync(i int) *statesync.Result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := c.homes[i]
	res, err := StateSync(ctx, h, apps.For(h, nil), nil, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// TestStateSyncRestoresWipedValidator wipes a validator's data, brings it
// back with state sync from its peers' snapshots, and checks that it
// holds the state, follows the chain, and signs again only in rounds
// above every round it signed in before the wipe.
func TestStateSyncRestoresWipedValidator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) { h.Node.SnapshotInterval = 10 })
	c.waitHeight(2, 20*time.Second)
	c.submitKeys(40)
	c.waitHeight(25, 60*time.Second)
	c.stop(3)
	signedBefore := c.wipe(3)
	res := c.stateSync(3)
	if res == nil || res.Height < 20 || res.Height%10 != 0 {
		t.Fatalf("state sync restored %+v; want a snapshot height of at least 20", res)
	}
	if res.VoteAbove <= signedBefore {
		t.Fatalf("state sync starts voting above round %d, but the validator signed in round %d before the wipe", res.VoteAbove, signedBefore)
	}
	// A second state sync on the now restored home does nothing.
	if again := c.stateSync(3); again != nil {
		t.Fatalf("state sync on a restored home restored %+v", again)
	}

	t.Logf("restored height %d, %d pairs, signs above round %d; signed up to round %d before", res.Height, res.Pairs, res.VoteAbove, signedBefore)
	c.start(3, nil)
	target := c.nodes[0].Status().Height + 10
	c.waitHeight(target, 60*time.Second)
	c.checkKeys(3, 40)
	for height := res.Height; height <= target; height++ {
		_, want, _, _ := c.nodes[0].Store().CommittedBlock(height)
		_, got, _, ok := c.nodes[3].Store().CommittedBlock(height)
		if !ok || got != want {
			t.Fatalf("height %d: restored validator holds %v (%v), validator 0 %v", height, got, ok, want)
		}
	}
	c.checkSignsAbove(3, signedBefore)
}

// TestStateSyncWithoutSnapshots: on a chain too young for any snapshot,
// state sync leaves the store empty but for the bound on what it signs;
// the validator replays the chain and signs only above that bound.
func TestStateSyncWithoutSnapshots(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) { h.Node.SnapshotInterval = -1 })
	c.waitHeight(15, 30*time.Second)
	c.stop(3)
	signedBefore := c.wipe(3)
	res := c.stateSync(3)
	if res == nil || res.Height != 0 || res.VoteAbove <= signedBefore {
		t.Fatalf("state sync without snapshots gave %+v; want height 0 and a bound above round %d", res, signedBefore)
	}
	c.start(3, nil)
	c.waitHeight(c.nodes[0].Status().Height+5, 60*time.Second)
	c.checkSignsAbove(3, signedBefore)
}

// lie changes a peer's answer.
type lie func(from uint32, r *wire.SnapshotResponse)

// lyingNet stands between a state sync client and its peers and lets a
// test change what the peers answer.
type lyingNet struct {
	statesync.Network
	lie func(from uint32, r *wire.SnapshotResponse)
}

func (l *lyingNet) Recv(ctx context.Context) (uint32, wire.Envelope, error) {
	from, e, err := l.Network.Recv(ctx)
	if err == nil && e.SnapshotResponse != nil {
		l.lie(from, e.SnapshotResponse)
	}
	return from, e, err
}

// TestStateSyncRefusesLyingPeers restores a wiped validator while its
// peers lie in turn: every lie is detected, named in the log, and the
// client completes from what remains honest.
func TestStateSyncRefusesLyingPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	// Snapshots 40 heights apart live long enough, at test block rates,
	// for a restore to outlast a lying peer's timeouts.
	c := newClusterTuned(t, 4, "kv", nil, func(h *config.Home) { h.Node.SnapshotInterval = 40 })
	c.submitKeys(20)
	c.waitHeight(85, 60*time.Second)
	c.stop(3)
	h := c.homes[3]
	flip := func(b []byte) {
		if len(b) > 0 {
			b[len(b)/2] ^= 1
		}
	}
	// Each case's lie is built afresh: liar is the peer that lies (the
	// first to answer what the case lies about), first the height of the
	// first snapshot the client tries.
	firstAnswer := func(kind wire.SnapshotKind, change func(r *wire.SnapshotResponse)) lie {
		liar := int64(-1)
		return func(from uint32, r *wire.SnapshotResponse) {
			if r.Kind != kind {
				return
			}
			if liar < 0 {
				liar = int64(from)
			}
			if int64(from) == liar {
				change(r)
			}
		}
	}
	cases := []struct {
		name string
		lie  func() lie
		want string // a log line that names the lie
	}{
		{"one peer's chunks are corrupt", func() lie {
			return firstAnswer(wire.SnapshotChunk, func(r *wire.SnapshotResponse) { flip(r.Data) })
		}, "chunk is refused"},
		{"a peer's certificate has a forged signature", func() lie {
			return firstAnswer(wire.SnapshotCertificate, func(r *wire.SnapshotResponse) { forgeCertificate(t, r) })
		}, "certificate is refused"},
		{"a peer's block is not the certified one", func() lie {
			return firstAnswer(wire.SnapshotCertificate, func(r *wire.SnapshotResponse) {
				if r.Block != nil {
					b := *r.Block
					b.Round++
					r.Block = &b
				}
			})
		}, "not the certified one"},
		{"every peer's chunks of a snapshot are corrupt", func() lie {
			var first uint64
			return func(from uint32, r *wire.SnapshotResponse) {
				if r.Kind == wire.SnapshotChunk && (first == 0 || r.Height == first) {
					first = r.Height
					flip(r.Data)
				}
			}
		}, "snapshot given up"},
		{"the newest snapshot's app hash is not the certified root", func() lie {
			return func(from uint32, r *wire.SnapshotResponse) {
				if r.Kind == wire.SnapshotList {
					changeTop(r, func(m *snapshot.Meta) bool { m.AppHash[0] ^= 1; return true })
				}
			}
		}, "is not the certified root"},
		{"a peer offers a snapshot it does not serve", offerUnserved, "does not answer chunk requests"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.RemoveAll(h.DataPath()); err != nil {
				t.Fatal(err)
			}
			log := &lineLog{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			res, err := stateSync(ctx, h, apps.For(h, nil), nil, slog.New(slog.NewTextHandler(log, nil)), storePath(h), func(cfg *statesync.Config) {
				cfg.Net = &lyingNet{Network: cfg.Net, lie: tc.lie()}
				cfg.RequestTimeout = time.Second
			})
			if err != nil {
				t.Fatalf("state sync: %v\n%s", err, log.String())
			}
			if res.Height%40 != 0 {
				t.Errorf("restored height %d is not a snapshot's", res.Height)
			}
			if !strings.Contains(log.String(), tc.want) {
				t.Errorf("the log does not say %q:\n%s", tc.want, log.String())
			}
		})
	}
}

// changeTop changes, or removes if change returns false, the newest
// snapshot a list answer offers, and returns its height (0 if none).
func changeTop(r *wire.SnapshotResponse, change func(*snapshot.Meta) bool) uint64 {
	top, at := (*snapshot.Meta)(nil), -1
	for i, b := range r.Metas {
		if m, err := snapshot.DecodeMeta(b); err == nil && (top == nil || m.Height > top.Height) {
			top, at = m, i
		}
	}
	if top == nil {
		return 0
	}
	if change(top) {
		r.Metas[at], _ = top.Marshal()
	} else {
		r.Metas = append(r.Metas[:at], r.Metas[at+1:]...)
	}
	return top.Height
}

// offerUnserved makes the first peer to list its snapshots the only one
// to offer its newest (with another chunk hash, so that it is a snapshot
// of its own) and leave every request for its chunks unanswered.
func offerUnserved() lie {
	liar, liarTop := int64(-1), uint64(0)
	return func(from uint32, r *wire.SnapshotResponse) {
		if liar < 0 && r.Kind == wire.SnapshotList {
			liar = int64(from)
		}
		switch {
		case int64(from) == liar && r.Kind == wire.SnapshotList:
			liarTop = changeTop(r, func(m *snapshot.Meta) bool { m.Chunks[0][0] ^= 1; return true })
		case int64(from) == liar && r.Kind == wire.SnapshotChunk:
			r.Kind = wire.SnapshotList // not the answer awaited: as if none came
		case r.Kind == wire.SnapshotList && liarTop > 0:
			r.Metas = slices.DeleteFunc(r.Metas, func(b []byte) bool {
				m, err := snapshot.DecodeMeta(b)
				return err == nil && m.Height >= liarTop
			})
		}
	}
}

// forgeCertificate changes one signature of the QC in a certificate
// answer.
func forgeCertificate(t *testing.T, r *wire.SnapshotResponse) {
	cert, err := light.DecodeCertificate(bytes.NewReader(r.Data))
	if err != nil {
		t.Error(err)
		return
	}
	flip := cert.QC.Votes[0].Sig
	flip[0] ^= 1
	if r.Data, err = cert.MarshalJSON(); err != nil {
		t.Error(err)
	}
}

// A validator that has not heard from the network since it started does
// not claim to be caught up: alone, it cannot know where the network is.
func TestNotCaughtUpUntilHeard(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newCluster(t, 4)
	c.waitHeight(5, 20*time.Second)
	for i := range 4 {
		c.stop(i)
	}
	c.start(0, nil)
	// Alone it cannot form a certificate, so nothing it hears can move
	// its round: published at start and after every event, the status
	// must say it is not caught up.
	time.Sleep(300 * time.Millisecond) // a few rounds' worth of its own timeouts
	if st := c.nodes[0].Status(); st.Heard || !st.CatchingUp {
		t.Fatalf("alone after a restart: heard %v, catching up %v; want false, true", st.Heard, st.CatchingUp)
	}
	c.start(1, nil)
	c.start(2, nil)
	await(t, "validator 0 hears the network and is caught up", 30*time.Second, func() bool {
		st := c.nodes[0].Status()
		return st.Heard && !st.CatchingUp
	})
}
