// Package e2e holds Strategos's end-to-end tests. They build the real
// `strategos` binary once, lay out a local network with `strategos init`,
// run every validator as its own operating-system process (`strategos
// node`), and drive and observe it only through the public contract: the
// command line, signals and the HTTP API.
//
// The tests kill validators with SIGKILL while a load generator submits
// key/value transactions, restart them with the same home, and then check
// what must survive a crash: every validator holds the same block at every
// height, accepted transactions commit exactly once, a restarted validator
// catches up, and no validator ever signs two contradicting messages (the
// hidden --sign-log of `strategos node` is audited across all its lives).
//
// TestBankLedger runs a bank network instead: concurrent signed transfers
// to every node, the wallet CLI, replays and refusals, and then checks
// balances, nonces and the total supply on every node against a model of
// the committed transfers.
//
// The package has no non-test code besides this comment. The tests that
// run processes need a Unix system and are skipped with -short; the unit
// test of the sign-log auditor always runs. Environment knobs:
//
//	STRATEGOS_E2E_BIN=PATH  use this binary instead of building one
//	STRATEGOS_E2E_RACE=1    build the binary with -race (slower)
//	STRATEGOS_E2E_SEED=N    seed of the crash loop's kill schedule and of
//	                        the bank test's transfers
//	STRATEGOS_E2E_KEEP=1    keep the networks' directories and logs
package e2e
