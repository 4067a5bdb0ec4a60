// Package bench measures a Strategos network: it offers load, follows the
// committed blocks, and reports committed transactions per second and
// submit-to-commit latency over a steady window. It is the engine of
// `strategos bench` (see the project's contract).
//
// The network is either its own, started for the run (real validators as
// child processes of the strategos binary, `strategos node` on loopback
// with real TCP and storage, in a temporary directory removed at the end),
// or running nodes named by their API URLs. In its own network the K
// highest validators may run a Byzantine behaviour (Options.Byzantine,
// Options.Behavior); the run then sends to, polls and follows only the
// honest ones, 0 .. n-K-1.
//
// What it measures, and how:
//
//   - Every transaction is generated (and, for bank, signed) before the
//     load starts, so the window measures the network, not the signer.
//     kv transactions are about 200-byte `key=value` bodies with unique
//     keys; bank transactions are transfers of 1 unit among the funded
//     accounts, each sender with its own run of consecutive nonces and
//     pinned to one node, so that its nonces arrive in order.
//   - Transactions go in batches to POST /v1/txs/batch, spread over the
//     nodes. With a rate, the load is open-loop: every pacing tick sends
//     what the rate owes by then, whatever the network answered. Without a
//     rate it is closed-loop: at most a few batches in flight per node, at
//     most a bounded number of accepted transactions not yet committed
//     (about two seconds of the recent commit rate), and a short pause
//     for a node that just answered busy.
//   - A line refused as busy is counted as refused and offered again
//     later: for kv, the busy tail of a batch (a node takes a batch's
//     head and refuses the rest once its queue is full), so the prepared
//     load is not spent on refusals; a bank sender goes back to its
//     refused nonce, because the nonces after it cannot be admitted
//     without it. Offered counts every line sent, re-offers included.
//   - Commits are followed on one node by polling GET /v1/blocks every
//     poll interval (5 ms by default); a transaction's commit time is when
//     its block was first seen there, and its latency is that time minus
//     the time its accepted submission was sent. The poll interval bounds
//     the observation lag and is reported.
//   - The run is a warm-up, the window, and a cool-down during which the
//     load goes on until the window's accepted transactions have
//     committed. committed_tps counts the run's transactions whose commit
//     was seen during the window; latency covers the transactions sent
//     during the window; offered and accepted count the lines sent during
//     the window. After the load stops, a drain waits for the accepted
//     transactions to commit, and every one that did not is looked up on
//     the node that accepted it: "dropped" ones were rejected by the node
//     with a reason, "pending" ones are still waiting, "lost" ones are
//     unknown to it, which the contract forbids.
//   - The report carries the load generator's own CPU time during the
//     window (getrusage) and, for its own network, the validators' (from
//     /proc), so that what the generator costs the machine stays visible.
//
// With Options.RPC (`strategos bench --rpc URL,...`, rpcload.go) it loads
// CometBFT-compatible JSON-RPC endpoints instead of the API: CometBFT
// v0.38 itself with an application that takes `key=value` transactions
// (its kvstore), or a Strategos node's RPC, so that one tool measures
// both alike. Transactions are generated as the load goes, unique per run
// (`<runid>-<n>=<filler>`, 200 bytes like the kv load), and offered by
// broadcast_tx_async in JSON-RPC batches of 10, a few batches in flight
// per endpoint, paced by the rate or as fast as they are taken; at most
// Options.Window of them are submitted and not yet seen committed, which
// bounds memory and is the closed loop's only brake. Commits are followed
// on the first endpoint (status, then block height by height); each
// transaction of a block is matched by its SHA-256 to its submit time.
// The window, cool-down and drain are as above; a transaction not seen
// committed within 30 s is given up ("expired"), since over RPC there is
// no lookup of a transaction's fate (CometBFT's tx method needs its
// indexer, which a benchmark turns off). The report's app is "rpc".
package bench
