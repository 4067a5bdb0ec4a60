//go:build unix

package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestABCIKVStore runs four validators, each with its own CometBFT
// `abci-cli kvstore` process (an application nobody here wrote), and
// checks what the contract promises an ABCI application: transactions
// submitted to any node commit; every validator's application holds the
// same values; killing a validator, its application, or both, and
// restarting them, replays what is missing and the network keeps going;
// an application that answers garbage makes its node say so and stop
// voting; validator updates the application asks for are refused.
func TestABCIKVStore(t *testing.T) {
	cli := needABCICLI(t)
	appPort := freePortRange(t, 4)
	c := newCluster(t, clusterOptions{nodes: 4, app: "abci", abci: fmt.Sprintf("tcp://127.0.0.1:%d", appPort), signLog: true})
	apps := make([]*kvstore, 4)
	for i := range apps {
		apps[i] = startKVStore(t, cli, c.logDir, i, appPort+i)
	}
	c.startAll()
	all := []int{0, 1, 2, 3}
	c.waitHeight(all, 2, 60*time.Second)

	// Transactions submitted to each node commit, and every application
	// reads them back.
	var keys []string
	put := func(node int, key, value string) {
		t.Helper()
		c.submitKV(node, key+"="+value)
		keys = append(keys, key)
	}
	for i := range 4 {
		put(i, fmt.Sprintf("first%d", i), fmt.Sprintf("v%d", i))
	}
	c.waitValues(all, keys, 60*time.Second)

	// Kill -9 a validator, keep its application: on restart the
	// handshake finds the application at the height it stopped at.
	c.kill(1)
	put(0, "while-node1-down", "x")
	c.waitValues([]int{0, 2, 3}, keys[len(keys)-1:], 60*time.Second)
	c.start(1)
	c.waitValues(all, keys, 90*time.Second)

	// Kill -9 an application: its node says so and stops voting, the
	// others go on; a new, empty kvstore gets the whole chain replayed.
	apps[2].kill()
	c.waitAppError(2, true, 30*time.Second)
	put(0, "while-app2-down", "y")
	c.waitValues([]int{0, 1, 3}, keys[len(keys)-1:], 60*time.Second)
	apps[2] = startKVStore(t, cli, c.logDir, 2, appPort+2)
	c.waitAppError(2, false, 60*time.Second)
	c.waitValues(all, keys, 90*time.Second)

	// Kill both; restart both.
	c.kill(3)
	apps[3].kill()
	put(1, "while-3-down", "z")
	c.waitValues([]int{0, 1, 2}, keys[len(keys)-1:], 60*time.Second)
	apps[3] = startKVStore(t, cli, c.logDir, 3, appPort+3)
	c.start(3)
	c.waitValues(all, keys, 90*time.Second)

	// A validator update is the application's wish, never applied.
	c.submitKV(0, "val=ed25519!"+strings.Repeat("A", 43)+"=!10")
	put(0, "after-val", "w")
	c.waitValues(all, keys, 60*time.Second)
	var vals struct {
		Validators []any `json:"validators"`
	}
	if _, err := c.getJSON(c.api(0)+"/v1/validators", &vals); err != nil || len(vals.Validators) != 4 {
		t.Fatalf("validators after an update request: %d (%v), want the genesis 4", len(vals.Validators), err)
	}

	// Garbage in place of node 3's application: node 3 reports it, signs
	// nothing, and the other three keep committing.
	apps[3].kill()
	stopGarbage := serveGarbage(t, appPort+3)
	defer stopGarbage()
	c.waitAppError(3, true, 30*time.Second)
	votes := countVotes(t, c.nodes[3].signLog)
	put(0, "while-3-garbage", "g")
	c.waitValues([]int{0, 1, 2}, keys[len(keys)-1:], 60*time.Second)
	if after := countVotes(t, c.nodes[3].signLog); after != votes {
		t.Errorf("node 3 signed %d votes while its application answered garbage", after-votes)
	}
	top, err := c.height(0)
	if err != nil {
		t.Fatal(err)
	}
	c.checkAgreement([]int{0, 1, 2}, top)
}

