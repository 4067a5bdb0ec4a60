package node

import (
	"bytes"
	"context"
	"fmt"
	"github.com/strategos/strategos/internal/app/apps"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
)

// cluster is n in-process validators on loopback, each with real TCP and
// a real store.
type cluster struct {
	t        *testing.T
	dir      string
	homes    []*config.Home
	nodes    []*Node
	cancel   []context.CancelFunc
	done     []chan error
	behavior map[int]string
	// wrap, if set, wraps validator i's application (a test's fault).
	wrap func(i int, a app.Application) app.Application
	// signLogs receive what each validator signs (Options.SignLog).
	signLogs []*lineLog
}

func newCluster(t *testing.T, n int) *cluster { return newAppCluster(t, n, "kv") }

func newAppCluster(t *testing.T, n int, appName string) *cluster {
	return newClusterWith(t, n, appName, nil)
}

// newClusterWith runs validator i with behavior[i] (honest if absent).
func newClusterWith(t *testing.T, n int, appName string, behavior map[int]string) *cluster {
	t.Helper()
	return newClusterTuned(t, n, appName, behavior, nil)
}

// newClusterTuned is newClusterWith that lets tune change each home's
// configuration before the nodes start.
func newClusterTuned(t *testing.T, n int, appName string, behavior map[int]string, tune func(*config.Home)) *cluster {
	t.Helper()
	return newClusterWrapped(t, n, appName, behavior, tune, nil)
}

// newClusterWrapped is newClusterTuned whose validators' applications are
// wrapped by wrap.
func newClusterWrapped(t *testing.T, n int, appName string, behavior map[int]string, tune func(*config.Home),
	wrap func(int, app.Application) app.Application) *cluster {
	t.Helper()
	return newClusterInit(t, config.InitOptions{Nodes: n, App: appName}, behavior, tune, wrap)
}

