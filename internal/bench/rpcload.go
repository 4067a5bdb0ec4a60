package bench

// The --rpc mode: load for any CometBFT-compatible JSON-RPC endpoint
// (CometBFT v0.38 itself, or a Strategos node's RPC), so that one tool
// measures both. See the package comment for the shared rules (warm-up,
// window, cool-down, drain) and rpcRun for what differs.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The RPC load's shape.
const (
	// DefaultWindow is the default bound on transactions submitted and not
	// yet seen committed (Options.Window).
	DefaultWindow = 20_000

	rpcBatch   = 10 // broadcast_tx_async requests per JSON-RPC batch
	rpcSenders = 16 // batches in flight at once per target
	rpcTxSize  = kvTxSize

	// rpcExpire is how long a submitted transaction is waited for: one
	// not seen committed by then (the application refused it in CheckTx
	// after broadcast_tx_async answered, or the mempool evicted it) is
	// given up, counted as expired, and frees its place in the window.
	rpcExpire = 30 * time.Second

	rpcMaxAnswer = 256 << 20 // bytes of one answer read at most (a block)
)

// checkRPC validates the options of an RPC run and fills defaults.
func (o *Options) checkRPC() error {
	switch {
	case len(o.Targets) > 0:
		return errors.New("bench: --rpc and --target cannot go together")
	case o.App != "" && o.App != "rpc":
		return errors.New("bench: --app cannot go with --rpc: the endpoints' application takes kv transactions key=value")
	case o.Byzantine != 0 || o.Behavior != "" && o.Behavior != "honest":
		return errors.New("bench: --byzantine and --behavior are for its own network; they cannot go with --rpc")
	case o.KeysDir != "":
		return errors.New("bench: --keys cannot go with --rpc")
	case o.Window < 0 || o.Window > 0 && o.Window < rpcBatch:
		return fmt.Errorf("bench: --window must be at least %d (one batch), got %d", rpcBatch, o.Window)
	}
	for _, u := range o.RPC {
		if _, err := rpcURL(u); err != nil {
			return err
		}
	}
	o.App, o.Behavior = "rpc", "honest"
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.expire == 0 {
		o.expire = rpcExpire
	}
	return nil
}

// rpcURL normalizes an endpoint: http:// when the scheme is missing, and
// tcp:// (as CometBFT's config writes laddr) read as http://.
func rpcURL(s string) (string, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	switch {
	case strings.HasPrefix(s, "tcp://"):
		s = "http://" + strings.TrimPrefix(s, "tcp://")
	case !strings.Contains(s, "://"):
		s = "http://" + s
	}
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") || len(s) <= len("https://") {
		return "", fmt.Errorf("bench: --rpc %q is not an http:// URL", s)
	}
	return s, nil
}

// rpcRun is one run of the RPC load. Unlike a run over the API it
// generates its transactions as it goes (kv bodies <runid>-<n>=<filler>,
// about 200 bytes, unique per run), offers them by broadcast_tx_async in
// JSON-RPC batches of rpcBatch, rpcSenders batches in flight per target,
// and keeps every submitted transaction not yet seen committed in a map
// from its SHA-256 to its submit time. The map is the load's bound: no
// batch goes out while it holds Window transactions (so the closed loop
// runs at the network's pace, and memory is bounded in the open loop
// too). An answer with an error takes the transaction out at once;
// broadcast_tx_async does not wait for CheckTx, so a transaction that
// the application refuses later is taken out after rpcExpire. Commits are
// followed on the first target: status for the latest height, then block
// for every height up to it, each transaction of a block hashed and
// looked up in the map. The window, cool-down and drain are those of the
// API run.
type rpcRun struct {
	o       *Options
	start   time.Time
	win     window
	urls    []string
	hc      *http.Client
	runID   string
	next    atomic.Int64 // the number of the next transaction
	cnt     counters
	pace    pacer // open loop; guarded by mu
	expired atomic.Int64
	drain   atomic.Bool // the load has stopped

	mu    sync.Mutex
	room  *sync.Cond                 // signalled when the map shrinks or the run ends
	out   map[[32]byte]time.Duration // submitted, not seen committed: submit run time
	winIn int                        // ... of which submitted during the window
	done  bool                       // the load stopped; nothing waits for room

	// The follower's.
	height     atomic.Int64
	committed  atomic.Int64 // the run's transactions seen committed
	winCommit  atomic.Int64 // ... seen during the window
	winDone    atomic.Int64 // ... submitted during the window
	blocks     atomic.Int64 // blocks seen during the window
	foreign    atomic.Int64
	lastCommit atomic.Int64
	smu        sync.Mutex
	samples    []time.Duration // latencies of the transactions submitted in the window
	all, inWin hist

	emu      sync.Mutex
	firstErr error
	cancel   context.CancelCauseFunc
}

