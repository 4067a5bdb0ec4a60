//go:build unix

package attack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/testbin"
)

// network is four validators laid out by config.Init: three honest
// `strategos node` processes (0, 1, 2) and the attacker in validator 3's
// slot, with validator 3's key.
type network struct {
	t         *testing.T
	dir       string
	apiPort   int
	p2pPort   int
	pprofPort int
	procs     []*exec.Cmd
	logs      []string
	att       *Validator
	client    *http.Client
}

const (
	honestN  = 3
	attacker = 3
)

// newNetwork starts the honest validators and the attacker (honest until an
// attack starts) and waits until every honest validator has committed a
// few blocks. edit, if not nil, may change each honest node's config first.
func newNetwork(t *testing.T, edit func(*config.Node)) *network {
	t.Helper()
	return startNetwork(t, edit, "")
}

// newBehaviorNetwork is newNetwork with validator 3 a real `strategos
// node` process running a stock Byzantine behaviour instead of the
// attacker (n.att is nil).
func newBehaviorNetwork(t *testing.T, behavior string) *network {
	t.Helper()
	return startNetwork(t, nil, behavior)
}

func startNetwork(t *testing.T, edit func(*config.Node), behavior string) *network {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	runParallel(t)
	root := t.TempDir()
	if os.Getenv("STRATEGOS_E2E_KEEP") == "1" {
		var err error
		if root, err = os.MkdirTemp("", "strategos-attack-"+t.Name()+"-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("keeping the network in %s", root)
	}
	api, p2p, rpc, pprof := freePorts(t, 4), freePorts(t, 4), freePorts(t, 4), freePorts(t, honestN+1)
	n := &network{t: t, dir: filepath.Join(root, "net"), apiPort: api, p2pPort: p2p, pprofPort: pprof,
		client: &http.Client{Timeout: 30 * time.Second}}
	if err := config.Init(config.InitOptions{Nodes: 4, Out: n.dir, App: "kv", APIPort: api, P2PPort: p2p, RPCPort: rpc}); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		for i := range honestN {
			editConfig(t, n.home(i), edit)
		}
	}
	for i := range honestN {
		n.start(i)
	}
	t.Cleanup(n.stop)
	if behavior != "" {
		n.start(attacker, "--behavior", behavior)
		n.waitHeight(3, 60*time.Second)
		return n
	}
	var err error
	if n.att, err = NewValidator(n.home(attacker)); err != nil {
		t.Fatal(err)
	}
	if err := n.att.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.att.Close)
	n.waitHeight(3, 60*time.Second)
	return n
}

// Networks that run at once: STRATEGOS_ATTACK_PARALLEL, default 2.
var networks = make(chan struct{}, max(1, envInt("STRATEGOS_ATTACK_PARALLEL", 2)))

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// runParallel runs t beside the other network tests, at most
// cap(networks) networks at a time.
func runParallel(t *testing.T) {
	t.Parallel()
	networks <- struct{}{}
	t.Cleanup(func() { <-networks })
}

// Port ranges handed out in this process, so that networks started in
// parallel never share one.
var (
	portsMu  sync.Mutex
	portsOut = map[int]bool{}
)

func freePorts(t *testing.T, count int) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		base, err := testbin.FreePorts(count)
		if err != nil {
			t.Fatal(err)
		}
		taken := false
		for p := base; p < base+count; p++ {
			taken = taken || portsOut[p]
		}
		if taken {
			continue
		}
		for p := base; p < base+count; p++ {
			portsOut[p] = true
		}
		return base
	}
	t.Fatal("no free ports")
	return 0
}

