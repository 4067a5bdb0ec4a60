// Package faults is Strategos's fault-injection suite: end-to-end tests
// that run a real network of validators, each on a host of its own, under
// a steady workload of bank transfers, break the network and the
// processes in the ways real deployments break, and check afterwards that
// the honest validators still agree, that every acknowledged transfer
// happened exactly once, and that no money was made or lost.
//
// The package has no non-test code besides this comment. It runs with the
// rest of the project's tests (`go test -race ./...`) and is skipped with
// -short.
//
// # Hosts
//
// Each validator runs in a network namespace of its own (`ip netns add`)
// with one interface, eth0, at 10.213.S.(i+1)/24; S is picked per
// network so that the subnet is used nowhere else on the machine, and it
// exists only on the lab's interfaces. The other end of every host's
// veth pair is a port of a switch in a further namespace (the hub). The
// test process reaches the hosts through one more port, whose peer in the
// test's namespace holds 10.213.S.254; no lab traffic goes anywhere else.
// `strategos init --nodes 4 --app bank --hosts <the four addresses>`
// lays the network out; each node's config.json is then edited, as
// docs/nodes.md allows: api_listen becomes the host's own address (its
// 127.0.0.1 is private to its namespace), and the timing is shortened
// (base_timeout_ticks 30, i.e. 300 ms instead of 1 s; empty_block_ticks
// 10; max_timeout_ticks 200), so that a network with a validator down
// still commits a few blocks a second and the suite fits in its budget.
// Every node runs as `ip netns exec <its namespace> strategos node
// --home ...` in its own process group. Cleanup removes the namespaces
// (and with them every veth) even when a test fails; a later run removes
// the namespaces of a run that was killed before its cleanup.
//
// The switch is a learning Ethernet switch in the test process that reads
// and writes frames on the hub's ports with packet sockets; per directed
// pair of hosts it can cut the link, drop frames at random, and delay
// them with jitter. Faults map onto the lab as follows:
//
//   - isolating a host sets the hub end of its link down (the kernel's
//     own link state: the host loses carrier);
//   - a partition cuts the links between the groups in the switch, while
//     the test still reaches every host;
//   - latency and loss use `tc qdisc ... netem` on each host's eth0 when
//     the kernel has sch_netem. Some kernels lack it (this project's
//     development VM answers "Specified qdisc kind is unknown"); there
//     the switch applies the same delay, jitter and loss to every frame a
//     host sends, and the table's header says which was used.
//     STRATEGOS_FAULTS_NETEM=0 forces the switch.
//
// If namespaces cannot be created (not root, no iproute2, no netns
// support), every scenario is skipped with a message that starts "FAULT-
// INJECTION SUITE NOT RUN", also printed to stderr; with
// STRATEGOS_FAULTS_REQUIRE=1 (for CI) that is a failure instead.
//
// # Workload
//
// Each of the ten funded demo accounts is a sender with one transfer in
// flight: it signs the transfer in-process with bank.Sign (the chain id
// comes from the key file, keys.ReadFor), submits it to a random
// reachable honest node, and follows its status there until it is
// committed; if that node dies, is cut off or forgets the transfer, the
// same body goes to another node. One transfer in eight is also sent to a
// second node at the same moment. Transfers start at most 40 a second.
//
// # Scenarios
//
// Each scenario builds a fresh lab and network of four validators; two
// scenarios run at a time (STRATEGOS_FAULTS_PARALLEL changes that).
//
//   - isolate-rejoin: one validator cut off for 8 s, then rejoined; it
//     must catch up.
//   - split-2-2: {0,1} | {2,3} for 6 s: no node may commit anything
//     (neither side has a quorum); then healed.
//   - latency-loss: 50 ms ± 10 ms and 1% loss on every link, then one
//     host at 300 ms.
//   - kill-restart: SIGKILL of one validator and restart, three times.
//   - pause-leader: SIGSTOP of the current leader (GET /v1/status) for
//     3 s and SIGCONT, three times.
//   - byzantine-<behaviour>+<fault>: validator 3 runs `strategos node
//     --behavior <behaviour>` for every behaviour of the contract (silent,
//     equivocate, bad-signature, forge-qc, withhold, delay, replay,
//     flood), combined with a fault that takes no honest validator away:
//     latency and loss on every link, SIGKILL/restart of the Byzantine
//     validator, or its isolation. Its status must name its behaviour;
//     for equivocate, every honest node must end up holding evidence
//     against it.
//
// A long isolation in a soak (over 64 blocks behind) exercises the
// block-sync path of catch-up; the default run stays within the gap that
// certificates alone close.
//
// During every fault that leaves a quorum of honest validators, the
// honest nodes must commit blocks and transfers; after every fault is
// healed, every honest node must commit two new blocks within 30 s (the
// table's recovery column).
//
// # Checks
//
// After each scenario, with the workload stopped, the checker verifies on
// the honest nodes: identical blocks at every common height, chained by
// parent hash and each with a quorum certificate for itself; every
// transfer acknowledged as committed is in the chain exactly once, at the
// height it was acknowledged at, and every honest node reports it so
// (a copy of a committed transaction in a later block is allowed only in a
// block a Byzantine validator proposed, where nodes record it as a
// rejected duplicate, per docs/ledger.md); the balances of all accounts
// involved sum to the genesis supply (10 x 1e9) and, when no transfer is
// left in flight, equal what the acknowledged transfers leave, nonces
// included; and no honest node holds evidence against an honest
// validator. The suite ends with a table (t.Log, and stdout with -v):
// scenario, faults, transfers committed, blocks, recovery, violations.
//
// # Knobs
//
//	STRATEGOS_SOAK_FAULTS=1     soak: every hold 8x longer
//	                            (STRATEGOS_SOAK_FACTOR=F for another
//	                            factor), every Byzantine behaviour with
//	                            every companion fault, and more scenarios
//	                            (a deaf node, a flapping link, hunting the
//	                            leader, two of four nodes killed, every
//	                            node killed at once); give go test a
//	                            -timeout of an hour or more
//	STRATEGOS_FAULTS_REQUIRE=1  fail, rather than skip, without namespaces
//	STRATEGOS_FAULTS_NETEM=0    shape links in the switch even with netem
//	STRATEGOS_FAULTS_PARALLEL=N scenarios at a time (default 2)
//	STRATEGOS_E2E_SEED=N        seed of the workload
//	STRATEGOS_E2E_BIN=PATH      use this binary instead of building one
//	STRATEGOS_E2E_RACE=1        build the binary with -race
//	STRATEGOS_E2E_KEEP=1        keep the networks' directories and logs
package faults