func (r *rpcRun) now() time.Duration { return time.Since(r.start) }

func (r *rpcRun) noteError(err error) {
	r.emu.Lock()
	defer r.emu.Unlock()
	if r.firstErr == nil {
		r.firstErr = err
	}
}

func (r *rpcRun) fail(err error) {
	r.noteError(err)
	r.cancel(err)
}

// runRPC measures the endpoints of o.RPC.
func runRPC(ctx context.Context, o *Options) (*Report, error) {
	r := &rpcRun{o: o, out: make(map[[32]byte]time.Duration, o.Window)}
	r.room = sync.NewCond(&r.mu)
	for _, u := range o.RPC {
		u, _ = rpcURL(u)
		r.urls = append(r.urls, u)
	}
	var id [4]byte
	rand.Read(id[:])
	r.runID = "r" + hex.EncodeToString(id[:])
	r.hc = &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 2 * rpcSenders, IdleConnTimeout: time.Minute, DisableCompression: true,
			ResponseHeaderTimeout: time.Minute,
		},
	}
	defer r.hc.CloseIdleConnections()

	// Reach every target: one network, and how many validators it has.
	var network string
	var height int64
	for i, u := range r.urls {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := r.status(sctx, u)
		cancel()
		if err != nil {
			return nil, err
		}
		if i == 0 {
			network, height = st.network, st.height
		} else if st.network != network {
			return nil, fmt.Errorf("bench: %s is on chain %s, %s on %s: one network at a time", u, st.network, r.urls[0], network)
		}
	}
	nodes := 0
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if n, err := r.validators(vctx, r.urls[0]); err == nil {
		nodes = n
	} else {
		fmt.Fprintf(o.Progress, "bench: %v; the report says 0 validators\n", err)
	}
	cancel()
	fmt.Fprintf(o.Progress, "bench: %d RPC endpoints of chain %s (%d validators) at height %d; transactions %s-<n>=..., %d bytes, %d per batch, at most %d waiting\n",
		len(r.urls), network, nodes, height, r.runID, rpcTxSize, rpcBatch, o.Window)
	fmt.Fprintf(o.Progress, "bench: load for %v of warm-up, then the %v window\n", o.Warmup, o.Duration)

	r.start = time.Now()
	rep, err := r.measure(ctx, height+1)
	if rep != nil {
		rep.Nodes = nodes
		rep.App = "rpc"
		rep.Behavior = o.Behavior
		rep.Targets = slices.Clone(r.urls)
		rep.RPCWindow = o.Window
	}
	return rep, err
}

// measure runs the load and builds the report; the follower starts at
// height from.
func (r *rpcRun) measure(ctx context.Context, from int64) (*Report, error) {
	o := r.o
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	loadStart := r.now()
	r.win = window{start: loadStart + o.Warmup, end: loadStart + o.Warmup + o.Duration}
	r.pace = pacer{rate: o.Rate, start: loadStart}

	followCtx, stopFollow := context.WithCancel(ctx)
	loadCtx, stopLoad := context.WithCancel(ctx)
	stopRoom := context.AfterFunc(loadCtx, func() {
		r.mu.Lock()
		r.done = true
		r.mu.Unlock()
		r.room.Broadcast()
	})
	defer stopRoom()
	var follow, loads sync.WaitGroup
	follow.Add(1)
	go func() { defer follow.Done(); r.follow(followCtx, from) }()
	for i := range len(r.urls) * rpcSenders {
		loads.Add(1)
		go func() { defer loads.Done(); r.sender(loadCtx, ctx, r.urls[i%len(r.urls)]) }()
	}
	progCtx, stopProg := context.WithCancel(context.Background())
	progDone := make(chan struct{})
	go func() { defer close(progDone); r.progress(progCtx) }()

	sleepUntil := func(t time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(t - r.now()):
			return true
		}
	}
	measured := r.win
	var cpu0, cpu1 time.Duration
	interrupted, early := false, false
	if sleepUntil(r.win.start) {
		cpu0 = selfCPU()
		if sleepUntil(r.win.end) {
			cpu1 = selfCPU()
		}
	}
	if ctx.Err() != nil {
		interrupted = true
		if end := r.now(); end < r.win.start {
			early = true
		} else if end < r.win.end {
			measured.end = end
			cpu1 = selfCPU()
		}
	}
	// Cool-down: the load goes on until the window's transactions are
	// resolved (seen committed, refused or expired), or stop committing
	// (a mempool may drop an accepted transaction without a word: CometBFT
	// does when it is full by the time CheckTx answers); drain: the load
	// stops, and the rest commit or stop committing.
	if !interrupted {
		r.settle(ctx, cooldownMax, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.winIn == 0
		}, r.winDone.Load)
	}
	stopLoad()
	loads.Wait()
	r.drain.Store(true)
	if ctx.Err() == nil {
		r.settle(ctx, drainMax, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.out) == 0
		}, r.committed.Load)
	}
	stopFollow()
	follow.Wait()
	stopProg()
	<-progDone

	if early {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			return nil, cause
		}
		return nil, ErrInterrupted
	}
	rep := r.report(measured, cpu1-cpu0)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return rep, cause
	}
	if ctx.Err() != nil {
		rep.Interrupted = true
		return rep, ErrInterrupted
	}
	return rep, nil
}

