//go:build linux

package faults

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A lab is a private network of hosts on one machine: one network
// namespace per validator, each with one interface (eth0) whose other end
// is a port of a switch that lives in a namespace of its own (the hub).
// The test process reaches the hosts through one more port of that
// switch, whose other end (with address .254) is in the test's own
// namespace. The subnet 10.213.S.0/24 (S chosen per lab, unused on the
// machine) exists only on these interfaces: no frame of the lab leaves
// them, and nothing outside reaches in.
//
// The switch is a learning Ethernet switch in the test process (see
// vswitch): it reads and writes frames on the hub's ports with packet
// sockets, which lets it cut, delay and drop traffic per directed pair
// of hosts. Whole-host isolation is done by the kernel instead: the hub
// end of the host's link is set down. Latency and loss use tc netem on
// every host's eth0 when the kernel has sch_netem, else the switch.
type lab struct {
	t      *testing.T
	id     string // unique per lab: sfz-<pid>-<n>
	subnet int    // the third octet of 10.213.S.0/24
	hub    string // the hub namespace
	ns     []string
	hostIf string // the test's interface, in the test's namespace
	sw     *vswitch
	netem  bool // link shaping with tc netem (else the switch)

	mu     sync.Mutex
	shaped map[int]string // node -> the netem qdisc set on its eth0
}

var labSeq atomic.Int32

// labPrefix starts every namespace name a lab creates; the pid of the
// test process that owns it follows, so a later run can remove what a
// killed run left behind.
const labPrefix = "sfz-"

// newLab creates n hosts and the switch. It skips the test, loudly, when
// namespaces cannot be created (not root, no iproute2, no netns support);
// with STRATEGOS_FAULTS_REQUIRE=1 it fails instead. Cleanup removes every
// namespace and interface it made, whatever happened.
func newLab(t *testing.T, n int) *lab {
	t.Helper()
	needBinary(t)
	l := &lab{
		t:      t,
		id:     fmt.Sprintf("%s%d-%d", labPrefix, os.Getpid(), labSeq.Add(1)),
		shaped: map[int]string{},
	}
	l.hub = l.id + "-hub"
	var rb [4]byte
	rand.Read(rb[:])
	l.hostIf = "sfz" + hex.EncodeToString(rb[:]) // 11 characters, unique per lab
	t.Cleanup(l.destroy)

	if err := labPossible(); err != nil {
		skipNoLab(t, err)
	}
	// Namespaces work here: a lab that cannot be built is a failure.
	if err := l.create(n); err != nil {
		t.Fatalf("building the lab: %v", err)
	}
	return l
}

// skipNoLab skips the test, loudly, because no lab can be built; with
// STRATEGOS_FAULTS_REQUIRE=1 it fails it.
func skipNoLab(t *testing.T, err error) {
	t.Helper()
	msg := fmt.Sprintf("FAULT-INJECTION SUITE NOT RUN: cannot build a network of namespaces (%v). "+
		"These tests need Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2's `ip`; "+
		"nothing was tested. Set STRATEGOS_FAULTS_REQUIRE=1 to make this a failure", err)
	if os.Getenv("STRATEGOS_FAULTS_REQUIRE") == "1" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "faults:", msg)
	t.Skip(msg)
}

// labPossible reports why no lab can be built here, or nil: it needs
// root, `ip`, and a namespace it can create and remove.
func labPossible() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("ip not found: %w", err)
	}
	probe := fmt.Sprintf("%s%d-probe%d", labPrefix, os.Getpid(), labSeq.Add(1))
	if err := ipCmd("netns", "add", probe); err != nil {
		return err
	}
	return ipCmd("netns", "del", probe)
}

