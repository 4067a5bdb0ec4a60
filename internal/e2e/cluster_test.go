//go:build unix

package e2e

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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// cluster is a network laid out by `strategos init` whose validators run
// as separate processes.
type cluster struct {
	t       *testing.T
	dir     string // the network directory written by init
	logDir  string // node<i>.log: stdout and stderr of every life of node i
	apiPort int
	p2pPort int
	rpcPort int
	nodes   []*proc
	client  *http.Client
}

type clusterOptions struct {
	nodes   int
	signLog bool   // run every node with --sign-log logDir/sign<i>.log
	app     string // the --app of init: "kv" (the default when empty), "bank" or "abci"
	abci    string // the --abci of init, for the abci app
}

// proc is one validator's process, across its lives.
type proc struct {
	index   int
	home    string
	logPath string
	signLog string // "" without --sign-log
	up      atomic.Bool

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{} // closed when the current life's process has exited
	lives int
	exit  *os.ProcessState
}

// newCluster runs `strategos init` for a network of o.app (kv unless
// set) on free ports. Nodes are not started. Cleanup kills whatever still
// runs and, if the test failed, prints the tail of every node's log.
func newCluster(t *testing.T, o clusterOptions) *cluster {
	t.Helper()
	needBinary(t)
	root := t.TempDir()
	if os.Getenv("STRATEGOS_E2E_KEEP") == "1" {
		var err error
		root, err = os.MkdirTemp("", "strategos-e2e-"+t.Name()+"-")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("keeping the network and its logs in %s", root)
	}
	c := &cluster{
		t:       t,
		dir:     filepath.Join(root, "net"),
		logDir:  filepath.Join(root, "logs"),
		apiPort: freePortRange(t, o.nodes),
		p2pPort: freePortRange(t, o.nodes),
		rpcPort: freePortRange(t, o.nodes),
		client:  &http.Client{Timeout: 3 * time.Second},
	}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	app := o.app
	if app == "" {
		app = "kv"
	}
	args := []string{"init", "--nodes", strconv.Itoa(o.nodes), "--out", c.dir, "--app", app,
		"--api-port", strconv.Itoa(c.apiPort), "--p2p-port", strconv.Itoa(c.p2pPort), "--rpc-port", strconv.Itoa(c.rpcPort)}
	if o.abci != "" {
		args = append(args, "--abci", o.abci)
	}
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("strategos init: %v\n%s", err, out)
	}
	for i := range o.nodes {
		p := &proc{
			index:   i,
			home:    filepath.Join(c.dir, fmt.Sprintf("node%d", i)),
			logPath: filepath.Join(c.logDir, fmt.Sprintf("node%d.log", i)),
		}
		if o.signLog {
			p.signLog = filepath.Join(c.logDir, fmt.Sprintf("sign%d.log", i))
		}
		c.nodes = append(c.nodes, p)
	}
	t.Cleanup(func() {
		for _, p := range c.nodes {
			c.killQuietly(p)
		}
		c.client.CloseIdleConnections()
		if t.Failed() {
			c.dumpLogs(80)
		}
	})
	t.Logf("network in %s: API ports %d.., P2P ports %d..", c.dir, c.apiPort, c.p2pPort)
	return c
}

func (c *cluster) api(i int) string { return fmt.Sprintf("http://127.0.0.1:%d", c.apiPort+i) }

