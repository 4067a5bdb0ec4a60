package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/client"
	"github.com/strategos/strategos/internal/config"
)

// Defaults and bounds.
const (
	DefaultPoll     = 5 * time.Millisecond
	MaxNodes        = 100
	kvStreamsOfNode = 4 // kv streams per node: batches in flight at once

	// Pre-generated transactions per second of load for the closed loop,
	// which has no rate to size them by: above what 4 validators on 2
	// cores can commit (the signature ceiling for bank is about 18,000
	// tx/s there). A run that uses them all says so ("exhausted").
	closedBankTPS = 20_000
	closedKVTPS   = 60_000

	cooldownMax = 10 * time.Second // load after the window, until its transactions commit
	drainMax    = 30 * time.Second // after the load, for accepted transactions to commit
	idleWait    = 3 * time.Second  // cool-down and drain end early when nothing commits this long
	lostCheck   = 20_000           // accepted transactions looked up at most, else a sample

	// faultIdleWait is idleWait with Byzantine validators: a round that
	// one of them leads can time out (a second or more, doubling with
	// each failed round), and the window's slowest transactions commit
	// after such pauses.
	faultIdleWait = 10 * time.Second

	// DefaultBehavior is what the Byzantine validators of the own network
	// run when Options.Behavior is empty, as for testnet.
	DefaultBehavior = "equivocate"
)

// Options describe a run.
type Options struct {
	Nodes    int           // validators of the own network
	App      string        // "bank" or "kv"; on targets also "abci", loaded with kv transactions
	Duration time.Duration // the measuring window
	Warmup   time.Duration // load before the window; 0 for a quarter of it, within 1s..5s
	Rate     float64       // offered tx/s, open loop; 0 for closed loop
	APIPort  int           // own network: node i serves its API on 127.0.0.1:APIPort+i
	P2PPort  int           // own network: node i listens for peers on 127.0.0.1:P2PPort+i
	RPCPort  int           // own network: node i serves its CometBFT-compatible RPC on 127.0.0.1:RPCPort+i; 0 for config.DefaultRPCPort
	Poll     time.Duration // interval of the commit follower's polls; 0 for DefaultPoll

	Targets []string // API URLs of running nodes; empty for an own network
	KeysDir string   // bank on targets: funded key files account0.key, ...

	// RPC names CometBFT-compatible JSON-RPC endpoints to load instead
	// (rpcload.go); Window bounds their transactions submitted and not
	// yet seen committed (0 for DefaultWindow).
	RPC    []string
	Window int

	Binary    string // the strategos binary that runs the own network's validators
	PprofPort int    // own network: node i serves Go's profiler on 127.0.0.1:PprofPort+i; 0 for none
	// RetainBlocks is the own network's retain_blocks (0: keep everything).
	RetainBlocks uint64
	// SnapshotInterval is the own network's snapshot_interval (0: the
	// node's default; negative: no snapshots).
	SnapshotInterval int

	// Own network: the Byzantine highest validators (n-K .. n-1) run
	// Behavior (a name of internal/byzantine; empty for DefaultBehavior)
	// and get no load; the run loads, polls and follows validators
	// 0 .. n-K-1 only.
	Byzantine int
	Behavior  string

	Progress io.Writer // the progress display (stderr); nil for none
	Terminal bool      // redraw the progress in place

	idle   time.Duration // tests: idleWait
	expire time.Duration // tests: rpcExpire
}

// ErrInterrupted is returned, with the report of what was measured, when
// ctx ends before the window does.
var ErrInterrupted = errors.New("bench: interrupted")

