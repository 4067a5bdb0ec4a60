//go:build linux

package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
)

// Ports of `strategos init`'s defaults: every host has its own port space.
const (
	apiPort = 8080
	p2pPort = 26600
)

// Consensus timing written into every config.json: a 300 ms base round
// timeout (the default is 1 s) and a 100 ms empty-block wait, so that a
// network with a validator down still commits a few blocks a second and
// the suite fits in minutes; the round timeout doubles up to 2 s.
const (
	tickMillis      = 10
	baseTimeout     = 30
	emptyBlockTicks = 10
	maxTimeout      = 200
)

// cluster is a bank network of validators, node i on host i of a lab.
type cluster struct {
	t      *testing.T
	lab    *lab
	dir    string // the network directory written by init
	logDir string
	nodes  []*proc
	client *http.Client
}

// proc is one validator's process, across its lives.
type proc struct {
	index    int
	home     string
	logPath  string
	behavior string // "" for honest

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	lives    int
	paused   bool
	isolated bool
	exits    []string // how lives ended on their own
}

// newCluster lays out a network of one validator per host of l with
// `strategos init --app bank --hosts ...`, and moves each node's API to
// its host's address. behaviors names the Byzantine validators. Nodes are
// not started. Cleanup kills every node; if the test failed, it prints
// the tail of every log.
func newCluster(t *testing.T, l *lab, behaviors map[int]string) *cluster {
	t.Helper()
	root := t.TempDir()
	if os.Getenv("STRATEGOS_E2E_KEEP") == "1" {
		var err error
		if root, err = os.MkdirTemp("", "strategos-faults-"); err != nil {
			t.Fatal(err)
		}
		t.Logf("keeping the network and its logs in %s", root)
	}
	c := &cluster{t: t, lab: l, dir: filepath.Join(root, "net"), logDir: filepath.Join(root, "logs"),
		client: &http.Client{Timeout: 3 * time.Second}}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := len(l.ns)
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = l.ip(i)
	}
	out, err := exec.Command(binary, "init", "--nodes", strconv.Itoa(n), "--out", c.dir, "--app", "bank",
		"--hosts", strings.Join(hosts, ","), "--api-port", strconv.Itoa(apiPort), "--p2p-port", strconv.Itoa(p2pPort)).CombinedOutput()
	if err != nil {
		t.Fatalf("strategos init: %v\n%s", err, out)
	}
	for i := range n {
		p := &proc{index: i, home: filepath.Join(c.dir, fmt.Sprintf("node%d", i)),
			logPath: filepath.Join(c.logDir, fmt.Sprintf("node%d.log", i)), behavior: behaviors[i]}
		if err := c.editConfig(p.home, i); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, p)
	}
	t.Cleanup(func() {
		for _, p := range c.nodes {
			c.killQuietly(p)
		}
		c.client.CloseIdleConnections()
		if t.Failed() {
			c.dumpLogs(60)
		}
	})
	return c
}

