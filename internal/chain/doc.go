// Package chain defines the data that validators agree on and sign: blocks,
// votes, quorum certificates (QCs), timeouts and timeout certificates (TCs),
// proposals, the validator set and evidence of misbehaviour.
//
// Every signed or hashed value has one canonical, versioned binary encoding
// (see encoding.go) so that all validators compute identical hashes and
// signature payloads. The chain id is part of every hash and signature, so
// nothing signed for one chain is valid on another; the digests that a
// header or certificate carries (the payload's Merkle root among them) are
// bound to it through that header's or certificate's hash.
//
// A header's payload hash is the Merkle root of the block's transactions
// (TxRoot), so a client holding a committed header checks that a
// transaction is in the block with a TxProof of about log2(n) hashes.
//
// The package holds no protocol logic: deciding when to vote, time out or
// commit is the business of package consensus.
package chain
