package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strategos/strategos/internal/testbin"
)

func TestBenchFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--app", "nosuch", "--duration", "1s"}, `unknown app "nosuch"`},
		{[]string{"bench", "--duration", "0s"}, "--duration must be positive"},
		{[]string{"bench", "--rate", "-5"}, "--rate must be positive"},
		{[]string{"bench", "--nodes", "0"}, "--nodes must be between 1"},
		{[]string{"bench", "--target", "http://127.0.0.1:1", "--nodes", "4"}, "--nodes is for its own network"},
		{[]string{"bench", "--keys", "/tmp"}, "--keys is for --target"},
		{[]string{"bench", "--target", " , "}, "--target names no node"},
		{[]string{"bench", "--target", "http://127.0.0.1:1", "--byzantine", "1"}, "--byzantine is for its own network"},
		{[]string{"bench", "--target", "http://127.0.0.1:1", "--behavior", "silent"}, "--behavior is for its own network"},
		{[]string{"bench", "--byzantine", "4"}, "--byzantine must be between 0 and 3"},
		{[]string{"bench", "--nodes", "7", "--byzantine", "-1"}, "--byzantine must be between 0 and 6"},
		{[]string{"bench", "--byzantine", "1", "--behavior", "nosuch"}, `--behavior "nosuch" is not a Byzantine behaviour`},
		{[]string{"bench", "--byzantine", "1", "--behavior", "honest"}, `--behavior "honest" is not a Byzantine behaviour`},
		{[]string{"bench", "--behavior", "silent"}, "--behavior silent needs --byzantine K > 0"},
		{[]string{"bench", "--target", "http://127.0.0.1:1", "--duration", "1s"}, "cannot reach node"},
		{[]string{"bench", "--rpc", "http://127.0.0.1:1", "--target", "http://127.0.0.1:2"}, "--target cannot go with --rpc"},
		{[]string{"bench", "--rpc", "http://127.0.0.1:1", "--app", "kv"}, "--app cannot go with --rpc"},
		{[]string{"bench", "--rpc", "http://127.0.0.1:1", "--nodes", "4"}, "--nodes cannot go with --rpc"},
		{[]string{"bench", "--rpc", " , "}, "--rpc names no endpoint"},
		{[]string{"bench", "--rpc", "http://127.0.0.1:1", "--window", "5"}, "--window must be at least 10"},
		{[]string{"bench", "--rpc", "ftp://127.0.0.1:1"}, "is not an http:// URL"},
		{[]string{"bench", "--window", "100"}, "--window is for --rpc"},
		{[]string{"bench", "--rpc", "http://127.0.0.1:1", "--duration", "1s"}, "cannot reach http://127.0.0.1:1"},
		{[]string{"bench", "--duration", "soon"}, "invalid argument"},
		{[]string{"bench", "extra"}, "unknown command"},
	} {
		root := newRootCmd()
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(tc.args)
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line with %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: printed %q on stdout", tc.args, out.String())
		}
	}
}

// TestMain removes the binary that the process tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchBinDir != "" {
		os.RemoveAll(benchBinDir)
	}
	os.Exit(code)
}

var (
	benchBinOnce sync.Once
	benchBinDir  string // made by the tests, removed at the end
	benchBin     string
	benchBinErr  error
)

// strategosBinary builds the binary once for the tests that run it.
func strategosBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs real validators for several seconds; skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("process tests run on Linux")
	}
	benchBinOnce.Do(func() {
		benchBinDir, benchBinErr = os.MkdirTemp("", "strategos-bench-bin-")
		if benchBinErr == nil {
			benchBin, benchBinErr = testbin.Build(benchBinDir, os.Stderr)
		}
	})
	if benchBinErr != nil {
		t.Fatalf("build strategos: %v", benchBinErr)
	}
	return benchBin
}

// freePorts returns base such that base..base+n-1 are free on 127.0.0.1.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	base, err := testbin.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func portsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			return false
		}
		ln.Close()
	}
	return true
}