// kvstore is one `abci-cli kvstore` process.
type kvstore struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startKVStore(t *testing.T, cli, logDir string, i, port int) *kvstore {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(logDir, fmt.Sprintf("kvstore%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cli, "kvstore", "--address", fmt.Sprintf("tcp://127.0.0.1:%d", port))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kvstore %d: %v", i, err)
	}
	k := &kvstore{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(k.done) }()
	t.Cleanup(k.kill)
	waitListening(t, port, 30*time.Second)
	return k
}

func (k *kvstore) kill() {
	select {
	case <-k.done:
		return
	default:
	}
	syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	<-k.done
}

func waitListening(t *testing.T, port int, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("port %d to listen", port), func() (bool, string) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			return false, err.Error()
		}
		conn.Close()
		return true, ""
	})
}

// serveGarbage answers every connection on port with bytes that are no
// ABCI message, until the returned function is called.
func serveGarbage(t *testing.T, port int) func() {
	t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				buf := make([]byte, 4096)
				for {
					if _, err := conn.Read(buf); err != nil {
						return
					}
					if _, err := conn.Write([]byte("\x05garbage, not a Response\xff\xff")); err != nil {
						return
					}
				}
			})
		}
	})
	return func() { ln.Close(); wg.Wait() }
}

// submitKV posts one transaction to node i and requires 202.
func (c *cluster) submitKV(i int, tx string) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, fmt.Sprintf("node %d to accept %q", i, tx), func() (bool, string) {
		resp, err := c.client.Post(c.api(i)+"/v1/txs", "text/plain", strings.NewReader(tx))
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusBadRequest {
			c.t.Fatalf("node %d refused %q: %s", i, tx, body)
		}
		return resp.StatusCode == http.StatusAccepted, fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
	})
}

// waitValues waits until every given node's application answers each key
// with a value, and all of them the same one.
func (c *cluster) waitValues(nodes []int, keys []string, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("nodes %v to hold %d keys", nodes, len(keys)), func() (bool, string) {
		for _, key := range keys {
			var want string
			for k, i := range nodes {
				var q struct {
					Code  uint32 `json:"code"`
					Value string `json:"value"`
				}
				url := fmt.Sprintf("%s/v1/abci/query?data=%s", c.api(i), hex.EncodeToString([]byte(key)))
				if _, err := c.getJSON(url, &q); err != nil {
					return false, err.Error()
				}
				if q.Code != 0 || q.Value == "" {
					return false, fmt.Sprintf("node %d: key %q: code %d, value %q", i, key, q.Code, q.Value)
				}
				if k == 0 {
					want = q.Value
				} else if q.Value != want {
					c.t.Fatalf("node %d holds %q = %s, node %d holds %s", i, key, q.Value, nodes[0], want)
				}
			}
		}
		return true, ""
	})
}

// waitAppError waits until node i's status reports an application error
// (or none).
func (c *cluster) waitAppError(i int, failed bool, timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, fmt.Sprintf("node %d app_error set=%v", i, failed), func() (bool, string) {
		s, err := c.status(i)
		if err != nil {
			return false, err.Error()
		}
		got := s.AppError != nil && *s.AppError != ""
		return got == failed, fmt.Sprintf("app_error %v", s.AppError)
	})
}

var abciCLI struct {
	once sync.Once
	path string
	err  error
}

// needABCICLI builds CometBFT's abci-cli (a tool of this module) once.
func needABCICLI(t *testing.T) string {
	t.Helper()
	needBinary(t)
	abciCLI.once.Do(func() {
		dir, err := os.MkdirTemp("", "strategos-e2e-abci-")
		if err != nil {
			abciCLI.err = err
			return
		}
		abciCLI.path = filepath.Join(dir, "abci-cli")
		out, err := exec.Command("go", "build", "-o", abciCLI.path, "github.com/cometbft/cometbft/abci/cmd/abci-cli").CombinedOutput()
		if err != nil {
			abciCLI.err = fmt.Errorf("build abci-cli: %v\n%s", err, out)
		}
	})
	if abciCLI.err != nil {
		t.Fatal(abciCLI.err)
	}
	return abciCLI.path
}

// countVotes counts the votes a sign log records.
func countVotes(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "vote ") {
			n++
		}
	}
	return n
}