// editConfig sets node i's API address to its host's address (its
// 127.0.0.1 is private to its namespace) and the suite's timing. Keys the
// suite does not know are kept.
func (c *cluster) editConfig(home string, i int) error {
	path := filepath.Join(home, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := cfg["api_listen"]; !ok {
		return fmt.Errorf("%s has no api_listen", path)
	}
	cfg["api_listen"] = fmt.Sprintf("%s:%d", c.lab.ip(i), apiPort+i)
	cfg["tick_ms"] = tickMillis
	cfg["base_timeout_ticks"] = baseTimeout
	cfg["empty_block_ticks"] = emptyBlockTicks
	cfg["max_timeout_ticks"] = maxTimeout
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

func (c *cluster) api(i int) string { return fmt.Sprintf("http://%s:%d", c.lab.ip(i), apiPort+i) }

func (c *cluster) all() []int {
	out := make([]int, len(c.nodes))
	for i := range out {
		out[i] = i
	}
	return out
}

// honest returns the nodes that run no Byzantine behaviour.
func (c *cluster) honest() []int {
	var out []int
	for _, p := range c.nodes {
		if p.behavior == "" {
			out = append(out, p.index)
		}
	}
	return out
}

// reachable returns the honest nodes that run, are not paused and not
// cut off: where the workload may send.
func (c *cluster) reachable() []int {
	var out []int
	for _, p := range c.nodes {
		p.mu.Lock()
		ok := p.behavior == "" && p.cmd != nil && !p.paused && !p.isolated
		p.mu.Unlock()
		if ok {
			out = append(out, p.index)
		}
	}
	return out
}

// start starts node i (a new life) inside its host's namespace.
func (c *cluster) start(i int) {
	c.t.Helper()
	p := c.nodes[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		c.t.Fatalf("node %d: start while its life %d still runs", i, p.lives)
	}
	p.lives++
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== faults: node %d life %d starting at %s ===\n", i, p.lives, time.Now().Format(time.RFC3339Nano))
	args := []string{"node", "--home", p.home}
	if p.behavior != "" {
		args = append(args, "--behavior", p.behavior)
	}
	cmd := c.lab.command(i, binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (signals reach the node, not the test), and
	// killed with the test process should that die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("node %d: start: %v", i, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.paused = cmd, done, false
	life := p.lives
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		if p.cmd == cmd { // the test did not end this life
			p.exits = append(p.exits, fmt.Sprintf("life %d exited on its own: %v", life, err))
			p.cmd = nil
		}
		p.mu.Unlock()
		close(done)
	}()
}

// signal sends sig to node i's process group; for SIGKILL and SIGTERM it
// waits for the process to exit and returns its state.
func (c *cluster) signal(i int, sig syscall.Signal, wait time.Duration) *os.ProcessState {
	c.t.Helper()
	p := c.nodes[i]
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		p.cmd = nil // the life is ending: its exit is expected
	}
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return cmd.ProcessState
	default:
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		c.t.Fatalf("node %d: signal %v: %v", i, sig, err)
	}
	if sig != syscall.SIGKILL && sig != syscall.SIGTERM {
		return nil
	}
	if sig == syscall.SIGTERM {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGCONT) // a paused node must run to exit
	}
	select {
	case <-done:
	case <-time.After(wait):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		c.t.Errorf("node %d did not exit within %v of %v; killed it", i, wait, sig)
	}
	return cmd.ProcessState
}

// kill SIGKILLs node i and waits for it.
func (c *cluster) kill(i int) { c.signal(i, syscall.SIGKILL, 10*time.Second) }

// stop ends node i with SIGTERM and checks that it exits 0.
func (c *cluster) stop(i int) {
	c.t.Helper()
	if st := c.signal(i, syscall.SIGTERM, 15*time.Second); st != nil && st.ExitCode() != 0 {
		c.t.Errorf("node %d: exit status after SIGTERM is %v, want 0", i, st)
	}
}

// pause stops node i with SIGSTOP; resume continues it.
func (c *cluster) pause(i int) {
	c.signal(i, syscall.SIGSTOP, 0)
	c.setState(i, func(p *proc) { p.paused = true })
}

func (c *cluster) resume(i int) {
	c.signal(i, syscall.SIGCONT, 0)
	c.setState(i, func(p *proc) { p.paused = false })
}

// isolate cuts node i's host off the lab; rejoin reconnects it.
func (c *cluster) isolate(i int) {
	c.t.Helper()
	if err := c.lab.isolate(i); err != nil {
		c.t.Fatal(err)
	}
	c.setState(i, func(p *proc) { p.isolated = true })
}

func (c *cluster) rejoin(i int) {
	c.t.Helper()
	if err := c.lab.rejoin(i); err != nil {
		c.t.Fatal(err)
	}
	c.setState(i, func(p *proc) { p.isolated = false })
}

func (c *cluster) setState(i int, fn func(*proc)) {
	p := c.nodes[i]
	p.mu.Lock()
	fn(p)
	p.mu.Unlock()
}

func (c *cluster) killQuietly(p *proc) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
}

// unexpectedExits lists the lives that ended without the test ending them.
func (c *cluster) unexpectedExits() []string {
	var out []string
	for _, p := range c.nodes {
		p.mu.Lock()
		for _, e := range p.exits {
			out = append(out, fmt.Sprintf("node %d: %s", p.index, e))
		}
		p.mu.Unlock()
	}
	return out
}

func (c *cluster) dumpLogs(lines int) {
	for _, p := range c.nodes {
		b, err := os.ReadFile(p.logPath)
		if err != nil {
			c.t.Logf("node %d: no log: %v", p.index, err)
			continue
		}
		all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(all) > lines {
			all = all[len(all)-lines:]
		}
		c.t.Logf("---- node %d: last %d lines of %s ----\n%s", p.index, len(all), p.logPath, strings.Join(all, "\n"))
	}
}

