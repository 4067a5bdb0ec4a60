// Package apps builds the application a validator's genesis and config
// name: the in-process bank and kv, or any application over ABCI. It is
// the one place that knows every application, so that the node knows
// none of them.
package apps

import (
	"fmt"
	"log/slog"

	"github.com/strategos/strategos/internal/abci"
	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/app/kv"
	"github.com/strategos/strategos/internal/config"
)

// Names are the applications a genesis may name.
var Names = []string{"bank", "kv", "abci"}

// For returns the constructor of the application of home, for
// node.Options.App; log (nil: discard) receives what an application
// client reports of its link.
func For(h *config.Home, log *slog.Logger) func(app.State) (app.Application, error) {
	return func(st app.State) (app.Application, error) {
		switch h.Genesis.App {
		case "bank":
			return bank.New(st, h.Genesis.ChainID), nil
		case "kv":
			return kv.New(st), nil
		case "abci":
			return newABCI(h, log)
		}
		return nil, fmt.Errorf("apps: unknown application %q in genesis (%v)", h.Genesis.App, Names)
	}
}

// newABCI returns a client of the validator's ABCI application, at the
// address its config names; the node's State is not used, since the
// application keeps its own.
func newABCI(h *config.Home, log *slog.Logger) (app.Application, error) {
	if h.Node.ABCI == "" {
		return nil, fmt.Errorf("apps: the genesis names the abci app, but %s has no abci address", config.ConfigFile)
	}
	vals, err := h.Genesis.ValidatorSet()
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	c, err := abci.New(h.Node.ABCI, vals, abci.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("apps: %w", err)
	}
	return c, nil
}
