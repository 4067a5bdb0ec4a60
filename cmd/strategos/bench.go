package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/strategos/strategos/internal/bench"
	"github.com/strategos/strategos/internal/config"
)

func newBenchCmd() *cobra.Command {
	var o bench.Options
	var targets, rpcs string
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure committed transactions per second and submit-to-commit latency",
		Long: `bench offers load to a network and reports the transactions it commits per
second and their submit-to-commit latency (p50, p95, p99) over a steady window,
with a progress display on stderr while it runs.

Without --target it starts its own network: --nodes validators of --app on
127.0.0.1 (API ports P.., peer ports Q.., as testnet), each a
` + "`strategos node`" + ` child process with real TCP and storage, in a temporary
directory removed at the end. With --target it loads running nodes instead;
for bank it then needs --keys DIR with funded key files (account0.key, ...,
such as a testnet's keys/), whose next nonces it reads from the nodes. Nodes
that run an ABCI application (testnet --app abci) get the kv load: key=value
transactions, which CometBFT's example kvstore takes.

--byzantine K (own network only) makes the K highest validators run
--behavior instead of the protocol (as testnet does; default equivocate),
and sends, polls and follows only the honest ones, validators 0..n-K-1: the
report is what clients of the honest validators see under those faults. K
must be below --nodes; above f = floor((n-1)/3) bench warns, since the
network may then not commit at all. Rounds that a faulty validator leads
time out, so the cool-down and drain wait up to 10s without a commit (3s
otherwise). Behaviours: ` + strings.Join(bench.Behaviors(), ", ") + `.

Every transaction is generated, and signed, before the load starts. It goes
in batches (POST /v1/txs/batch) spread over the nodes; a bank sender always
to the same node, so its nonces arrive in order. With --rate the load is
open-loop at that rate; without, as fast as the network accepts (a few
batches in flight per node, at most about two seconds of commits waiting).
Lines refused as busy are counted and offered again later (a bank sender
from its refused nonce on; kv the busy tail of a batch).

A transaction's latency runs from the sending of its accepted submission to
the first poll of GET /v1/blocks (every --poll) on the first node that shows
its block. The window follows a warm-up; afterwards the load goes on until
the window's transactions commit, then a drain looks up every accepted
transaction that did not commit: "lost" counts those unknown to the node
that accepted them.

--rpc URL,... loads CometBFT-compatible JSON-RPC endpoints instead: CometBFT
v0.38 itself (any application that takes key=value transactions, such as its
kvstore), or a node's own RPC. Transactions <runid>-<n>=<filler> (about 200
bytes, unique per run) go by broadcast_tx_async in JSON-RPC batches of 10,
spread over the endpoints, at --rate (open loop) or as fast as they are
taken; either way at most --window of them submitted and not yet seen
committed (one that is not seen committed in 30 s is given up). Commits are
followed on the first endpoint: status for the latest height, then block for
each height (every --poll); a transaction's latency runs from the sending of
its batch to the poll that shows its block. The report's app is "rpc".

--json prints one JSON object: nodes, app, offered_tps, committed_tps,
latency_ms {p50, p95, p99, max, mean}, duration_s (the window), blocks,
byzantine (K) and behavior ("honest" when K is 0), and
the counts, the load generator's CPU seconds (loadgen_cpu_s) and the
validators' (nodes_cpu_s, own network only).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if rpcs != "" {
				for _, name := range []string{"target", "nodes", "app", "keys", "api-port", "p2p-port", "rpc-port", "pprof-port", "byzantine", "behavior"} {
					if f.Changed(name) {
						return fmt.Errorf("bench: --%s cannot go with --rpc", name)
					}
				}
				for _, u := range strings.Split(rpcs, ",") {
					if u = strings.TrimSpace(u); u != "" {
						o.RPC = append(o.RPC, u)
					}
				}
				if len(o.RPC) == 0 {
					return errors.New("bench: --rpc names no endpoint")
				}
				o.App, o.Behavior = "", "" // the flags' defaults are for the other modes
			} else if f.Changed("window") {
				return errors.New("bench: --window is for --rpc")
			} else if targets != "" {
				for _, name := range []string{"nodes", "api-port", "p2p-port", "rpc-port", "pprof-port", "byzantine", "behavior"} {
					if f.Changed(name) {
						return fmt.Errorf("bench: --%s is for its own network; it cannot go with --target", name)
					}
				}
				for _, t := range strings.Split(targets, ",") {
					if t = strings.TrimSpace(t); t != "" {
						o.Targets = append(o.Targets, t)
					}
				}
				if len(o.Targets) == 0 {
					return errors.New("bench: --target names no node")
				}
				if !f.Changed("app") {
					o.App = "" // the targets' own
				}
				o.Behavior = "" // the flag's default is for --byzantine K > 0
			} else {
				if o.KeysDir != "" {
					return errors.New("bench: --keys is for --target; its own network uses its own keys")
				}
				if o.Byzantine == 0 && !f.Changed("behavior") {
					o.Behavior = "" // the flag's default is for K > 0; Check refuses another without it
				}
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("bench: cannot find the strategos binary to run validators: %w", err)
				}
				o.Binary = exe
			}
			if len(o.RPC) == 0 {
				o.Window = 0 // the flag's default is for --rpc
			}
			if err := o.Check(); err != nil {
				return err
			}
			o.Progress = cmd.ErrOrStderr()
			if st, ok := o.Progress.(*os.File); ok {
				if fi, err := st.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
					o.Terminal = true
				}
			}
			ctx, stop := signalContext()
			defer stop()
			rep, err := bench.Run(ctx, o)
			if rep != nil && (err == nil || errors.Is(err, bench.ErrInterrupted)) {
				if jsonOut {
					if perr := printJSON(cmd.OutOrStdout(), rep); perr != nil {
						return perr
					}
				} else if perr := rep.WriteText(cmd.OutOrStdout()); perr != nil {
					return perr
				}
			}
			if errors.Is(err, bench.ErrInterrupted) {
				if rep == nil {
					return errors.New("bench: interrupted before the measuring window started")
				}
				return errors.New("bench: interrupted; the report covers the part of the window that ran")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Nodes, "nodes", 4, "validators of its own network")
	f.StringVar(&o.App, "app", "bank", "application: bank or kv (with --target: the targets' own, which may be abci)")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "length of the measuring window")
	f.DurationVar(&o.Warmup, "warmup", 0, "load before the window (default a quarter of --duration, 1s to 5s)")
	f.Float64Var(&o.Rate, "rate", 0, "offered load in tx/s, open loop (default: as fast as the network accepts)")
	f.IntVar(&o.APIPort, "api-port", 8080, "own network: node i serves its HTTP API on 127.0.0.1:P+i")
	f.IntVar(&o.P2PPort, "p2p-port", 26600, "own network: node i listens for its peers on 127.0.0.1:Q+i")
	f.IntVar(&o.RPCPort, "rpc-port", config.DefaultRPCPort, "own network: node i serves its CometBFT-compatible RPC on 127.0.0.1:R+i")
	f.StringVar(&targets, "target", "", "comma-separated API URLs of running nodes to load instead")
	f.StringVar(&rpcs, "rpc", "", "comma-separated CometBFT-compatible JSON-RPC URLs to load instead (CometBFT, or a node's RPC)")
	f.IntVar(&o.Window, "window", bench.DefaultWindow, "with --rpc: transactions submitted and not yet seen committed, at most")
	f.StringVar(&o.KeysDir, "keys", "", "with --target and bank: directory of funded key files account0.key, ...")
	f.DurationVar(&o.Poll, "poll", bench.DefaultPoll, "interval between two polls of the committed blocks")
	f.IntVar(&o.Byzantine, "byzantine", 0, "own network: how many validators (the highest indices) misbehave; they get no load")
	f.StringVar(&o.Behavior, "behavior", bench.DefaultBehavior, "own network: behaviour of the Byzantine validators")
	f.Uint64Var(&o.RetainBlocks, "retain-blocks", 0, "own network: each node's retain_blocks, the committed blocks it keeps (0: all)")
	f.IntVar(&o.SnapshotInterval, "snapshot-interval", 0, "own network: each node's snapshot_interval, heights between state snapshots (0: the default, 100; -1: none)")
	f.IntVar(&o.PprofPort, "pprof-port", 0, "own network: node i serves Go's profiler on 127.0.0.1:N+i (0: off)")
	f.BoolVar(&jsonOut, "json", false, "print the report as one JSON object")
	return cmd
}