// settle waits until done, or ctx ends, or limit passes, or progress
// stops growing for the idle wait.
func (r *rpcRun) settle(ctx context.Context, limit time.Duration, done func() bool, progress func() int64) {
	deadline := r.now() + limit
	last, since := progress(), r.now()
	for r.now() < deadline && ctx.Err() == nil && !done() {
		if c := progress(); c != last {
			last, since = c, r.now()
		} else if r.now()-since > r.o.idle {
			return
		}
		time.Sleep(tick)
	}
}

// take waits until a batch may go: the open loop's pacer owes one, and
// the window has room for it. It reserves the room by booking the
// batch's transactions as submitted now, and returns their bodies, or
// nil when the load ends.
func (r *rpcRun) take(ctx context.Context) ([][]byte, [][32]byte, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if r.done || ctx.Err() != nil {
			return nil, nil, 0
		}
		if r.o.Rate > 0 {
			if now := r.now(); r.pace.due(now) < rpcBatch {
				// The time the pacer owes a full batch, then look again.
				at := r.pace.start + time.Duration(float64(r.pace.sent+rpcBatch)/r.o.Rate*float64(time.Second))
				r.mu.Unlock()
				select {
				case <-ctx.Done():
				case <-time.After(max(at-now, time.Millisecond)):
				}
				r.mu.Lock()
				continue
			}
		}
		if len(r.out)+rpcBatch > r.o.Window {
			r.room.Wait()
			continue
		}
		break
	}
	if r.o.Rate > 0 {
		r.pace.took(rpcBatch)
	}
	now := r.now()
	txs := make([][]byte, rpcBatch)
	hashes := make([][32]byte, rpcBatch)
	first := r.next.Add(rpcBatch) - rpcBatch
	for i := range txs {
		txs[i] = r.tx(first + int64(i))
		hashes[i] = sha256.Sum256(txs[i])
		r.out[hashes[i]] = now
	}
	if r.win.contains(now) {
		r.winIn += rpcBatch
	}
	return txs, hashes, now
}

// tx is transaction n of the run: <runid>-<n>=<filler>, rpcTxSize bytes.
func (r *rpcRun) tx(n int64) []byte {
	b := make([]byte, 0, rpcTxSize)
	b = append(b, r.runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, '=')
	for j := 0; len(b) < rpcTxSize; j++ {
		b = append(b, "0123456789abcdef"[(int(n)+j)&15])
	}
	return b
}

// resolve takes transaction h out of the map, if it is there, and
// returns its submit time.
func (r *rpcRun) resolve(h [32]byte) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sent, ok := r.out[h]
	if !ok {
		return 0, false
	}
	delete(r.out, h)
	if r.win.contains(sent) {
		r.winIn--
	}
	r.room.Signal()
	return sent, true
}

// sender offers batches to one endpoint until load ends. A batch sent
// is waited for until ctx (the run's) ends: one cut off may have been
// taken, and its transactions must stay booked.
func (r *rpcRun) sender(load, ctx context.Context, url string) {
	failSince := time.Duration(-1)
	for {
		txs, hashes, sent := r.take(load)
		if txs == nil {
			return
		}
		inWin := r.win.contains(sent)
		add := func(all, win *atomic.Int64, n int) {
			all.Add(int64(n))
			if inWin {
				win.Add(int64(n))
			}
		}
		add(&r.cnt.sent, &r.cnt.winSent, len(txs))
		answers, err := r.broadcast(ctx, url, txs)
		if err != nil {
			for _, h := range hashes {
				r.resolve(h)
			}
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errRPCBusy) {
				add(&r.cnt.busy, &r.cnt.winBusy, len(txs))
				r.pause(load, busyBackoff)
				continue
			}
			add(&r.cnt.errors, &r.cnt.winErrors, len(txs))
			r.noteError(err)
			now := r.now()
			if failSince < 0 {
				failSince = now
			} else if now-failSince > unreachableAfter {
				r.fail(fmt.Errorf("bench: %s failed every batch for %v: %w", url, unreachableAfter, err))
				return
			}
			r.pause(load, tick)
			continue
		}
		failSince = -1
		busy := 0
		for i, a := range answers {
			switch {
			case a == nil:
				add(&r.cnt.accepted, &r.cnt.winAccepted, 1)
				continue
			case isBusy(a):
				busy++
				add(&r.cnt.busy, &r.cnt.winBusy, 1)
			default:
				add(&r.cnt.rejected, &r.cnt.winRejected, 1)
				r.noteError(fmt.Errorf("bench: %s refused a transaction: %v", url, a))
			}
			r.resolve(hashes[i])
		}
		if busy == len(answers) && r.o.Rate == 0 {
			r.pause(load, busyBackoff) // a full mempool: let it drain a little
		}
	}
}