// startAll starts every node and waits until every API answers.
func (c *cluster) startAll() {
	c.t.Helper()
	for i := range c.nodes {
		c.start(i)
	}
	for i := range c.nodes {
		c.waitAPI(i, 20*time.Second)
	}
}

type status struct {
	Node     uint32 `json:"node"`
	Height   uint64 `json:"height"`
	Round    uint64 `json:"round"`
	Leader   uint32 `json:"leader"`
	Behavior string `json:"behavior"`
	ChainID  string `json:"chain_id"`
	App      string `json:"app"`
}

type blockView struct {
	Height     uint64   `json:"height"`
	Hash       string   `json:"hash"`
	ParentHash string   `json:"parent_hash"`
	Round      uint64   `json:"round"`
	Proposer   uint32   `json:"proposer"`
	Txs        []string `json:"txs"`
	// FailedLeaders: the leaders of the rounds the block skipped.
	FailedLeaders []uint32 `json:"failed_leaders"`
	QC            struct {
		Round     uint64   `json:"round"`
		BlockHash string   `json:"block_hash"`
		Signers   []uint32 `json:"signers"`
	} `json:"qc"`
}

// getJSON GETs url and decodes a 200 answer into v. It returns the HTTP
// status code (0 on a transport error).
func (c *cluster) getJSON(url string, v any) (int, error) {
	resp, err := c.client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GET %s: decode %q: %w", url, body, err)
	}
	return resp.StatusCode, nil
}

func (c *cluster) status(i int) (status, error) {
	var s status
	_, err := c.getJSON(c.api(i)+"/v1/status", &s)
	if err == nil && int(s.Node) != i {
		err = fmt.Errorf("node %d's API says it is node %d", i, s.Node)
	}
	return s, err
}

// heights returns the committed height of each given node.
func (c *cluster) heights(nodes []int) ([]uint64, error) {
	out := make([]uint64, len(nodes))
	for k, i := range nodes {
		s, err := c.status(i)
		if err != nil {
			return nil, err
		}
		out[k] = s.Height
	}
	return out, nil
}

// blocks fetches the committed blocks from..to of node i, 100 at a time.
func (c *cluster) blocks(i int, from, to uint64) ([]blockView, error) {
	var out []blockView
	for from <= to {
		var page struct {
			Blocks []blockView `json:"blocks"`
		}
		if _, err := c.getJSON(fmt.Sprintf("%s/v1/blocks?from=%d&to=%d", c.api(i), from, to), &page); err != nil {
			return nil, err
		}
		if len(page.Blocks) == 0 {
			return nil, fmt.Errorf("node %d: no committed block at height %d (wanted up to %d)", i, from, to)
		}
		if len(page.Blocks) > 100 {
			return nil, fmt.Errorf("node %d: a range call answered %d blocks, the contract caps it at 100", i, len(page.Blocks))
		}
		out = append(out, page.Blocks...)
		from += uint64(len(page.Blocks))
	}
	return out, nil
}

const pollEvery = 50 * time.Millisecond

// waitFor polls cond until it holds or timeout passes; it reports whether
// cond held and the last detail cond gave.
func waitFor(timeout time.Duration, cond func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			return true, detail
		}
		if time.Now().After(deadline) {
			return false, detail
		}
		time.Sleep(pollEvery)
	}
}

// waitAPI waits until node i's API answers its status.
func (c *cluster) waitAPI(i int, timeout time.Duration) {
	c.t.Helper()
	if ok, detail := waitFor(timeout, func() (bool, string) {
		_, err := c.status(i)
		return err == nil, fmt.Sprint(err)
	}); !ok {
		c.t.Fatalf("node %d's API did not answer within %v: %s", i, timeout, detail)
	}
}

// waitHeight waits until every given node has committed height h; it
// reports whether they did, and their heights.
func (c *cluster) waitHeight(nodes []int, h uint64, timeout time.Duration) (bool, string) {
	return waitFor(timeout, func() (bool, string) {
		hs, err := c.heights(nodes)
		if err != nil {
			return false, err.Error()
		}
		for _, x := range hs {
			if x < h {
				return false, fmt.Sprintf("nodes %v at heights %v", nodes, hs)
			}
		}
		return true, fmt.Sprintf("nodes %v at heights %v", nodes, hs)
	})
}

// maxHeight returns the highest committed height among nodes that answer.
func (c *cluster) maxHeight(nodes []int) uint64 {
	var hi uint64
	for _, i := range nodes {
		if s, err := c.status(i); err == nil {
			hi = max(hi, s.Height)
		}
	}
	return hi
}
