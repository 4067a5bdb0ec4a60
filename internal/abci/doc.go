// Package abci runs any application that speaks CometBFT v0.38's ABCI 2.0
// over its socket protocol as a Strategos application: Client implements
// app.Application by calling the application as CometBFT would.
//
// # Transport
//
// The address is tcp://HOST:PORT or unix:///PATH. Like CometBFT, the
// client keeps one connection per purpose, each dialled on first use:
//
//   - consensus: InitChain, PrepareProposal, ProcessProposal,
//     FinalizeBlock, Commit;
//   - mempool: CheckTx;
//   - query: Info, Query.
//
// CometBFT's fourth, snapshot connection (ListSnapshots, OfferSnapshot,
// LoadSnapshotChunk, ApplySnapshotChunk) is left out: state sync of an
// ABCI application is not implemented here.
//
// Every message is a protobuf tendermint.abci.Request or Response
// preceded by its length as an unsigned varint (CometBFT's framing). A
// call writes its requests and then a Flush request, and reads the
// responses in order, the Flush response last: the application's server
// buffers its answers until it sees the Flush. CheckTx of a batch is
// pipelined in chunks of Options.CheckTxChunk (default 1,000): a chunk's
// requests are all written, then one Flush, by a goroutine of the call
// while the responses are read (so that no server's buffering can
// deadlock against us), and a batch of 10,000 transactions costs ten
// round trips rather than 10,000.
//
// Calls on one connection are serialised; calls on different connections
// run concurrently, as app.Application allows.
//
// # Bounds and failures
//
// Every exchange (one request, or one chunk of a CheckTx batch) has a
// deadline: the context's, and at most Options.Timeout (default 10 s)
// from its start; cancelling the context interrupts it. Every response read is bounded:
// FinalizeBlock, PrepareProposal and Query responses by
// Options.MaxFrame (default 64 MiB), every other response by
// Options.MaxSmallFrame (default 1 MiB). A length prefix above the bound
// fails at once, and a frame's buffer grows only as its bytes arrive, so
// a server that announces a large frame and sends little makes us
// allocate little. Decoding a frame can cost far more than its size (an
// empty repeated message takes 2 bytes on the wire and about 100 in
// memory), so a response over 64 KiB is scanned before it is decoded and
// refused when it holds more than Options.MaxElements (default 4 Mi)
// nested messages, strings and bytes: decoding one response costs at
// most a few hundred MiB, never the 50 to 100 times 64 MiB it could.
//
// Any failure to get an answer (dial, I/O, deadline, cancellation, a
// frame over its bound, bytes that do not decode, a response of another
// type than the request's, an exception response) returns an error
// wrapping app.ErrUnavailable and closes that connection; the next call
// on it dials again. An answer out of protocol (the wrong number of
// transaction results, an app hash over 64 bytes, a negative height, a
// ProcessProposal status other than ACCEPT or REJECT) is also an error
// wrapping app.ErrUnavailable, but leaves the connection open: it is
// still in step, and closing it would fail other calls for nothing.
//
// A connection that the application closed while it was idle is found
// out before it is used (a non-blocking peek, on unix), so the first call
// after the application restarted reaches the new one. The node treats
// an app.ErrUnavailable by neither voting nor executing and asking Info
// again every second: a restarted application is found on the next try
// and replayed what it lacks.
//
// # Mapping
//
// Heights and times are converted as they are (unix nanoseconds to UTC
// times). Validator addresses are CometBFT's, the first 20 bytes of the
// SHA-256 of the ed25519 key, which are also Strategos's. What Strategos
// has no counterpart of is left empty: PrepareProposal's
// local_last_commit, ProcessProposal's proposed_last_commit and every
// next_validators_hash. FinalizeBlock's decided_last_commit lists every
// validator, those whose vote is in the block's quorum certificate as
// COMMIT and the others as ABSENT (empty at the first height).
// Validator updates and consensus parameters the application returns are
// never applied (the validator set is fixed); their count is reported in
// BlockResult.ValidatorUpdates. A query's Value is nil exactly when the
// response's value is empty, whatever its code.
package abci
