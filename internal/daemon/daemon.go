// Package daemon runs one validator with its HTTP API: the process that
// `strategos node` starts, and each of the validators that `strategos
// testnet` runs side by side. It wires a node.Node to an api server and
// stops both when the context ends.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/strategos/strategos/internal/api"
	"github.com/strategos/strategos/internal/app/apps"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/node"
)

// Validator is a node with its API listener, ready to run.
type Validator struct {
	Node *node.Node
	API  net.Listener
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
}

// Open builds the validator of a home directory and binds its API
// address, so that a port already in use fails before anything runs.
func Open(home *config.Home, o Options) (*Validator, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := node.New(node.Options{Home: home, Behavior: o.Behavior, Logger: log, SignLog: o.SignLog, App: apps.For(home, log.With("part", "app"))})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", home.Node.APIListen)
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("api: %w", err)
	}
	return &Validator{Node: n, API: ln, log: log}, nil
}

// Run serves the API and runs the node until ctx is done or either fails.
func (v *Validator) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	apiErr := make(chan error, 1)
	go func() {
		apiErr <- api.Serve(ctx, v.API, api.Handler(v.Node, v.log))
		cancel()
	}()
	err := v.Node.Run(ctx)
	cancel()
	return errors.Join(err, <-apiErr)
}
