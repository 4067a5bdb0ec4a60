// Package store keeps a validator's durable state: the blocks it has
// seen, the committed chain, its safety state, the application's state,
// and the index of committed transactions.
//
// Why bbolt for nearly everything: the store is one file holding a
// copy-on-write B+tree, and every Update transaction writes its pages,
// fsyncs, then switches the meta page and fsyncs again before it returns.
// A transaction is therefore either wholly on disk or absent after a
// crash, with no write-ahead log or recovery step of our own. It is pure
// Go with one dependency (golang.org/x/sys). It runs as etcd runs it:
// without syncing the free-page list (rebuilt by a scan on open).
//
// Why Pebble for one thing: the lookup from a transaction's hash to where
// it committed. Hashes are random, and a B+tree that takes 10,000 random
// keys per block rewrites most of its leaves every block: commits slowed
// as the ledger grew (kv throughput fell from about 25,000 to 13,000
// transactions a second within a minute). An LSM tree takes random keys
// as appends. The index is derived data (see txindex.go): outcomes are
// written with the block's state in bbolt, one sequential record per
// height, and Pebble is filled after the commit and refilled from those
// records on open, so a crash cannot make the two disagree. A Bloom filter
// in memory answers the common question, "never committed", without
// touching Pebble.
//
// Layout, one bucket each:
//
//	blocks     height (8 bytes) + block hash -> block (wire.MarshalBlock), so new blocks append
//	block-heights  block hash -> height (where the block is in blocks)
//	committed  height (8 bytes, big-endian) -> block hash (32 bytes) + certifying QC (wire.MarshalQC)
//	meta       format, chain id, genesis hash, safety state, committed tip height,
//	           application height and state root, fork sweep height,
//	           earliest height kept
//	app        application keys -> values
//	results    height -> outcomes of the block's transactions (hash, status, reason)
//
// and, in the txindex directory beside the file, Pebble: tx hash -> height
// and offset of its outcome. The accepted directory beside it holds the
// acceptance journal (package journal): client transactions answered 202
// and not yet settled, and the rejections the node still answers.
//
// Writing follows consensus.Ready: [Store.Persist] writes the new blocks and
// the safety state in one fsynced transaction, and the runtime calls it
// before sending the messages of the same Ready, so no vote or timeout ever
// leaves before the state that forbids contradicting it is on disk.
// [Store.Commit] then extends the committed chain, refusing anything that
// would skip, replace or fork a committed block; [Store.CommitExecuted]
// does so together with the state the block's execution produced, in one
// transaction and one fsync.
//
// Reads and errors: the safety state and the committed tip are loaded and
// checked by [Open] and then served from memory, so the consensus.Storage
// methods that matter for safety cannot fail after Open. Block, CommittedBlock
// and AppGet read the file; since their signatures cannot return an error, a
// failed read reports "not found" and the first such error is kept for
// [Store.Err], which the runtime should check and log. A node whose store
// returns read errors should be stopped: its disk is failing.
//
// Forks are collected (forks.go): when a height commits, the other blocks
// stored at that height (conflicting proposals, abandoned branches) are
// deleted in the same write, and a block at or below the committed height
// is never stored, so a leader's conflicting variants do not accumulate.
// Everything above the committed height is kept. Committed heights are
// pruned on request, oldest first ([Store.Prune], prune.go), with their
// outcomes and index entries; the file keeps its size and reuses the
// freed pages.
//
// A Store is safe for concurrent use.
package store
