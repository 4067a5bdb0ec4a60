//go:build unix

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPruneAndStateSyncSoak runs four kv validators with a small
// retain_blocks under steady load, long enough to prune many times; wipes
// one validator partway and brings it back with --state-sync while the
// others prune; and checks that every validator agrees on every height,
// that every accepted transaction committed exactly once, that the wiped
// validator signed nothing at or below a round it signed in before, and
// that the data directories stop growing. By default it is short (CI);
// STRATEGOS_SOAK_PRUNE=1 runs it for ten minutes (STRATEGOS_SOAK_DURATION
// sets another length) with the sizes' bound checked.
func TestPruneAndStateSyncSoak(t *testing.T) {
	needBinary(t)
	t.Parallel()
	soak := os.Getenv("STRATEGOS_SOAK_PRUNE") == "1"
	dur, retain, interval := 45*time.Second, 60, 20
	if soak {
		dur, retain, interval = 10*time.Minute, 2000, 500
		if d, err := time.ParseDuration(os.Getenv("STRATEGOS_SOAK_DURATION")); err == nil {
			dur = d
		}
	}
	const victim = 3
	all := []int{0, 1, 2, 3}
	c := newCluster(t, clusterOptions{nodes: 4, signLog: true})
	for i := range c.nodes {
		c.editConfig(i, map[string]any{"retain_blocks": retain, "snapshot_interval": interval})
	}
	c.startAll()
	f := c.follow(all)
	load := c.startLoadKeys(100, 1000)
	start := time.Now()
	sizes := c.sampleSizes([]int{0, 1, 2}, 2*time.Second)

	// Wipe the victim once the others have pruned, and bring it back.
	waitFor(t, dur, "pruning and a snapshot on every validator", func() (bool, string) {
		e, err := c.earliest(all)
		return err == nil && min(e[0], e[1], e[2], e[3]) > uint64(interval), fmt.Sprintf("earliest heights %v, %v", e, err)
	})
	time.Sleep(dur / 3)
	c.kill(victim)
	killedAt := time.Now()
	signedBefore := maxRound(t, c.nodes[victim].signLog)
	if err := os.RemoveAll(filepath.Join(c.nodes[victim].home, "data")); err != nil {
		t.Fatal(err)
	}
	c.start(victim, "--state-sync")
	waitFor(t, 60*time.Second, "the wiped validator ready", func() (bool, string) {
		code, err := c.getJSON(c.api(victim)+"/readyz", new(struct{}))
		return code == 200, fmt.Sprint(code, err)
	})
	t.Logf("the wiped validator is ready %v after its restart with --state-sync", time.Since(killedAt).Round(time.Millisecond))
	// Honest peers that prune keep what their snapshots need: no
	// snapshot is given up for a pruned block.
	if log, err := os.ReadFile(c.nodes[victim].logPath); err != nil || strings.Contains(string(log), "snapshot given up") {
		t.Errorf("state sync gave a snapshot up among honest peers (or its log is unreadable: %v)", err)
	}

	time.Sleep(max(0, dur-time.Since(start)))
	load.stop()
	_, hi, err := c.minMax(all)
	if err != nil {
		t.Fatal(err)
	}
	c.waitHeight(all, hi+5, 30*time.Second)
	sizes.stop()
	chain := f.stop()

	// Agreement and exactly once, over the chain as it was committed.
	idx := txIndex(chain)
	accepted, connErrs, refused, _ := load.results()
	checkNoDuplicates(t, chain, idx, accepted)
	load.checkProblems(t)
	lost := 0
	for _, tx := range accepted {
		if _, ok := idx[tx.hash]; ok {
			continue
		}
		// The victim may lose what it had accepted but not gossiped when
		// it was killed.
		if tx.node == victim && !tx.at.After(killedAt) && killedAt.Sub(tx.at) < time.Second {
			continue
		}
		if lost++; lost <= 10 {
			t.Errorf("tx %s (accepted by node %d) never committed", tx.hash, tx.node)
		}
	}
	t.Logf("load: %d accepted, %d committed in %d blocks, %d lost; %d connection errors, refusals %v", len(accepted), len(idx), len(chain), lost, connErrs, refused)
	if len(accepted) < 1000 {
		t.Errorf("only %d transactions accepted: the load did not load the network", len(accepted))
	}

	// Pruned, many times over.
	e, err := c.earliest(all)
	if err != nil {
		t.Fatal(err)
	}
	// Each keeps retain_blocks, or more where the leader rule's history
	// or a snapshot's needs it: at most half of this chain.
	final := uint64(len(chain))
	for _, i := range all {
		if e[i] < final/2 || e[i] < 4*uint64(retain) {
			t.Errorf("node %d keeps heights from %d at height %d with retain_blocks %d: pruned too little", i, e[i], final, retain)
		}
	}

	// The wiped validator signed only above what it signed before.
	if after := minRoundAfter(t, c.nodes[victim].signLog, 2); after <= signedBefore {
		t.Errorf("after state sync the validator signed in round %d, at or below round %d it signed in before the wipe", after, signedBefore)
	}
	sizes.check(t, soak)
}

