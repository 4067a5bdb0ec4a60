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
package bench
