package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app"
)

// lineLog is a sign log that counts what a validator signed.
type lineLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// votes counts the votes signed so far.
func (l *lineLog) votes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count("\n"+l.buf.String(), "\nvote ")
}

// faultyApp is an application the test can take down (every call fails
// as an unreachable ABCI application's would) or make lie about its app
// hash (a diverged application).
type faultyApp struct {
	app.Application
	down, lie atomic.Bool
}

func (f *faultyApp) fail() error {
	if f.down.Load() {
		return fmt.Errorf("%w: taken down by the test", app.ErrUnavailable)
	}
	return nil
}

func (f *faultyApp) Info(ctx context.Context) (app.Info, error) {
	if err := f.fail(); err != nil {
		return app.Info{}, err
	}
	return f.Application.Info(ctx)
}

func (f *faultyApp) CheckTx(ctx context.Context, k app.CheckKind, txs []*app.Tx) ([]error, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Application.CheckTx(ctx, k, txs)
}

func (f *faultyApp) PrepareProposal(ctx context.Context, p app.Proposal) ([]*app.Tx, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Application.PrepareProposal(ctx, p)
}

func (f *faultyApp) ProcessProposal(ctx context.Context, p app.Proposal) (bool, error) {
	if err := f.fail(); err != nil {
		return false, err
	}
	return f.Application.ProcessProposal(ctx, p)
}

func (f *faultyApp) FinalizeBlock(ctx context.Context, b app.Block) (app.BlockResult, error) {
	if err := f.fail(); err != nil {
		return app.BlockResult{}, err
	}
	r, err := f.Application.FinalizeBlock(ctx, b)
	if err == nil && f.lie.Load() {
		r.AppHash = append([]byte{0xba, 0xd0}, r.AppHash...)[:len(r.AppHash)]
	}
	return r, err
}

func (f *faultyApp) Commit(ctx context.Context) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Application.Commit(ctx)
}

// await polls cond until it holds.
func await(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func faultyCluster(t *testing.T) (*cluster, *faultyApp) {
	t.Helper()
	f := &faultyApp{}
	c := newClusterWrapped(t, 4, "kv", nil, nil, func(i int, a app.Application) app.Application {
		if i != 3 {
			return a
		}
		f.Application = a
		return f
	})
	c.waitHeight(3, 20*time.Second)
	return c, f
}

// A validator whose application cannot answer says why, votes for
// nothing and executes nothing, but keeps the certified chain; once the
// application is back it replays what it missed, reaches the others' app
// hash, and votes again.
func TestUnavailableAppStopsVotingUntilBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c, f := faultyCluster(t)
	n3 := c.nodes[3]
	f.down.Store(true)
	await(t, "app_error in status", 10*time.Second, func() bool { return n3.Status().AppError != "" })
	if _, err := n3.Submit([]byte("a=1")); !errors.Is(err, ErrAppUnavailable) {
		t.Fatalf("Submit while the application is down: %v", err)
	}
	c.waitHeight(n3.Status().Height+2, 20*time.Second) // let a vote already under way land
	votes := c.signLogs[3].votes()
	executed, _ := n3.store.AppState()
	for k := range 10 {
		if _, err := c.nodes[k%3].Submit(fmt.Appendf(nil, "k%d=v", k)); err != nil {
			t.Fatal(err)
		}
	}
	target := n3.Status().Height + 10
	c.waitHeight(target, 30*time.Second) // node 3 included: it keeps the certified chain
	if got := c.signLogs[3].votes(); got != votes {
		t.Fatalf("%d votes signed while the application was down", got-votes)
	}
	if h, _ := n3.store.AppState(); h != executed {
		t.Fatalf("executed height %d -> %d while the application was down", executed, h)
	}
	f.down.Store(false)
	await(t, "app back", 20*time.Second, func() bool { return n3.Status().AppError == "" })
	await(t, "votes again", 20*time.Second, func() bool { return c.signLogs[3].votes() > votes })
	h, _ := n3.store.AppState()
	if h < target {
		t.Fatalf("executed to %d after recovery, the chain was at %d", h, target)
	}
	for height := executed; height <= target; height++ {
		mine, ok3, err3 := n3.store.AppGet(rootKey(height))
		theirs, ok0, err0 := c.nodes[0].store.AppGet(rootKey(height))
		if err3 != nil || err0 != nil || !ok3 || !ok0 || !bytes.Equal(mine, theirs) {
			t.Fatalf("height %d: node 3 root %x (%v %v), node 0 %x (%v %v)", height, mine, ok3, err3, theirs, ok0, err0)
		}
	}
	if got := counterValue(t, n3.metrics.appErrors); got < 1 {
		t.Fatalf("application failures counted: %v", got)
	}
}

// A validator whose application diverges (another app hash for the same
// blocks) must never vote for a block that carries the others' root: it
// says so loudly, and the three others go on.
func TestDivergedAppNeverVotes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c, f := faultyCluster(t)
	n3 := c.nodes[3]
	f.lie.Store(true)
	await(t, "divergence said in status", 20*time.Second, func() bool {
		return strings.Contains(n3.Status().AppError, "diverged")
	})
	votes := c.signLogs[3].votes()
	c.waitHeight(n3.Status().Height+10, 30*time.Second)
	if got := c.signLogs[3].votes(); got != votes {
		t.Fatalf("a diverged validator signed %d votes", got-votes)
	}
	if counterValue(t, n3.metrics.divergence) == 0 {
		t.Fatal("divergence not counted")
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