// start starts node i (a new life), with extra arguments to `strategos
// node`. Its output is appended to its log, and a "# life N" marker line
// to its sign log, so audits can tell lives apart.
func (c *cluster) start(i int, extra ...string) {
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
	fmt.Fprintf(logf, "=== e2e: node %d life %d starting at %s ===\n", i, p.lives, time.Now().Format(time.RFC3339Nano))
	args := []string{"node", "--home", p.home}
	if p.signLog != "" {
		if err := appendLine(p.signLog, fmt.Sprintf("# life %d", p.lives)); err != nil {
			c.t.Fatal(err)
		}
		args = append(args, "--sign-log", p.signLog)
	}
	args = append(args, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		c.t.Fatalf("node %d: start: %v", i, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exit = cmd, done, nil
	p.up.Store(true)
	go func() {
		cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.exit = cmd.ProcessState
		p.mu.Unlock()
		close(done)
	}()
}

// appendLine appends one line to a file, creating it.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	// A lone newline first ends whatever a killed life may have left
	// unterminated, so the marker is always a line of its own.
	_, err = io.WriteString(f, "\n"+line+"\n")
	return errors.Join(err, f.Close())
}

// signal sends sig to node i's process group and waits for it to exit. It
// returns the exit state, or nil if the node was not running.
func (c *cluster) signal(i int, sig syscall.Signal, wait time.Duration) *os.ProcessState {
	c.t.Helper()
	p := c.nodes[i]
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	p.up.Store(false)
	select {
	case <-done:
		// Already gone: do not signal a process group that may be reused.
		p.mu.Lock()
		c.t.Errorf("node %d: life %d exited on its own (%v) before the test sent %v", i, p.lives, p.exit, sig)
		p.mu.Unlock()
	default:
		if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			c.t.Fatalf("node %d: signal %v: %v", i, sig, err)
		}
		select {
		case <-done:
		case <-time.After(wait):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			c.t.Errorf("node %d did not exit within %v of %v; killed it", i, wait, sig)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cmd, p.done = nil, nil
	return p.exit
}

// kill SIGKILLs node i.
func (c *cluster) kill(i int) {
	c.t.Helper()
	c.signal(i, syscall.SIGKILL, 10*time.Second)
}

// stop ends node i with SIGTERM and checks that it exits 0, as the
// contract requires.
func (c *cluster) stop(i int) {
	c.t.Helper()
	st := c.signal(i, syscall.SIGTERM, 15*time.Second)
	if st != nil && st.ExitCode() != 0 {
		c.t.Errorf("node %d: exit status after SIGTERM is %v, want 0", i, st)
	}
}

// stopAll stops every running node with SIGTERM.
func (c *cluster) stopAll() {
	c.t.Helper()
	for i := range c.nodes {
		c.stop(i)
	}
}

func (c *cluster) killQuietly(p *proc) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	p.up.Store(false)
	select {
	case <-done:
	default:
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// dumpLogs prints the last lines of every node's log.
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

// live returns the indices of the nodes that are running.
func (c *cluster) live() []int {
	var out []int
	for _, p := range c.nodes {
		if p.up.Load() {
			out = append(out, p.index)
		}
	}
	return out
}

type status struct {
	Node     uint32  `json:"node"`
	Height   uint64  `json:"height"`
	Round    uint64  `json:"round"`
	AppError *string `json:"app_error"`
}

type blockView struct {
	Height     uint64   `json:"height"`
	Hash       string   `json:"hash"`
	ParentHash string   `json:"parent_hash"`
	Round      uint64   `json:"round"`
	Proposer   uint32   `json:"proposer"`
	Txs        []string `json:"txs"`
	QC         struct {
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

func (c *cluster) height(i int) (uint64, error) {
	s, err := c.status(i)
	return s.Height, err
}

// heights returns the committed height of each of the given nodes.
func (c *cluster) heights(nodes []int) ([]uint64, error) {
	out := make([]uint64, len(nodes))
	for k, i := range nodes {
		h, err := c.height(i)
		if err != nil {
			return nil, err
		}
		out[k] = h
	}
	return out, nil
}

// minMax returns the lowest and highest height of the given nodes.
func (c *cluster) minMax(nodes []int) (lo, hi uint64, err error) {
	hs, err := c.heights(nodes)
	if err != nil {
		return 0, 0, err
	}
	lo = hs[0]
	for _, h := range hs {
		lo, hi = min(lo, h), max(hi, h)
	}
	return lo, hi, nil
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

// waitFor polls cond until it holds, failing the test after timeout with
// what and the last detail cond gave.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var detail string
	for {
		var ok bool
		ok, detail = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, detail)
		}
		time.Sleep(pollEvery)
	}
}

// waitAPI waits until node i's API answers its status.
func (c *cluster) waitAPI(i int, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("node %d's API", i), func() (bool, string) {
		_, err := c.status(i)
		return err == nil, fmt.Sprint(err)
	})
}

// waitHeight waits until every one of the given nodes has committed height h.
func (c *cluster) waitHeight(nodes []int, h uint64, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("nodes %v at height %d", nodes, h), func() (bool, string) {
		hs, err := c.heights(nodes)
		if err != nil {
			return false, err.Error()
		}
		for _, x := range hs {
			if x < h {
				return false, fmt.Sprintf("heights %v", hs)
			}
		}
		return true, ""
	})
}
