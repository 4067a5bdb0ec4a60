package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strategos/strategos/internal/client"
	"github.com/strategos/strategos/internal/config"
)

// startTimeout bounds how long the own network may take to commit its
// first block.
const startTimeout = 60 * time.Second

// stopTimeout is how long a validator gets to stop on SIGTERM before it
// is killed.
const stopTimeout = 10 * time.Second

// localNet is the run's own network: validators as child processes.
type localNet struct {
	dir     string
	keysDir string
	apis    []string
	procs   []*child
}

// child is one validator process.
type child struct {
	index int
	cmd   *exec.Cmd
	log   string
	done  chan struct{} // closed when the process has exited
	state *os.ProcessState
}

// startNetwork lays out a network in a new temporary directory, starts
// its validators (`strategos node`, the binary o.Binary) and waits until
// it commits. On error, whatever it started is stopped and removed.
func startNetwork(ctx context.Context, o *Options) (_ *localNet, err error) {
	for _, base := range []int{o.APIPort, o.P2PPort, o.RPCPort} {
		for p := base; p < base+o.Nodes; p++ {
			if err := portFree(p); err != nil {
				return nil, fmt.Errorf("bench: port %d on 127.0.0.1 is taken (a testnet running?); choose other ports with --api-port, --p2p-port and --rpc-port", p)
			}
		}
	}
	dir, err := os.MkdirTemp("", "strategos-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	n := &localNet{dir: dir, keysDir: filepath.Join(dir, "keys")}
	defer func() {
		if err != nil {
			n.stop()
		}
	}()
	if err := config.Init(config.InitOptions{Nodes: o.Nodes, Out: dir, APIPort: o.APIPort, P2PPort: o.P2PPort, RPCPort: o.RPCPort, App: o.App, RetainBlocks: o.RetainBlocks, SnapshotInterval: o.SnapshotInterval}); err != nil {
		return n, err
	}
	env := childEnv(os.Environ())
	for i := range o.Nodes {
		home := filepath.Join(dir, fmt.Sprintf("node%d", i))
		c := &child{index: i, log: filepath.Join(home, "node.log"), done: make(chan struct{})}
		logf, err := os.OpenFile(c.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return n, fmt.Errorf("bench: %w", err)
		}
		c.cmd = exec.Command(o.Binary, nodeArgs(o, i, home)...)
		c.cmd.Stdout, c.cmd.Stderr = logf, logf
		c.cmd.Env = env
		if o.PprofPort > 0 {
			c.cmd.Env = append(env, fmt.Sprintf("%s=127.0.0.1:%d", pprofEnv, o.PprofPort+i))
		}
		c.cmd.SysProcAttr = childAttr()
		if err := c.cmd.Start(); err != nil {
			logf.Close()
			return n, fmt.Errorf("bench: start node %d: %w", i, err)
		}
		go func() {
			c.cmd.Wait()
			logf.Close()
			c.state = c.cmd.ProcessState
			close(c.done)
		}()
		n.procs = append(n.procs, c)
		n.apis = append(n.apis, "http://127.0.0.1:"+strconv.Itoa(o.APIPort+i))
	}
	if err := n.waitCommitting(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// nodeArgs are the arguments of validator i's `strategos node`: a
// Byzantine one runs its behaviour.
func nodeArgs(o *Options, i int, home string) []string {
	args := []string{"node", "--home", home}
	if o.isByzantine(i) {
		args = append(args, "--behavior", o.Behavior)
	}
	return args
}

// pprofEnv is the variable through which the strategos binary serves Go's
// profiler; children get their own address (--pprof-port) or none.
const pprofEnv = "STRATEGOS_PPROF"

func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, pprofEnv+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func portFree(p int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return err
	}
	return ln.Close()
}

// waitCommitting waits until every API answers and node 0 has committed a
// block, or a validator exits, or startTimeout passes.
func (n *localNet) waitCommitting(ctx context.Context) error {
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	for {
		if err := n.exited(); err != nil {
			return err
		}
		up := 0
		var h0 uint64
		for i, api := range n.apis {
			h, err := height(ctx, hc, api)
			if err != nil {
				break
			}
			if i == 0 {
				h0 = h
			}
			up++
		}
		if up == len(n.apis) && h0 >= 1 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: the network did not commit a block within %v (node logs in %s)", startTimeout, n.dir)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func height(ctx context.Context, hc *http.Client, api string) (uint64, error) {
	c, err := client.New(api, hc)
	if err != nil {
		return 0, err
	}
	st, err := c.Status(ctx)
	return st.Height, err
}

// exited returns an error if a validator has exited.
func (n *localNet) exited() error {
	for _, c := range n.procs {
		select {
		case <-c.done:
			return fmt.Errorf("bench: node %d exited (%v): %s", c.index, c.state, lastLine(c.log))
		default:
		}
	}
	return nil
}

// lastLine returns the last non-empty line of a log file, for an error
// message.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	last := "empty log"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	if len(last) > 300 {
		last = last[:300] + "..."
	}
	return last
}

// cpu returns the CPU time of every validator so far; ok is false where
// the system does not tell (no /proc).
func (n *localNet) cpu() ([]time.Duration, bool) {
	out := make([]time.Duration, len(n.procs))
	for i, c := range n.procs {
		d, err := procCPU(c.cmd.Process.Pid)
		if err != nil {
			return nil, false
		}
		out[i] = d
	}
	return out, true
}

// stop stops every validator (SIGTERM, then SIGKILL after stopTimeout)
// and removes the network's directory.
func (n *localNet) stop() {
	for _, c := range n.procs {
		select {
		case <-c.done:
			continue
		default:
		}
		signalChild(c.cmd.Process, syscall.SIGTERM)
	}
	for _, c := range n.procs {
		select {
		case <-c.done:
		case <-time.After(stopTimeout):
			signalChild(c.cmd.Process, syscall.SIGKILL)
			<-c.done
		}
	}
	os.RemoveAll(n.dir)
}

// clockTicks is the unit of utime and stime in /proc/<pid>/stat
// (USER_HZ), 100 on every Linux that Go supports.
const clockTicks = 100

// procCPU returns the user plus system CPU time of a process, from
// /proc/<pid>/stat: every thread's, including exited ones.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("bench: malformed /proc stat")
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("bench: malformed /proc stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bench: malformed /proc stat")
	}
	return time.Duration(u+s) * time.Second / clockTicks, nil
}

// selfCPU returns this process's user plus system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