// TestBenchProcess runs `strategos bench --nodes 4 --duration 3s --json`
// (its own network of four validator processes) for each app and checks
// the report's shape and its simplest facts; never a performance figure.
func TestBenchProcess(t *testing.T) {
	bin := strategosBinary(t)
	for _, app := range []string{"kv", "bank"} {
		t.Run(app, func(t *testing.T) {
			api, p2p, rpc := freePorts(t, 4), freePorts(t, 4), freePorts(t, 4)
			cmd := exec.Command(bin, "bench", "--nodes", "4", "--app", app, "--duration", "3s", "--json",
				"--api-port", strconv.Itoa(api), "--p2p-port", strconv.Itoa(p2p), "--rpc-port", strconv.Itoa(rpc))
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Run(); err != nil {
				t.Fatalf("bench: %v\nstderr:\n%s", err, errOut.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("stdout has %d lines, want one JSON object:\n%s", len(lines), out.String())
			}
			var rep struct {
				Nodes        *int     `json:"nodes"`
				App          *string  `json:"app"`
				OfferedTPS   *float64 `json:"offered_tps"`
				CommittedTPS *float64 `json:"committed_tps"`
				DurationS    *float64 `json:"duration_s"`
				Blocks       *int     `json:"blocks"`
				Latency      *struct {
					P50, P95, P99 *float64
				} `json:"latency_ms"`
				Lost        *int64   `json:"lost"`
				Rejected    int64    `json:"rejected"`
				LoadgenCPU  *float64 `json:"loadgen_cpu_s"`
				NodesCPU    *float64 `json:"nodes_cpu_s"`
				Interrupted bool     `json:"interrupted"`
			}
			dec := json.NewDecoder(strings.NewReader(lines[0]))
			if err := dec.Decode(&rep); err != nil {
				t.Fatalf("stdout is not a report: %v\n%s", err, lines[0])
			}
			if rep.Nodes == nil || rep.App == nil || rep.OfferedTPS == nil || rep.CommittedTPS == nil || rep.DurationS == nil ||
				rep.Blocks == nil || rep.Latency == nil || rep.Latency.P50 == nil || rep.Latency.P95 == nil || rep.Latency.P99 == nil ||
				rep.Lost == nil || rep.LoadgenCPU == nil || rep.NodesCPU == nil {
				t.Fatalf("a documented key is missing: %s", lines[0])
			}
			l := rep.Latency
			switch {
			case *rep.Nodes != 4 || *rep.App != app || *rep.DurationS != 3:
				t.Errorf("nodes %d app %s duration %v: %s", *rep.Nodes, *rep.App, *rep.DurationS, lines[0])
			case *rep.CommittedTPS <= 0 || *rep.Blocks <= 0 || *rep.OfferedTPS <= 0:
				t.Errorf("nothing committed: %s", lines[0])
			case !(*l.P50 > 0 && *l.P50 <= *l.P95 && *l.P95 <= *l.P99):
				t.Errorf("latency percentiles out of order: %s", lines[0])
			case *rep.Lost != 0 || rep.Rejected != 0 || rep.Interrupted:
				t.Errorf("lost, rejected or interrupted: %s", lines[0])
			}
			if strings.Contains(errOut.String(), "error:") || strings.Contains(errOut.String(), "goroutine ") {
				t.Errorf("stderr has an error:\n%s", errOut.String())
			}
			if !portsFree(api, 4) || !portsFree(p2p, 4) {
				t.Errorf("a validator still holds its port after bench exited")
			}
		})
	}
}

// TestBenchInterrupt stops a long run with SIGINT while it measures: the
// report of the part that ran still comes, then one error line, a
// non-zero exit, and no validator left behind.
func TestBenchInterrupt(t *testing.T) {
	bin := strategosBinary(t)
	api, p2p, rpc := freePorts(t, 4), freePorts(t, 4), freePorts(t, 4)
	cmd := exec.Command(bin, "bench", "--nodes", "4", "--app", "kv", "--rate", "200", "--duration", "1m", "--warmup", "1s", "--json",
		"--api-port", strconv.Itoa(api), "--p2p-port", strconv.Itoa(p2p), "--rpc-port", strconv.Itoa(rpc))
	var out bytes.Buffer
	errOut := &testbin.Buffer{}
	cmd.Stdout, cmd.Stderr = &out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(errOut.String(), "measuring") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("bench never started measuring:\n%s", errOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("interrupted bench exited 0")
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("bench did not stop within 30s of SIGINT")
	}
	var rep struct {
		Interrupted bool    `json:"interrupted"`
		DurationS   float64 `json:"duration_s"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || !rep.Interrupted || rep.DurationS <= 0 || rep.DurationS >= 60 {
		t.Errorf("report after SIGINT: %+v, %v: %q", rep, err, out.String())
	}
	var errLines []string
	for _, l := range strings.Split(errOut.String(), "\n") {
		if strings.HasPrefix(l, "error:") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || !strings.Contains(errLines[0], "interrupted") {
		t.Errorf("stderr error lines %q, want one saying interrupted", errLines)
	}
	if !portsFree(api, 4) || !portsFree(p2p, 4) {
		t.Errorf("a validator still holds its port after bench exited")
	}
}

// TestBenchByzantineProcess runs `strategos bench --byzantine 1 --behavior
// silent` on its own four validators: the network still commits with its
// three honest ones, the report says who misbehaved, and the load went to
// validators 0..2 only.
func TestBenchByzantineProcess(t *testing.T) {
	bin := strategosBinary(t)
	api, p2p, rpc := freePorts(t, 4), freePorts(t, 4), freePorts(t, 4)
	cmd := exec.Command(bin, "bench", "--nodes", "4", "--app", "kv", "--duration", "3s", "--json",
		"--byzantine", "1", "--behavior", "silent", "--api-port", strconv.Itoa(api), "--p2p-port", strconv.Itoa(p2p), "--rpc-port", strconv.Itoa(rpc))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench: %v\nstderr:\n%s", err, errOut.String())
	}
	var rep struct {
		Nodes        int      `json:"nodes"`
		Byzantine    *int     `json:"byzantine"`
		Behavior     *string  `json:"behavior"`
		CommittedTPS float64  `json:"committed_tps"`
		Lost         int64    `json:"lost"`
		Targets      []string `json:"targets"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s", err, out.String())
	}
	if rep.Byzantine == nil || rep.Behavior == nil || *rep.Byzantine != 1 || *rep.Behavior != "silent" || rep.Nodes != 4 {
		t.Errorf("report does not say who misbehaved: %s", out.String())
	}
	if rep.CommittedTPS <= 0 || rep.Lost != 0 {
		t.Errorf("three honest validators of four should commit and lose nothing: %s", out.String())
	}
	var want []string
	for i := range 3 {
		want = append(want, "http://127.0.0.1:"+strconv.Itoa(api+i))
	}
	if strings.Join(rep.Targets, ",") != strings.Join(want, ",") {
		t.Errorf("loaded %v, want the honest validators %v", rep.Targets, want)
	}
	if strings.Contains(errOut.String(), "warning") {
		t.Errorf("warned with K = f:\n%s", errOut.String())
	}
	if !portsFree(api, 4) || !portsFree(p2p, 4) {
		t.Errorf("a validator still holds its port after bench exited")
	}
}
