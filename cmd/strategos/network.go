package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/daemon"
	"github.com/strategos/strategos/internal/testnet"
)

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newInitCmd() *cobra.Command {
	var o config.InitOptions
	var hosts string
	cmd := &cobra.Command{
		Use:   "init --nodes N --out DIR",
		Short: "Write the configuration of a network: one home per validator, and demo account keys",
		Long: `init writes DIR/node<i>/ (config.json, genesis.json, validator.key) for each
validator and DIR/keys/account0..9.key, demo accounts funded in genesis. Node i
listens for peers on host i (default 127.0.0.1) port Q+i, serves its HTTP API on
127.0.0.1:P+i and its CometBFT-compatible RPC on 127.0.0.1:R+i; all are in its
config.json, which you may edit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hosts != "" {
				o.Hosts = strings.Split(hosts, ",")
			}
			if err := config.Init(o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote a network of %d validators to %s\n", o.Nodes, o.Out)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 4, "number of validators")
	f.StringVar(&o.Out, "out", "", "output directory (required)")
	f.StringVar(&hosts, "hosts", "", "comma-separated host of each validator (default 127.0.0.1 for all)")
	f.IntVar(&o.APIPort, "api-port", 8080, "node i serves its API on 127.0.0.1:P+i")
	f.IntVar(&o.P2PPort, "p2p-port", 26600, "node i listens for peers on port Q+i")
	f.IntVar(&o.RPCPort, "rpc-port", config.DefaultRPCPort, "node i serves its CometBFT-compatible RPC on 127.0.0.1:R+i")
	f.StringVar(&o.App, "app", "bank", "application: bank, kv or abci")
	f.StringVar(&o.ABCI, "abci", "", "abci app: validator i's application is at tcp://HOST:P+i (given tcp://HOST:P) or unix:///PATH.i")
	cmd.MarkFlagRequired("out")
	return cmd
}

func newNodeCmd() *cobra.Command {
	var home, behavior, level, signLog string
	var stateSync bool
	cmd := &cobra.Command{
		Use:   "node --home DIR",
		Short: "Run one validator until SIGINT or SIGTERM",
		Long: `node runs the validator whose home directory init wrote. Killed and started
again with the same home, it recovers from its store, catches up with its
peers, and never signs anything that contradicts what it signed before.
With --state-sync on a home whose data is empty, it first restores a recent
snapshot from its peers, checked against a commit certificate, and joins
at that height (docs/nodes.md, "State sync").

Behaviours: ` + strings.Join(byzantine.Names(), ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := config.Load(home)
			if err != nil {
				return err
			}
			if level == "" {
				level = h.Node.LogLevel
			}
			lvl, err := daemon.ParseLevel(level)
			if err != nil {
				return err
			}
			if !byzantine.Valid(behavior) {
				return fmt.Errorf("unknown behaviour %q (known: %s)", behavior, strings.Join(byzantine.Names(), ", "))
			}
			opts := daemon.Options{Behavior: behavior, Logger: daemon.NewLogger(cmd.ErrOrStderr(), lvl)}
			if signLog != "" {
				f, err := os.OpenFile(signLog, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err != nil {
					return err
				}
				defer f.Close()
				opts.SignLog = f
			}
			daemon.TuneGC()
			ctx, stop := signalContext()
			defer stop()
			if stateSync {
				if err := daemon.StateSync(ctx, h, opts); err != nil {
					return err
				}
			}
			v, err := daemon.Open(h, opts)
			if err != nil {
				return err
			}
			return daemon.Run(ctx, v, h, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&home, "home", "", "the validator's home directory (required)")
	f.StringVar(&behavior, "behavior", byzantine.Honest, "run a Byzantine behaviour instead of the protocol")
	f.BoolVar(&stateSync, "state-sync", false, "on a home whose data is empty: start from a peer's snapshot instead of replaying the chain")
	f.StringVar(&level, "log-level", "", "debug, info, warn or error (default: the config's log_level)")
	f.StringVar(&signLog, "sign-log", "", "append a line per signed vote, timeout and proposal to this file (crash audits)")
	f.MarkHidden("sign-log")
	cmd.MarkFlagRequired("home")
	return cmd
}

func newTestnetCmd() *cobra.Command {
	var o testnet.Options
	var level string
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Run a whole local network of validators on 127.0.0.1 until SIGINT or SIGTERM",
		Long: `testnet starts N validators on loopback, with real TCP between them and real
storage, writes DIR/testnet.json once every API answers, and shows a live
status. Ctrl-C stops every node cleanly; starting again with the same --home
resumes from disk. The K highest validators run --behavior.

Behaviours: ` + strings.Join(byzantine.Names(), ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lvl, err := daemon.ParseLevel(level)
			if err != nil {
				return err
			}
			o.LogLevel = lvl
			o.Out = cmd.OutOrStdout()
			if f, ok := o.Out.(*os.File); ok {
				if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
					o.Terminal = true
				}
			}
			ctx, stop := signalContext()
			defer stop()
			daemon.TuneGC()
			return testnet.Run(ctx, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 4, "number of validators")
	f.IntVar(&o.Byzantine, "byzantine", 0, "how many validators (the highest indices) misbehave")
	f.StringVar(&o.Behavior, "behavior", "equivocate", "behaviour of the Byzantine validators")
	f.StringVar(&o.Home, "home", "", "where keys, genesis, data and the manifest go (default: a new temp dir)")
	f.IntVar(&o.APIPort, "api-port", 8080, "node i serves its HTTP API on 127.0.0.1:P+i")
	f.IntVar(&o.P2PPort, "p2p-port", 26600, "node i listens for its peers on 127.0.0.1:Q+i")
	f.IntVar(&o.RPCPort, "rpc-port", config.DefaultRPCPort, "node i serves its CometBFT-compatible RPC on 127.0.0.1:R+i")
	f.StringVar(&o.App, "app", "bank", "application: bank, kv or abci")
	f.StringVar(&o.ABCI, "abci", "", "abci app: validator i's application is at tcp://HOST:P+i (given tcp://HOST:P)")
	f.StringVar(&level, "log-level", "info", "log level of the nodes' logs (DIR/node<i>/node.log)")
	return cmd
}