func editConfig(t *testing.T, home string, edit func(*config.Node)) {
	t.Helper()
	path := filepath.Join(home, config.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c config.Node
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	edit(&c)
	if b, err = json.MarshalIndent(c, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (n *network) home(i int) string  { return filepath.Join(n.dir, fmt.Sprintf("node%d", i)) }
func (n *network) api(i int) string   { return fmt.Sprintf("http://127.0.0.1:%d", n.apiPort+i) }
func (n *network) pprof(i int) string { return fmt.Sprintf("127.0.0.1:%d", n.pprofPort+i) }

func (n *network) start(i int, args ...string) {
	n.t.Helper()
	logPath := filepath.Join(n.home(i), "node.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command(strategosBin, append([]string{"node", "--home", n.home(i)}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	// The profiler lets liveHeap collect garbage before it measures.
	cmd.Env = append(os.Environ(), "STRATEGOS_PPROF="+n.pprof(i))
	if err := cmd.Start(); err != nil {
		f.Close()
		n.t.Fatalf("node %d: %v", i, err)
	}
	f.Close() // the child holds its own descriptor
	for len(n.procs) <= i {
		n.procs = append(n.procs, nil)
		n.logs = append(n.logs, "")
	}
	n.procs[i], n.logs[i] = cmd, logPath
}

// kill stops honest node i (SIGKILL) and waits for it.
func (n *network) kill(i int) {
	if c := n.procs[i]; c != nil {
		c.Process.Kill()
		c.Wait()
		n.procs[i] = nil
	}
}

func (n *network) stop() {
	for i, c := range n.procs {
		if c == nil {
			continue
		}
		c.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.Process.Kill()
			<-done
		}
		n.procs[i] = nil
	}
	n.client.CloseIdleConnections()
	if n.t.Failed() {
		for i, l := range n.logs {
			n.t.Logf("--- tail of node %d's log ---\n%s", i, tail(l, 30))
		}
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// height returns honest node i's committed height, or -1 if it does not
// answer.
func (n *network) height(i int) int64 {
	resp, err := n.client.Get(n.api(i) + "/v1/status")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var s struct {
		Height int64 `json:"height"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&s) != nil {
		return -1
	}
	return s.Height
}

// heights returns the committed height of every honest node.
func (n *network) heights() []int64 {
	out := make([]int64, honestN)
	for i := range honestN {
		out[i] = n.height(i)
	}
	return out
}

func minOf(hs []int64) int64 {
	m := hs[0]
	for _, h := range hs[1:] {
		m = min(m, h)
	}
	return m
}

// waitHeight waits until every honest node has committed height h, and
// fails the test at the deadline.
func (n *network) waitHeight(h int64, deadline time.Duration) {
	n.t.Helper()
	end := time.Now().Add(deadline)
	for {
		hs := n.heights()
		if minOf(hs) >= h {
			return
		}
		if time.Now().After(end) {
			n.t.Fatalf("honest validators did not reach height %d within %v: heights %v", h, deadline, hs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rate measures honest commits over d: the lowest height gained by an
// honest node, scaled to 10 s.
func (n *network) rate(d time.Duration) float64 {
	h0 := n.heights()
	time.Sleep(d)
	h1 := n.heights()
	gained := h1[0] - h0[0]
	for i := range h0 {
		gained = min(gained, h1[i]-h0[i])
	}
	return float64(gained) * float64(10*time.Second) / float64(d)
}

// advance waits, while an attack runs, until every honest node has
// committed k more blocks, failing the test after deadline; it returns the
// rate of commits per 10 s it saw.
func (n *network) advance(k int64, deadline time.Duration) float64 {
	n.t.Helper()
	start, h0 := time.Now(), minOf(n.heights())
	n.waitHeight(h0+k, deadline)
	return float64(k) * float64(10*time.Second) / float64(time.Since(start))
}

// metric returns the value of a Prometheus metric (summed over its label
// sets) on honest node i, or -1.
func (n *network) metric(i int, name string) float64 {
	resp, err := n.client.Get(n.api(i) + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// heap returns honest node i's go_memstats_heap_inuse_bytes: live data and
// garbage not yet collected.
func (n *network) heap(i int) int64 { return int64(n.metric(i, "go_memstats_heap_inuse_bytes")) }

// liveHeap collects honest node i's garbage (through its profiler: a heap
// profile with gc=1 runs a complete collection first) and then returns its
// heap in use: what the node retains.
func (n *network) liveHeap(i int) int64 {
	resp, err := n.client.Get("http://" + n.pprof(i) + "/debug/pprof/heap?gc=1")
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return n.heap(i)
}

// rss returns honest node i's resident set size in bytes.
func (n *network) rss(i int) int64 {
	c := n.procs[i]
	if c == nil {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// diskUsage returns the bytes honest node i's data directory occupies on
// disk (allocated blocks, so that a sparse preallocated file counts for
// what it holds).
func (n *network) diskUsage(i int) int64 {
	var total int64
	filepath.WalkDir(filepath.Join(n.home(i), config.DataDir), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			} else {
				total += info.Size()
			}
		}
		return nil
	})
	return total
}

// logSize returns the size of honest node i's log.
func (n *network) logSize(i int) int64 {
	st, err := os.Stat(n.logs[i])
	if err != nil {
		return -1
	}
	return st.Size()
}

// each returns f of every honest node.
func each(f func(int) int64) []int64 {
	out := make([]int64, honestN)
	for i := range honestN {
		out[i] = f(i)
	}
	return out
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// attackRun is the outcome of one attack against a network.
type attackRun struct {
	healthy, attacked float64 // honest commits per 10 s without and with the attack
}

// underAttack measures the healthy commit rate over base, then runs attack
// (until its context ends) and measures the rate over the first hold of
// it; then, with the attack still running, it requires every honest node
// to commit k more blocks within deadline. It logs the measurements in a
// line that starts with MEASURE.
func (n *network) underAttack(name string, base, hold time.Duration, k int64, deadline time.Duration, attack func(ctx context.Context)) attackRun {
	n.t.Helper()
	var r attackRun
	r.healthy = n.rate(window(base))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); attack(ctx) }()
	defer func() { cancel(); <-done }()
	r.attacked = n.rate(window(hold))
	n.t.Logf("MEASURE %s: honest commits per 10 s: %.0f healthy, %.0f under attack (%.0f%%)", name,
		r.healthy, r.attacked, 100*r.attacked/max(r.healthy, 1))
	n.advance(k, deadline)
	return r
}

// repeat calls f until ctx is done.
func repeat(ctx context.Context, f func()) {
	for ctx.Err() == nil {
		f()
	}
}