func (l *lab) create(n int) error {
	s, err := freeSubnet()
	if err != nil {
		return err
	}
	l.subnet = s
	if err := ipCmd("netns", "add", l.hub); err != nil {
		return err
	}
	for i := range n {
		ns := fmt.Sprintf("%s-n%d", l.id, i)
		if err := ipCmd("netns", "add", ns); err != nil {
			return err
		}
		l.ns = append(l.ns, ns)
		port := fmt.Sprintf("p%d", i)
		steps := [][]string{
			{"-n", ns, "link", "set", "lo", "up"},
			{"link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", l.hub},
			{"-n", ns, "addr", "add", l.ip(i) + "/24", "dev", "eth0"},
			{"-n", ns, "link", "set", "eth0", "up"},
			{"-n", l.hub, "link", "set", port, "up"},
		}
		for _, a := range steps {
			if err := ipCmd(a...); err != nil {
				return err
			}
		}
	}
	steps := [][]string{
		{"link", "add", l.hostIf, "type", "veth", "peer", "name", "host", "netns", l.hub},
		{"addr", "add", l.hostIP() + "/24", "dev", l.hostIf},
		{"link", "set", l.hostIf, "up"},
		{"-n", l.hub, "link", "set", "host", "up"},
	}
	for _, a := range steps {
		if err := ipCmd(a...); err != nil {
			return err
		}
	}
	// IPv6 would only add neighbour-discovery chatter on the lab's links.
	os.WriteFile("/proc/sys/net/ipv6/conf/"+l.hostIf+"/disable_ipv6", []byte("1"), 0o644)

	ports := make([]string, 0, n+1)
	for i := range n {
		ports = append(ports, fmt.Sprintf("p%d", i))
	}
	ports = append(ports, "host")
	sw, err := newSwitch(l.hub, ports)
	if err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	l.sw = sw
	l.netem = netemWanted() && l.probeNetem()
	setShaperName(l.shaper())

	// The test must reach every host through the switch before anything
	// depends on it.
	deadline := time.Now().Add(5 * time.Second)
	for i := range n {
		for {
			err := l.reach(i)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("host %d (%s) unreachable through the lab's switch: %w", i, l.ip(i), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	l.t.Logf("lab %s: %d hosts on 10.213.%d.0/24 (test at %s on %s), link shaping by %s",
		l.id, n, l.subnet, l.hostIP(), l.hostIf, l.shaper())
	return nil
}

// reach checks that host i answers on the lab network: nothing listens
// yet, so a TCP connection refused (an RST from the host's kernel) is the
// answer.
func (l *lab) reach(i int) error {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(l.ip(i), "9"), 500*time.Millisecond)
	if err == nil {
		c.Close()
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil
	}
	return err
}

func (l *lab) ip(i int) string   { return fmt.Sprintf("10.213.%d.%d", l.subnet, i+1) }
func (l *lab) hostIP() string    { return fmt.Sprintf("10.213.%d.254", l.subnet) }
func (l *lab) port(i int) string { return fmt.Sprintf("p%d", i) }

func (l *lab) shaper() string {
	if l.netem {
		return "tc netem"
	}
	if !netemWanted() {
		return "the lab switch (STRATEGOS_FAULTS_NETEM=0)"
	}
	return "the lab switch (no tc netem here)"
}

// destroy removes the lab: the switch, then the namespaces (which takes
// their interfaces, and the peers of those, with them).
func (l *lab) destroy() {
	if l.sw != nil {
		l.sw.close()
	}
	for _, ns := range append(append([]string(nil), l.ns...), l.hub) {
		if nsExists(ns) {
			if err := ipCmd("netns", "del", ns); err != nil {
				l.t.Errorf("lab cleanup: %v", err)
			}
		}
	}
	// The hub's namespace takes the host end of its link with it, but the
	// kernel may finish that after "netns del" returns: a link that is gone
	// by the time we delete it is what we wanted.
	if linkExists(l.hostIf) {
		if err := ipCmd("link", "del", l.hostIf); err != nil && linkExists(l.hostIf) {
			l.t.Errorf("lab cleanup: %v", err)
		}
	}
	if l.subnet != 0 {
		releaseSubnet(l.subnet)
	}
}

// isolate cuts host i off completely: the hub end of its link goes down.
func (l *lab) isolate(i int) error { return ipCmd("-n", l.hub, "link", "set", l.port(i), "down") }

// rejoin brings host i's link back.
func (l *lab) rejoin(i int) error { return ipCmd("-n", l.hub, "link", "set", l.port(i), "up") }

// partition cuts every link between hosts of different groups; the test
// still reaches every host.
func (l *lab) partition(groups ...[]int) {
	group := map[int]int{}
	for g, hs := range groups {
		for _, h := range hs {
			group[h] = g
		}
	}
	l.sw.update(func(src, dst int, p *policy) {
		gs, ok1 := group[src]
		gd, ok2 := group[dst]
		p.cut = ok1 && ok2 && gs != gd
	})
}

// heal removes every cut between hosts.
func (l *lab) heal() { l.sw.update(func(_, _ int, p *policy) { p.cut = false }) }

// shape sets the latency, jitter and loss of every frame host i sends to
// the other hosts (and, with netem, to the test too).
func (l *lab) shape(i int, delay, jitter time.Duration, lossPct float64) error {
	if l.netem {
		spec := []string{"delay", ms(delay)}
		if jitter > 0 {
			spec = append(spec, ms(jitter))
		}
		if lossPct > 0 {
			spec = append(spec, "loss", strconv.FormatFloat(lossPct, 'f', -1, 64)+"%")
		}
		args := append([]string{"-n", l.ns[i], "qdisc", "replace", "dev", "eth0", "root", "netem"}, spec...)
		if err := tcCmd(args...); err != nil {
			return err
		}
		l.mu.Lock()
		l.shaped[i] = strings.Join(spec, " ")
		l.mu.Unlock()
		return nil
	}
	hostPort := len(l.ns)
	l.sw.update(func(src, dst int, p *policy) {
		if src == i && dst != hostPort {
			p.delay, p.jitter, p.loss = delay, jitter, lossPct/100
		}
	})
	return nil
}

// unshape removes all latency and loss.
func (l *lab) unshape() error {
	if l.netem {
		l.mu.Lock()
		defer l.mu.Unlock()
		var errs []error
		for i := range l.shaped {
			errs = append(errs, tcCmd("-n", l.ns[i], "qdisc", "del", "dev", "eth0", "root"))
			delete(l.shaped, i)
		}
		return errors.Join(errs...)
	}
	l.sw.update(func(_, _ int, p *policy) { p.delay, p.jitter, p.loss = 0, 0, 0 })
	return nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// netemWanted reads STRATEGOS_FAULTS_NETEM: "0" makes the switch shape
// links even where tc netem works.
func netemWanted() bool { return os.Getenv("STRATEGOS_FAULTS_NETEM") != "0" }

// probeNetem reports whether this kernel has sch_netem, by adding and
// removing a netem qdisc on the hub's end of the test's link.
func (l *lab) probeNetem() bool {
	if _, err := exec.LookPath("tc"); err != nil {
		return false
	}
	if err := tcCmd("-n", l.hub, "qdisc", "add", "dev", "host", "root", "netem", "delay", "1ms"); err != nil {
		return false
	}
	tcCmd("-n", l.hub, "qdisc", "del", "dev", "host", "root")
	return true
}

// command returns a command that runs inside host i's namespace.
func (l *lab) command(i int, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns[i], name}, args...)...)
}

