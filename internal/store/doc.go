// Package store keeps a validator's durable state in one bbolt file: the
// blocks it has seen, the committed chain, its safety state and a small
// key/value area for the application.
//
// Why bbolt: the store is one file holding a copy-on-write B+tree, and every
// Update transaction writes its pages, fsyncs, then switches the meta page
// and fsyncs again before it returns. A transaction is therefore either
// wholly on disk or absent after a crash, with no write-ahead log or
// recovery step of our own. It is pure Go with one dependency
// (golang.org/x/sys). A validator writes a few transactions per block, so
// the write amplification of a B+tree does not matter; Pebble, an LSM tree,
// is tuned for far heavier write loads and brings a much larger dependency
// tree.
//
// Layout, one bucket each:
//
//	blocks     block hash -> block (wire.MarshalBlock)
//	committed  height (8 bytes, big-endian) -> block hash (32 bytes) + certifying QC (wire.MarshalQC)
//	meta       format, chain id, genesis hash, safety state, committed tip height,
//	           application height and state root
//	app        application keys -> values
//
// Writing follows consensus.Ready: [Store.Persist] writes the new blocks and
// the safety state in one fsynced transaction, and the runtime calls it
// before sending the messages of the same Ready, so no vote or timeout ever
// leaves before the state that forbids contradicting it is on disk.
// [Store.Commit] then extends the committed chain, refusing anything that
// would skip, replace or fork a committed block.
//
// Reads and errors: the safety state and the committed tip are loaded and
// checked by [Open] and then served from memory, so the consensus.Storage
// methods that matter for safety cannot fail after Open. Block, CommittedBlock
// and AppGet read the file; since their signatures cannot return an error, a
// failed read reports "not found" and the first such error is kept for
// [Store.Err], which the runtime should check and log. A node whose store
// returns read errors should be stopped: its disk is failing.
//
// Nothing is pruned yet: every block ever persisted stays in the blocks
// bucket, including those of abandoned forks.
//
// A Store is safe for concurrent use.
package store