// Check validates o and fills defaults.
func (o *Options) Check() error {
	if len(o.RPC) > 0 {
		if err := o.checkRPC(); err != nil {
			return err
		}
	} else if o.Window != 0 {
		return errors.New("bench: --window is for --rpc")
	}
	if o.App == "" && len(o.Targets) == 0 {
		o.App = "bank"
	}
	switch {
	case o.App != "" && o.App != "bank" && o.App != "kv" && len(o.RPC) == 0:
		return fmt.Errorf("bench: unknown app %q (known: bank, kv)", o.App)
	case o.Duration <= 0:
		return fmt.Errorf("bench: --duration must be positive, got %v", o.Duration)
	case o.Rate < 0:
		return fmt.Errorf("bench: --rate must be positive, got %v", o.Rate)
	case o.Warmup < 0:
		return fmt.Errorf("bench: --warmup must not be negative, got %v", o.Warmup)
	case o.Poll < 0:
		return fmt.Errorf("bench: --poll must be positive, got %v", o.Poll)
	}
	if len(o.RPC) == 0 {
		if err := o.checkByzantine(); err != nil {
			return err
		}
	}
	if len(o.Targets) == 0 && len(o.RPC) == 0 {
		if o.Nodes < 1 || o.Nodes > MaxNodes {
			return fmt.Errorf("bench: --nodes must be between 1 and %d, got %d", MaxNodes, o.Nodes)
		}
		if o.RPCPort == 0 {
			o.RPCPort = config.DefaultRPCPort
		}
		for _, p := range []int{o.APIPort, o.P2PPort, o.RPCPort} {
			if p < 1 || p+o.Nodes-1 > 65535 {
				return fmt.Errorf("bench: port range %d..%d is not valid", p, p+o.Nodes-1)
			}
		}
		if o.PprofPort < 0 || o.PprofPort > 0 && o.PprofPort+o.Nodes-1 > 65535 {
			return fmt.Errorf("bench: --pprof-port range %d..%d is not valid", o.PprofPort, o.PprofPort+o.Nodes-1)
		}
		if o.Binary == "" {
			return errors.New("bench: no strategos binary to run the validators with")
		}
	}
	if o.Warmup == 0 {
		o.Warmup = min(max(o.Duration/4, time.Second), 5*time.Second)
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.idle == 0 {
		o.idle = idleWait
		if o.Byzantine > 0 {
			o.idle = faultIdleWait
		}
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return nil
}

// checkByzantine validates Byzantine and Behavior, and fills Behavior:
// DefaultBehavior with K > 0, byzantine.Honest with none.
func (o *Options) checkByzantine() error {
	if len(o.Targets) > 0 {
		if o.Byzantine != 0 || o.Behavior != "" && o.Behavior != byzantine.Honest {
			return errors.New("bench: --byzantine and --behavior are for its own network; they cannot go with --target")
		}
		o.Behavior = byzantine.Honest
		return nil
	}
	if o.Byzantine == 0 {
		if o.Behavior != "" && o.Behavior != byzantine.Honest {
			return fmt.Errorf("bench: --behavior %s needs --byzantine K > 0 validators to run it", o.Behavior)
		}
		o.Behavior = byzantine.Honest
		return nil
	}
	if o.Byzantine < 0 || o.Byzantine >= o.Nodes {
		return fmt.Errorf("bench: --byzantine must be between 0 and %d (fewer than --nodes %d, so that an honest validator takes the load), got %d",
			max(o.Nodes-1, 0), o.Nodes, o.Byzantine)
	}
	if o.Behavior == "" {
		o.Behavior = DefaultBehavior
	}
	if !byzantine.Valid(o.Behavior) || o.Behavior == byzantine.Honest {
		return fmt.Errorf("bench: --behavior %q is not a Byzantine behaviour (known: %s)", o.Behavior, strings.Join(Behaviors(), ", "))
	}
	return nil
}

// Behaviors returns the behaviours that the Byzantine validators of the
// own network can run (those of internal/byzantine but honest), sorted.
func Behaviors() []string {
	return slices.DeleteFunc(byzantine.Names(), func(n string) bool { return n == byzantine.Honest })
}

// validators names validators lo..hi for the progress display.
func validators(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("validator %d", lo)
	}
	return fmt.Sprintf("validators %d..%d", lo, hi)
}

// faultTolerance is f, the most Byzantine validators that n tolerate:
// floor((n-1)/3).
func faultTolerance(n int) int { return (n - 1) / 3 }

// isByzantine reports whether validator i of the own network misbehaves:
// the K highest do.
func (o *Options) isByzantine(i int) bool { return o.Byzantine > 0 && i >= o.Nodes-o.Byzantine }

// honestAPIs returns the API URLs of the own network that the run loads,
// polls and follows: those of its honest validators, 0 .. n-K-1.
func (o *Options) honestAPIs(apis []string) []string {
	var out []string
	for i, api := range apis {
		if !o.isByzantine(i) {
			out = append(out, api)
		}
	}
	return out
}

// run is one run's shared state.
type run struct {
	o        *Options
	start    time.Time
	rate     float64
	capFloor int64
	win      window
	book     *book
	cnt      counters
	feeders  []*feeder
	follow   *follower
	recent   atomic.Int64 // commits per second, smoothed over the last seconds (the closed loop's bound)
	dead     atomic.Int64 // streams that stopped for good
	draining atomic.Bool  // the load has stopped

	mu        sync.Mutex
	firstErr  error
	exhaustAt time.Duration // run time the load ran out of transactions, or -1
	cancel    context.CancelCauseFunc
}

func (r *run) now() time.Duration { return time.Since(r.start) }

func (r *run) recentRate() float64 { return float64(r.recent.Load()) }

// outstanding is the lines in flight plus the accepted transactions not
// seen committed.
func (r *run) outstanding() int64 {
	return r.cnt.inFlight.Load() + r.cnt.accepted.Load() - r.follow.committed.Load()
}

// accepted books transaction id as accepted, once.
func (r *run) accepted(id int) {
	if r.book.state[id].Or(stAccepted)&stAccepted != 0 {
		return
	}
	r.cnt.accepted.Add(1)
	if r.win.contains(time.Duration(r.book.sent[id].Load())) {
		r.cnt.winAccepted.Add(1)
	}
}

func (r *run) exhausted(now time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exhaustAt < 0 {
		r.exhaustAt = now
	}
}

// noteError remembers the first error of the run, for the report.
func (r *run) noteError(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
}

// fail ends the run with err.
func (r *run) fail(err error) {
	r.noteError(err)
	r.cancel(err)
}

// streamDied stops an ordered stream for good; the run fails when none is
// left.
func (r *run) streamDied(s *stream, err error) {
	s.dead = err
	r.noteError(err)
	if r.dead.Add(1) == int64(len(r.book.streams)) {
		r.fail(fmt.Errorf("bench: every sender stopped; the first: %w", err))
	}
}

// target is a node the run sends load to.
type target struct {
	c      *client.Client
	status client.Status
}

// Run measures: it starts the own network (or reaches the targets),
// prepares the load, runs it and reports. On ctx's end during the
// measurement it returns what it measured with ErrInterrupted.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	if len(o.RPC) > 0 {
		return runRPC(ctx, &o)
	}
	var lnet *localNet
	apis, keysDir := o.Targets, o.KeysDir
	if len(o.Targets) == 0 {
		fmt.Fprintf(o.Progress, "bench: starting %d validators (%s) on 127.0.0.1, API ports %d.., P2P ports %d.., RPC ports %d..\n",
			o.Nodes, o.App, o.APIPort, o.P2PPort, o.RPCPort)
		if o.Byzantine > 0 {
			fmt.Fprintf(o.Progress, "bench: %s run %s; the load goes to %s only\n",
				validators(o.Nodes-o.Byzantine, o.Nodes-1), o.Behavior, validators(0, o.Nodes-o.Byzantine-1))
			if f := faultTolerance(o.Nodes); o.Byzantine > f {
				fmt.Fprintf(o.Progress, "bench: warning: %d Byzantine validators of %d are more than the %d the protocol tolerates; the network may not commit, or may fork\n",
					o.Byzantine, o.Nodes, f)
			}
		}
		var err error
		lnet, err = startNetwork(ctx, &o)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ErrInterrupted
			}
			return nil, err
		}
		defer lnet.stop()
		apis, keysDir = o.honestAPIs(lnet.apis), lnet.keysDir
	}
	hc := &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 16, IdleConnTimeout: time.Minute, DisableCompression: true,
			ResponseHeaderTimeout: 2 * time.Minute,
		},
	}
	defer hc.CloseIdleConnections()
	targets, err := reach(ctx, apis, hc)
	if err != nil {
		return nil, err
	}
	app := targets[0].status.App
	if o.App == "" {
		o.App = app
	}
	if app != o.App {
		return nil, fmt.Errorf("bench: %s runs the %s app, not %s", targets[0].c.URL(), app, o.App)
	}
	if o.App != "bank" && o.App != "kv" && o.App != "abci" {
		return nil, fmt.Errorf("bench: %s runs the %s app, which bench cannot load", targets[0].c.URL(), app)
	}
	if o.App == "abci" {
		fmt.Fprintf(o.Progress, "bench: %s runs an ABCI application; the load is kv transactions key=value (as CometBFT's kvstore takes)\n", targets[0].c.URL())
	}
	streams, err := prepare(ctx, &o, targets, keysDir)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	r := &run{o: &o, rate: o.Rate, exhaustAt: -1}
	r.book = newBook(streams)
	fmt.Fprintf(o.Progress, "bench: indexed %d transactions in %v; load for %v of warm-up, then the %v window\n",
		r.book.len(), time.Since(began).Round(time.Millisecond), o.Warmup, o.Duration)
	r.start = time.Now()
	r.capFloor = int64(5_000 * len(targets))
	rep, err := r.measure(ctx, targets, lnet)
	if rep != nil {
		rep.Nodes = targets[0].status.Validators
		if lnet != nil {
			rep.Nodes = o.Nodes
		}
		rep.App = o.App
		rep.Byzantine, rep.Behavior = o.Byzantine, o.Behavior
		for _, t := range targets {
			rep.Targets = append(rep.Targets, t.c.URL())
		}
		rep.OwnNetwork = lnet != nil
	}
	return rep, err
}