func (r *rpcRun) pause(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// errRPCBusy is an endpoint that answered a whole batch 429 or 503.
var errRPCBusy = errors.New("bench: endpoint busy")

// progress shows a status line about once a second until ctx ends.
func (r *rpcRun) progress(ctx context.Context) {
	out := r.o.Progress
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSent, lastAcc, lastCom int64
	last := r.now()
	drew := false
	for {
		select {
		case <-ctx.Done():
			if drew && r.o.Terminal {
				fmt.Fprintln(out)
			}
			return
		case <-t.C:
		}
		now := r.now()
		dt := (now - last).Seconds()
		sent, acc, com := r.cnt.sent.Load(), r.cnt.accepted.Load(), r.committed.Load()
		r.mu.Lock()
		waiting := len(r.out)
		r.mu.Unlock()
		r.smu.Lock()
		p50 := r.all.percentile(50)
		if r.inWin.n > 0 {
			p50 = r.inWin.percentile(50)
		}
		r.smu.Unlock()
		phase := "warm-up"
		switch {
		case r.drain.Load():
			phase = "drain"
		case now >= r.win.end:
			phase = "cool-down"
		case now >= r.win.start:
			phase = "measuring"
		}
		line := fmt.Sprintf("%5.0fs %-9s offered %6.0f/s accepted %6.0f/s committed %6.0f/s height %d p50 %.0fms waiting %d",
			(now - r.win.start + r.o.Warmup).Seconds(), phase, float64(sent-lastSent)/dt, float64(acc-lastAcc)/dt,
			float64(com-lastCom)/dt, r.height.Load(), ms(p50), waiting)
		lastSent, lastAcc, lastCom, last = sent, acc, com, now
		if r.o.Terminal {
			fmt.Fprintf(out, "\r\x1b[2K%s", line)
		} else {
			fmt.Fprintln(out, line)
		}
		drew = true
	}
}

// report builds the report from the run's counts.
func (r *rpcRun) report(measured window, loadgenCPU time.Duration) *Report {
	secs := measured.seconds()
	per := func(n int64) float64 {
		if secs <= 0 {
			return 0
		}
		return round3(float64(n) / secs)
	}
	r.smu.Lock()
	samples := slices.Clone(r.samples)
	r.smu.Unlock()
	r.mu.Lock()
	pending := len(r.out)
	r.mu.Unlock()
	rep := &Report{
		OfferedTPS:     per(r.cnt.winSent.Load()),
		CommittedTPS:   per(r.winCommit.Load()),
		Latency:        summarize(samples),
		DurationS:      round3(secs),
		Blocks:         int(r.blocks.Load()),
		AcceptedTPS:    per(r.cnt.winAccepted.Load()),
		Mode:           "closed",
		Rate:           r.o.Rate,
		WarmupS:        round3(r.o.Warmup.Seconds()),
		Submitted:      r.cnt.winSent.Load(),
		Accepted:       r.cnt.winAccepted.Load(),
		RefusedBusy:    r.cnt.winBusy.Load(),
		Rejected:       r.cnt.winRejected.Load(),
		RequestErrors:  r.cnt.winErrors.Load(),
		Committed:      r.winCommit.Load(),
		LatencySamples: len(samples),
		PendingAtEnd:   int64(pending),
		Expired:        r.expired.Load(),
		PollMS:         ms(r.o.Poll),
		LoadgenCPU:     round3(loadgenCPU.Seconds()),
		Cores:          runtime.NumCPU(),
		Generated:      int(r.next.Load()),
		Foreign:        r.foreign.Load(),
		Height:         uint64(r.height.Load()),
	}
	if r.o.Rate > 0 {
		rep.Mode = "open"
	}
	r.emu.Lock()
	defer r.emu.Unlock()
	if r.firstErr != nil {
		rep.FirstError = r.firstErr.Error()
	}
	return rep
}
