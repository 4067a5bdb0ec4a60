// Package sim is a deterministic network simulator for the consensus core.
//
// It runs n instances of the real consensus code (honest cores, or
// Byzantine behaviours wrapping them) over a simulated network driven by a
// virtual clock and one seeded random source: per-message delays, so
// messages reorder; message loss; partitions between honest validators
// that heal at a set virtual time, the global stabilisation time (GST);
// and crashes of honest validators that restart from what they persisted.
// The same seed always yields the same run, event for event.
//
// Checkers run on every run: safety (honest validators never commit
// different blocks at one height), validity (every committed block was
// proposed by a validator), no honest double vote (even across restarts),
// and liveness (after GST, every honest validator commits the requested
// number of blocks within a bound of virtual time).
//
// In duration mode (Config.Duration) a run lasts a fixed virtual time and
// records when each height of the honest chain was committed (Trace);
// FaultTable turns such runs into the table of throughput under faults in
// docs/consensus.md (go run ./internal/sim/faulttable).
package sim