// reach fetches every target's status and checks that they are one
// network.
func reach(ctx context.Context, apis []string, hc *http.Client) ([]*target, error) {
	var out []*target
	for _, api := range apis {
		c, err := client.New(api, hc)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := c.Status(sctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if len(out) > 0 && st.ChainID != out[0].status.ChainID {
			return nil, fmt.Errorf("bench: %s is on chain %s, %s on %s: one network at a time", c.URL(), st.ChainID, out[0].c.URL(), out[0].status.ChainID)
		}
		out = append(out, &target{c: c, status: st})
	}
	return out, nil
}

// measure runs the load and builds the report.
func (r *run) measure(ctx context.Context, targets []*target, lnet *localNet) (*Report, error) {
	o := r.o
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	st, err := targets[0].c.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r.follow = &follower{r: r, c: targets[0].c, poll: o.Poll, next: st.Height + 1}
	loadStart := r.now()
	r.win = window{start: loadStart + o.Warmup, end: loadStart + o.Warmup + o.Duration}

	byNode := make([][]*stream, len(targets))
	for _, s := range r.book.streams {
		byNode[s.node] = append(byNode[s.node], s)
	}
	for i, t := range targets {
		if len(byNode[i]) == 0 {
			continue
		}
		f := &feeder{r: r, node: i, c: t.c, strms: byNode[i], wake: make(chan struct{}, 1), failSince: -1}
		// Every stream gets the same share of the load (and was given the
		// same number of transactions): a node with three bank senders
		// takes more than one with two.
		f.share = float64(len(byNode[i])) / float64(len(r.book.streams))
		f.pace = pacer{rate: r.rate * f.share, start: loadStart}
		r.feeders = append(r.feeders, f)
	}

	followCtx, stopFollow := context.WithCancel(ctx)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.follow.loop(followCtx) }()
	var loads sync.WaitGroup
	for _, f := range r.feeders {
		loads.Add(1)
		go func() { defer loads.Done(); f.loop(loadCtx) }()
	}
	progCtx, stopProg := context.WithCancel(context.Background())
	progDone := make(chan struct{})
	go func() { defer close(progDone); r.progress(progCtx) }()
	var watchWG sync.WaitGroup
	if lnet != nil {
		watchWG.Add(1)
		go func() { defer watchWG.Done(); r.watch(followCtx, lnet) }()
	}

	// CPU use over the window: the load generator's own, and the own
	// network's validators'.
	var cpu0, cpu1 time.Duration
	var nodes0, nodes1 []time.Duration
	nodesOK := lnet != nil
	sample := func() (time.Duration, []time.Duration) {
		var nodes []time.Duration
		if lnet != nil && nodesOK {
			nodes, nodesOK = lnet.cpu()
		}
		return selfCPU(), nodes
	}
	sleepUntil := func(t time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(t - r.now()):
			return true
		}
	}
	measured := r.win
	interrupted, early := false, false
	if sleepUntil(r.win.start) {
		cpu0, nodes0 = sample()
		if sleepUntil(r.win.end) {
			cpu1, nodes1 = sample()
		}
	}
	if ctx.Err() != nil {
		interrupted = true
		if end := r.now(); end < r.win.start {
			early = true
		} else if end < r.win.end {
			measured.end = end // report the part of the window that ran
			cpu1, nodes1 = sample()
		}
	}

	// Cool-down: the load goes on until the window's accepted
	// transactions have committed (or stop committing).
	if !interrupted {
		r.settle(ctx, cooldownMax, func() bool {
			return r.cnt.winInFlight.Load() == 0 && r.follow.winResolved.Load() >= r.cnt.winAccepted.Load()
		}, r.follow.winResolved.Load)
	}
	stopLoad()
	loads.Wait()
	r.draining.Store(true)

	// Drain: the accepted transactions commit, or stop committing.
	if ctx.Err() == nil {
		r.settle(ctx, drainMax, func() bool {
			return r.follow.committed.Load() >= r.cnt.accepted.Load()
		}, r.follow.committed.Load)
	}
	time.Sleep(2 * o.Poll) // a last look at the blocks
	stopFollow()
	wg.Wait()
	stopProg()
	<-progDone
	watchWG.Wait()

	if early {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return nil, cause
		}
		return nil, ErrInterrupted
	}
	rep := r.report(measured, cpu1-cpu0)
	if nodesOK && len(nodes1) == len(nodes0) {
		var sum time.Duration
		for i := range nodes1 {
			d := nodes1[i] - nodes0[i]
			rep.NodeCPU = append(rep.NodeCPU, round3(d.Seconds()))
			sum += d
		}
		s := round3(sum.Seconds())
		rep.NodesCPU = &s
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return rep, cause // the run failed
	}
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, ErrInterrupted
	}
	rep.Lost, rep.Dropped, rep.PendingAtEnd, rep.LostChecked = r.checkLost(context.Background(), targets)
	return rep, nil
}