func ipCmd(args ...string) error { return run("ip", args...) }
func tcCmd(args ...string) error { return run("tc", args...) }

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join("/var/run/netns", name))
	return err == nil
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// Subnets taken by this process's labs: two labs built at the same moment
// must not pick the same one before either has configured it.
var subnets struct {
	sync.Mutex
	taken map[int]bool
}

func releaseSubnet(s int) {
	subnets.Lock()
	delete(subnets.taken, s)
	subnets.Unlock()
}

// freeSubnet picks S such that nothing on this machine uses 10.213.S.0/24,
// and reserves it for this process until releaseSubnet.
func freeSubnet() (int, error) {
	subnets.Lock()
	defer subnets.Unlock()
	if subnets.taken == nil {
		subnets.taken = map[int]bool{}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, err
	}
	routes, _ := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	used := func(s int) bool {
		_, lan, _ := net.ParseCIDR(fmt.Sprintf("10.213.%d.0/24", s))
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && (lan.Contains(n.IP) || n.Contains(lan.IP)) {
				return true
			}
		}
		return bytes.Contains(routes, []byte(fmt.Sprintf("10.213.%d.", s)))
	}
	for range 100 {
		var b [1]byte
		rand.Read(b[:])
		s := 1 + int(b[0])%250
		if !subnets.taken[s] && !used(s) {
			subnets.taken[s] = true
			return s, nil
		}
	}
	return 0, errors.New("no free 10.213.S.0/24 subnet")
}

// sweepStale removes the namespaces of labs whose test process is gone
// (a run killed before its cleanup), so that they do not pile up.
func sweepStale() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, labPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // its test is still running
		}
		if err := ipCmd("netns", "del", name); err == nil {
			fmt.Fprintf(os.Stderr, "faults: removed namespace %s left by an earlier run\n", name)
		}
	}
}

// inNetns runs fn on an OS thread that has joined namespace ns. Sockets
// fn creates stay in ns. The thread returns to its namespace before it
// serves other goroutines; if it cannot, it is left locked and dies with
// its goroutine.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(filepath.Join("/var/run/netns", ns))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := setns(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return // stays locked: the runtime retires the thread
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func setns(f *os.File) error {
	// The syscall package names SYS_SETNS on some architectures only.
	nr, ok := map[string]uintptr{"amd64": 308, "arm64": 268, "riscv64": 268, "loong64": 268, "386": 346, "arm": 375,
		"ppc64": 350, "ppc64le": 350, "s390x": 339}[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: system call number unknown on %s", runtime.GOARCH)
	}
	_, _, e := syscall.Syscall(nr, f.Fd(), syscall.CLONE_NEWNET, 0)
	if e != 0 {
		return e
	}
	return nil
}