// editConfig sets fields of node i's config.json.
func (c *cluster) editConfig(i int, fields map[string]any) {
	c.t.Helper()
	path := filepath.Join(c.nodes[i].home, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		c.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatal(err)
	}
	for k, v := range fields {
		m[k] = v
	}
	if b, err = json.MarshalIndent(m, "", "  "); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

// earliest returns each node's earliest_height.
func (c *cluster) earliest(nodes []int) ([]uint64, error) {
	out := make([]uint64, len(nodes))
	for k, i := range nodes {
		var s struct {
			Earliest uint64 `json:"earliest_height"`
		}
		if _, err := c.getJSON(c.api(i)+"/v1/status", &s); err != nil {
			return nil, err
		}
		out[k] = s.Earliest
	}
	return out, nil
}

// follower reads every node's blocks as they commit, since pruning
// deletes them soon after, and checks them against each other.
type follower struct {
	c     *cluster
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	chain []blockView       // node 0's chain from height 1
	seen  map[uint64]string // height -> hash, the first node's
	next  map[int]uint64    // per node, the next height to read
	fails []string
}

func (c *cluster) follow(nodes []int) *follower {
	f := &follower{c: c, stopc: make(chan struct{}), done: make(chan struct{}), seen: map[uint64]string{}, next: map[int]uint64{}}
	for _, i := range nodes {
		f.next[i] = 1
	}
	go func() {
		defer close(f.done)
		for {
			select {
			case <-f.stopc:
				f.round(nodes) // the last heights
				return
			case <-time.After(100 * time.Millisecond):
			}
			f.round(nodes)
		}
	}()
	return f
}

func (f *follower) round(nodes []int) {
	for _, i := range nodes {
		s, err := f.c.status(i)
		if err != nil || s.Height < f.next[i] {
			continue // down, or nothing new
		}
		from := f.next[i]
		if i != 0 {
			// A node restored by state sync holds no blocks below its
			// snapshot: read it from its earliest height on.
			if e, err := f.c.earliest([]int{i}); err == nil && e[0] > from {
				from = e[0]
			}
		}
		bs, err := f.c.blocks(i, from, s.Height)
		if err != nil {
			if i == 0 && from == f.next[0] {
				f.fail(fmt.Sprintf("node 0: blocks %d..%d: %v (pruned before they were read?)", from, s.Height, err))
			}
			continue
		}
		f.add(i, bs)
	}
}

func (f *follower) add(i int, bs []blockView) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range bs {
		if h, ok := f.seen[b.Height]; ok && h != b.Hash {
			f.fails = append(f.fails, fmt.Sprintf("SAFETY: node %d holds %s at height %d, another node %s", i, b.Hash, b.Height, h))
		}
		f.seen[b.Height] = b.Hash
		if i == 0 {
			if n := len(f.chain); n > 0 && b.ParentHash != f.chain[n-1].Hash {
				f.fails = append(f.fails, fmt.Sprintf("node 0: block %d's parent is not block %d", b.Height, n))
			}
			f.chain = append(f.chain, b)
		}
		f.next[i] = b.Height + 1
	}
}