// settle waits until done, or ctx ends, or limit passes, or progress
// stops growing for the idle wait.
func (r *run) settle(ctx context.Context, limit time.Duration, done func() bool, progress func() int64) {
	deadline := r.now() + limit
	last, since := progress(), r.now()
	for r.now() < deadline && ctx.Err() == nil && !done() {
		if p := progress(); p != last {
			last, since = p, r.now()
		} else if r.now()-since > r.o.idle {
			return
		}
		time.Sleep(tick)
	}
}

// watch fails the run if a validator of the own network exits.
func (r *run) watch(ctx context.Context, n *localNet) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := n.exited(); err != nil {
			r.fail(err)
			return
		}
	}
}

// report builds the report from the run's counters.
func (r *run) report(measured window, loadgenCPU time.Duration) *Report {
	secs := measured.seconds()
	per := func(n int64) float64 {
		if secs <= 0 {
			return 0
		}
		return round3(float64(n) / secs)
	}
	f := r.follow
	f.mu.Lock()
	samples := slices.Clone(f.samples)
	f.mu.Unlock()
	rep := &Report{
		OfferedTPS:     per(r.cnt.winSent.Load()),
		CommittedTPS:   per(f.winCommit.Load()),
		Latency:        summarize(samples),
		DurationS:      round3(secs),
		Blocks:         int(f.blocks.Load()),
		AcceptedTPS:    per(r.cnt.winAccepted.Load()),
		Mode:           "closed",
		Rate:           r.rate,
		WarmupS:        round3(r.o.Warmup.Seconds()),
		Submitted:      r.cnt.winSent.Load(),
		Accepted:       r.cnt.winAccepted.Load(),
		RefusedBusy:    r.cnt.winBusy.Load(),
		Rejected:       r.cnt.winRejected.Load(),
		RequestErrors:  r.cnt.winErrors.Load(),
		Committed:      f.winCommit.Load(),
		LatencySamples: len(samples),
		PollMS:         ms(r.o.Poll),
		LoadgenCPU:     round3(loadgenCPU.Seconds()),
		Cores:          runtime.NumCPU(),
		Generated:      r.book.len(),
		Foreign:        f.foreign.Load(),
		Height:         f.height.Load(),
	}
	if r.rate > 0 {
		rep.Mode = "open"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.exhaustAt >= 0 && r.exhaustAt < r.win.end {
		rep.Exhausted = true
	}
	if r.firstErr != nil {
		rep.FirstError = r.firstErr.Error()
	}
	return rep
}