// newClusterInit is newClusterWrapped for a network that config.Init lays
// out with o (its output directory and ports are the test's).
func newClusterInit(t *testing.T, o config.InitOptions, behavior map[int]string, tune func(*config.Home),
	wrap func(int, app.Application) app.Application) *cluster {
	t.Helper()
	dir := t.TempDir()
	n := o.Nodes
	o.Out, o.APIPort, o.P2PPort = dir, 1, 1
	if err := config.Init(o); err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, nodes: make([]*Node, n), cancel: make([]context.CancelFunc, n), done: make([]chan error, n),
		behavior: behavior, wrap: wrap}
	for range n {
		c.signLogs = append(c.signLogs, &lineLog{})
	}
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	for i := range n {
		h, err := config.Load(filepath.Join(dir, "node"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		for j := range h.Node.Peers {
			h.Node.Peers[j].Addr = lns[j].Addr().String()
		}
		h.Node.P2PListen = lns[i].Addr().String()
		// Shorter rounds than production, so that rounds a stopped node
		// was to lead fail fast.
		h.Node.BaseTimeout, h.Node.EmptyBlockTicks = 30, 10
		if tune != nil {
			tune(h)
		}
		c.homes = append(c.homes, h)
	}
	for i := range n {
		c.start(i, lns[i])
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func (c *cluster) start(i int, ln net.Listener) {
	c.t.Helper()
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", c.homes[i].Node.P2PListen); err != nil {
			c.t.Fatal(err)
		}
	}
	build := apps.For(c.homes[i], nil)
	if c.wrap != nil {
		build = func(st app.State) (app.Application, error) {
			a, err := apps.For(c.homes[i], nil)(st)
			if err != nil {
				return nil, err
			}
			return c.wrap(i, a), nil
		}
	}
	n, err := New(Options{Home: c.homes[i], App: build, Listener: ln, Behavior: c.behavior[i], SignLog: c.signLogs[i]})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	c.nodes[i], c.cancel[i], c.done[i] = n, cancel, done
}

func (c *cluster) stop(i int) {
	if c.cancel[i] == nil {
		return
	}
	c.cancel[i]()
	if err := <-c.done[i]; err != nil {
		c.t.Errorf("node %d: %v", i, err)
	}
	c.cancel[i] = nil
}

// waitHeight polls until every running node committed height h.
func (c *cluster) waitHeight(h uint64, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		low := ^uint64(0)
		for i, n := range c.nodes {
			if c.cancel[i] != nil {
				low = min(low, n.Status().Height)
			}
		}
		if low >= h {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("height %d not reached within %v (lowest %d)", h, within, low)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterCommitsAndExecutes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newCluster(t, 4)
	c.waitHeight(3, 20*time.Second)
	for k := range 20 {
		if _, err := c.nodes[k%4].Submit(fmt.Appendf(nil, "key%d=value%d", k, k)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.nodes[0].Submit([]byte("no equals sign")); err == nil {
		t.Fatal("a malformed transaction was admitted")
	}
	deadline := time.Now().Add(20 * time.Second)
	for k := 0; k < 20; {
		q, err := c.nodes[3].App().Query(context.Background(), app.Query{Path: "key", Data: []byte("key" + strconv.Itoa(k))})
		if err != nil {
			t.Fatal(err)
		}
		if q.Value != nil {
			if string(q.Value) != "value"+strconv.Itoa(k) {
				t.Fatalf("key%d = %q", k, q.Value)
			}
			k++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("key%d never committed: %v", k, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Every node holds the same committed blocks and state roots.
	h := c.nodes[0].Status().Height
	c.waitHeight(h, 10*time.Second)
	for height := uint64(1); height <= h; height++ {
		_, want, _, _ := c.nodes[0].Store().CommittedBlock(height)
		for i := 1; i < 4; i++ {
			if _, got, _, ok := c.nodes[i].Store().CommittedBlock(height); !ok || got != want {
				t.Fatalf("node %d disagrees at height %d", i, height)
			}
		}
	}
	c.waitHeight(h+1, 10*time.Second)
	info0, err := c.nodes[0].App().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 4; i++ {
		info, err := c.nodes[i].App().Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Height == info0.Height && !bytes.Equal(info.AppHash, info0.AppHash) {
			t.Fatalf("node %d has app hash %x at height %d, node 0 %x", i, info.AppHash, info.Height, info0.AppHash)
		}
	}
}

func TestRestartResumesFromDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	c := newCluster(t, 4)
	c.waitHeight(5, 20*time.Second)
	c.stop(2)
	before := c.nodes[2].Store().CommittedHeight()
	c.waitHeight(before+10, 30*time.Second) // the other three go on
	c.start(2, nil)
	if got := c.nodes[2].Status().Height; got < before {
		t.Fatalf("restarted at height %d, had committed %d", got, before)
	}
	target := c.nodes[0].Status().Height
	c.waitHeight(target, 30*time.Second)
}

// A validator refuses to vote for a block whose state root, for a height
// it has executed, differs from its own.
func TestCheckStateRoot(t *testing.T) {
	c := newCluster(t, 1)
	c.waitHeight(2, 10*time.Second)
	n := c.nodes[0]
	own, ok, err := n.store.AppGet(rootKey(1))
	if err != nil || !ok {
		t.Fatal("no root recorded for height 1")
	}
	good := bytes.Clone(own)
	src := source{n}
	if err := src.Check(&chain.Block{Height: 9, ExecHeight: 1, StateRoot: good}); err != nil {
		t.Fatalf("matching root refused: %v", err)
	}
	bad := bytes.Clone(good)
	bad[0] ^= 1
	if err := src.Check(&chain.Block{Height: 9, ExecHeight: 1, StateRoot: bad}); err == nil {
		t.Fatal("a wrong state root was accepted")
	}
	// Exactly the app hash: the same bytes padded are another root.
	if err := src.Check(&chain.Block{Height: 9, ExecHeight: 1, StateRoot: append(bytes.Clone(good), 0)}); err == nil {
		t.Fatal("a padded state root was accepted")
	}
	if err := src.Check(&chain.Block{Height: 9, ExecHeight: 1 << 40, StateRoot: bad}); err != nil {
		t.Fatalf("a height not executed yet cannot be checked, but was refused: %v", err)
	}
}
