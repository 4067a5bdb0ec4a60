// Package light holds the light client's checks, trusting only the genesis
// file: its chain id and its validator set, which never change.
//
// A Certificate shows that the block at one height is committed and which
// state root its execution leaves. It is a run of consecutive committed
// headers starting at that height, plus the QC certifying the last one:
// the hash links and the QCs tie the headers together, a later header
// carries the height's state root (execution lags consensus), and two
// certified headers of consecutive rounds at or after that carrier commit
// it, and with it the first header, by the two-chain rule. Build makes one
// from a node's committed chain; Verify checks one with nothing but the
// genesis validators. docs/consensus.md, "Commit certificates", gives the
// argument.
//
// Verify treats its input as hostile: every count and length is bounded
// before anything is hashed or allocated in proportion, and the cheap
// structural checks run before any signature is verified. The JSON form
// (for GET /v1/commits/{height}) is bounded by MaxCertificateBytes.
package light
