// Package snapshot keeps snapshots of the application's state on disk, in
// chunks, for state sync: a node writes the key/value pairs of its state at
// a height, serves the snapshot's metadata and chunks to peers, and a
// syncing node collects the chunks from peers it does not trust, each
// checked against the metadata, and gets the pairs back in order.
//
// On-disk layout, one directory per snapshot under the snapshot directory:
//
//	<dir>/<height>/meta.json      the Meta, JSON (Meta.Marshal)
//	<dir>/<height>/chunk-00000    chunk 0, then chunk-00001 and so on
//	<dir>/.tmp-*                  a snapshot being written or removed
//
// <height> is the height in decimal without leading zeros. A chunk is a
// sequence of pairs, each uvarint(len key) key uvarint(len value) value,
// with minimal uvarints and non-empty keys. Write cuts a chunk before the
// pair that would take it past ChunkBytes, so a pair larger than ChunkBytes
// gets a chunk of its own; no chunk exceeds MaxChunkBytes. A state with no
// pairs is one empty chunk.
//
// Crash safety: Write fills a .tmp- directory (chunk files and meta.json,
// each fsynced, then the directory), renames it to <height> and fsyncs the
// snapshot directory; Prune renames a snapshot to a .tmp- name before it
// deletes its files. So a directory named by a height is always complete,
// and List ignores and removes .tmp- leftovers. A snapshot directory
// belongs to one process: List leaves the temporary directories of Writes
// and Prunes under way in this process alone, but cannot know of others'.
//
// Integrity model: the Meta lists the SHA-256 of every chunk, and
// Meta.Hash (the SHA-256 of its canonical encoding) identifies a snapshot
// across peers, so peers offering the same hash offer the same chunks and
// chunks of one snapshot can be taken from many peers. A Restorer checks
// every chunk against the Meta's hash before it decodes it, decodes within
// bounds (MaxChunkBytes a chunk, the Meta's Bytes and Pairs in all, never
// more than it was told it may hold), and refuses a Meta whose counts
// cannot be right. None of this makes the content trustworthy: a peer can
// offer a well-formed snapshot of a state that never was. The caller
// trusts the restored pairs only once it has rebuilt the state from them
// and checked its app hash against the one a commit certificate at
// Meta.Height certifies; Meta.AppHash is the serving peer's claim.
package snapshot
