// Package daemon runs one validator with its HTTP API and its
// CometBFT-compatible RPC: the process that `strategos node` starts, and
// each of the validators that `strategos testnet` runs side by side. It
// wires a node.Node to an api server and an rpc server, and when the
// context ends stops the servers first, then the node (whose store they
// read).
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/strategos/strategos/internal/api"
	"github.com/strategos/strategos/internal/app/apps"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/node"
	"github.com/strategos/strategos/internal/rpc"
)

// Validator is a node with its API and RPC listeners, ready to run.
type Validator struct {
	Node *node.Node
	API  net.Listener
	RPC  net.Listener // nil when the config has no rpc_listen
	rpc  *rpc.Server
	log  *slog.Logger
}

// ParseLevel maps a level name to a slog level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

// NewLogger returns a structured text logger at the given level.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Options are the optional parts of a validator.
type Options struct {
	Behavior string
	Logger   *slog.Logger
	SignLog  io.Writer

	resyncNotBefore time.Time // see Run
}

// Open builds the validator of a home directory and binds its API and
// RPC addresses, so that a port already in use fails before anything
// runs.
func Open(home *config.Home, o Options) (*Validator, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := node.New(node.Options{Home: home, Behavior: o.Behavior, Logger: log, SignLog: o.SignLog, App: apps.For(home, log.With("part", "app")),
		ResyncNotBefore: o.resyncNotBefore})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", home.Node.APIListen)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	v := &Validator{Node: n, API: ln, log: log}
	if home.Node.RPCListen != "" {
		if v.rpc, err = rpc.New(rpc.NodeBackend(n, home), rpc.Config{Logger: log.With("part", "rpc")}); err == nil {
			v.RPC, err = net.Listen("tcp", home.Node.RPCListen)
		}
		if err != nil {
			ln.Close()
			n.Close()
			return nil, fmt.Errorf("rpc: %w (rpc_listen in %s)", err, filepath.Join(home.Dir, config.ConfigFile))
		}
	}
	return v, nil
}

// GCPercent is the garbage collector's target a validator process runs
// with unless GOGC says otherwise: a validator's live heap is small
// beside the machine (its state tree and a few blocks), and it allocates
// fast at saturation, so collecting at 3x the live heap rather than 2x
// buys throughput for little memory (docs/performance.md).
const GCPercent = 200

// TuneGC sets GCPercent, unless the GOGC environment variable is set, for
// a process that runs validators.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}

// StateSync restores an empty home from its peers' snapshots (see
// node.StateSync) before Open, while the API address answers /livez 200
// and /readyz 503, so that an orchestrator neither kills the process nor
// sends it clients meanwhile.
func StateSync(ctx context.Context, home *config.Home, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return whileStarting(ctx, home, "state sync in progress", func() error {
		_, err := node.StateSync(ctx, home, apps.For(home, log.With("part", "app")), nil, log.With("node", home.Node.Index))
		return err
	})
}

// Run runs v, the validator Open built of home with o, until ctx is
// done. When its node stops because it fell too far behind to catch up
// by blocks (node.FarBehind), Run restores a peer's snapshot in its place
// (node.Resync), serving /livez 200 and /readyz 503 meanwhile, and opens
// and runs it again: the validator catches up without an operator. A
// jump that comes to nothing leaves the store as it was; the node then
// catches up by blocks, and tries again later.
func Run(ctx context.Context, v *Validator, home *config.Home, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o.Logger = log
	for {
		err := v.Run(ctx)
		var fb *node.FarBehind
		if !errors.As(err, &fb) || ctx.Err() != nil {
			return err
		}
		if err := resync(ctx, home, o, fb); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("no snapshot restored; catching up by blocks", "node", home.Node.Index, "err", err)
		}
		// Not again soon, even after a jump that landed: one that still
		// left the validator far behind (snapshots far apart) would only
		// repeat itself.
		o.resyncNotBefore = time.Now().Add(node.ResyncRetry)
		if v, err = Open(home, o); err != nil {
			return err
		}
	}
}

// resync is node.Resync while the API address answers as during state
// sync.
func resync(ctx context.Context, home *config.Home, o Options, fb *node.FarBehind) error {
	return whileStarting(ctx, home, "restoring a snapshot: the validator fell too far behind", func() error {
		_, err := node.Resync(ctx, home, apps.For(home, o.Logger.With("part", "app")), o.Logger.With("node", home.Node.Index), fb)
		return err
	})
}

// whileStarting runs f while the API address answers /livez 200 and
// /readyz 503 with why, and frees the address when f returns.
func whileStarting(ctx context.Context, home *config.Home, why string, f func() error) error {
	ln, err := net.Listen("tcp", home.Node.APIListen)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- api.Serve(sctx, ln, api.Starting(func() string { return why })) }()
	err = f()
	stop()
	<-served // the address is free again for Open
	return err
}

// Close releases what Open took, for a validator that will not Run.
func (v *Validator) Close() error {
	err := errors.Join(v.Node.Close(), v.API.Close())
	if v.RPC != nil {
		v.RPC.Close()
	}
	return err
}

// Run serves the API and the RPC and runs the node until ctx is done or
// any of them fails. The servers stop first, so that no request reads
// the node's store once it closes; then the node.
func (v *Validator) Run(ctx context.Context) error {
	srvCtx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	nodeCtx, stopNode := context.WithCancel(context.Background())
	defer stopNode()
	var servers []chan error
	serve := func(f func() error) {
		done := make(chan error, 1)
		servers = append(servers, done)
		go func() {
			done <- f()
			stopServers() // one stopping stops all
		}()
	}
	serve(func() error { return api.Serve(srvCtx, v.API, api.Handler(v.Node, v.log)) })
	if v.RPC != nil {
		serve(func() error { return v.rpc.Serve(srvCtx, v.RPC) })
	}
	nodeErr := make(chan error, 1)
	go func() {
		nodeErr <- v.Node.Run(nodeCtx)
		stopServers() // the node stopped by itself: nothing left to serve
	}()
	<-srvCtx.Done()
	var errs []error
	for _, done := range servers {
		errs = append(errs, <-done)
	}
	stopNode()
	errs = append(errs, <-nodeErr)
	return errors.Join(errs...)
}