func (f *follower) fail(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = append(f.fails, s)
}

// stop stops following, reports what failed, and returns node 0's chain.
func (f *follower) stop() []blockView {
	close(f.stopc)
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.fails[:min(len(f.fails), 10)] {
		f.c.t.Error(s)
	}
	for i, next := range f.next {
		if last := uint64(len(f.chain)); next <= last-5 {
			f.c.t.Errorf("node %d was followed only up to height %d of %d", i, next-1, last)
		}
	}
	return f.chain
}

// sizes samples the bytes in nodes' data directories.
type sizes struct {
	stopc   chan struct{}
	done    chan struct{}
	samples [][]int64 // per sample, per node
	at      []time.Time
}

func (c *cluster) sampleSizes(nodes []int, every time.Duration) *sizes {
	s := &sizes{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			var row []int64
			for _, i := range nodes {
				row = append(row, dirBytes(filepath.Join(c.nodes[i].home, "data")))
			}
			s.samples, s.at = append(s.samples, row), append(s.at, time.Now())
			select {
			case <-s.stopc:
				return
			case <-time.After(every):
			}
		}
	}()
	return s
}

func (s *sizes) stop() {
	close(s.stopc)
	<-s.done
}

// check logs the sizes and, if strict, requires each node's last third to
// stay within 20% of its middle third's largest.
func (s *sizes) check(t *testing.T, strict bool) {
	n := len(s.samples)
	if n < 6 {
		t.Errorf("only %d size samples", n)
		return
	}
	for k := range s.samples[0] {
		var mid, late int64
		for j := n / 3; j < 2*n/3; j++ {
			mid = max(mid, s.samples[j][k])
		}
		for j := 2 * n / 3; j < n; j++ {
			late = max(late, s.samples[j][k])
		}
		t.Logf("node %d: data directory at most %d bytes in the middle third, %d in the last", k, mid, late)
		if strict && float64(late) > 1.2*float64(mid) {
			t.Errorf("node %d: data directory grew from %d to %d bytes while pruning", k, mid, late)
		}
	}
}

func dirBytes(dir string) int64 {
	var total int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// signRounds returns the rounds of the votes and timeouts in a sign log,
// per life (life 1 first).
func signRounds(t *testing.T, path string) map[int][]uint64 {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	out := map[int][]uint64{}
	life := 0
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 3 && f[0] == "#" && f[1] == "life":
			life, _ = strconv.Atoi(f[2])
		case len(f) >= 2 && (f[0] == "vote" || f[0] == "timeout"):
			r, _ := strconv.ParseUint(f[1], 10, 64)
			out[life] = append(out[life], r)
		}
	}
	return out
}

// maxRound is the highest round signed in any life so far.
func maxRound(t *testing.T, path string) uint64 {
	var hi uint64
	for _, rs := range signRounds(t, path) {
		for _, r := range rs {
			hi = max(hi, r)
		}
	}
	return hi
}

// minRoundAfter is the lowest round signed in life or later (0 if none,
// which fails: the wiped validator must vote again).
func minRoundAfter(t *testing.T, path string, life int) uint64 {
	lo := ^uint64(0)
	for l, rs := range signRounds(t, path) {
		for _, r := range rs {
			if l >= life {
				lo = min(lo, r)
			}
		}
	}
	if lo == ^uint64(0) {
		t.Errorf("the validator signed nothing in life %d or later", life)
		return 0
	}
	return lo
}
