// Package consensus is the protocol core of Strategos: chained two-phase
// HotStuff in the style of Jolteon / DiemBFT v4, written as a pure,
// deterministic state machine.
//
// The core does no I/O. Like etcd's raft it is driven by two inputs,
// Step(message) and Tick(), and it returns its effects as data through
// Ready: safety state and blocks to persist, messages to send, blocks
// committed and evidence found. The runtime (the simulator, or a real node)
// must persist Ready.Safety and Ready.Blocks durably before it sends
// Ready.Messages: that order is what keeps a validator that crashes and
// restarts from signing a vote that contradicts one it signed before.
//
// Everything the core needs from outside comes in through small interfaces
// in Config: the leader election, the source of block payloads and times,
// the signer, the signature verifier and a read-only view of storage.
// Nothing in this package reads a clock, draws random numbers, starts a
// goroutine or takes a lock; purity_test.go enforces that mechanically.
//
// Every input is validated before it is trusted: the sender must be a
// validator, signatures must verify, certificates must hold a quorum of
// distinct valid signers, and rounds and parent links must make sense.
// Invalid input is dropped and counted (see Stats). See docs/consensus.md
// for the protocol and its safety argument.
package consensus
