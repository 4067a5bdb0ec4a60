// Package statesync starts a validator with an empty store from a peer's
// application snapshot instead of replaying the chain (strategos node
// --state-sync).
//
// The client trusts only the genesis validator set. It asks every peer
// for its snapshots and its highest certificates, and waits for a
// quorum's worth of answers; picks the highest snapshot; fetches the
// commit certificate of that height and checks it as the light client
// does (package light), which gives the block's hash and the state root
// after it; checks that the snapshot's app hash is that root; collects
// the chunks from the peers that offered the snapshot, each checked
// against the snapshot's chunk hashes; fetches the committed blocks below
// it that the leader rule reads (bound to the certified block by parent
// hashes); has the application rebuild its state from them and checks its
// app hash against the certified root once more; and only then writes
// the store, in one transaction. A peer whose chunk, certificate or
// blocks fail a check is dropped for this snapshot; a snapshot that
// cannot be completed (no peer left, or no progress for StallTimeout) is
// given up for the next one. Progress is logged every few seconds.
//
// Signing after a lost disk. A wiped validator has forgotten which rounds
// it voted and timed out in; signing again in one of them could
// contradict what it signed before. Every peer's answer carries its
// highest QC and TC, verified here. Before the wipe, the validator could
// have signed only in rounds up to R+1, where R is the highest round of
// any certificate formed by then. That certificate had 2f+1 signers, at
// least f of them honest validators other than this one, and answers
// from 2f+1 others include at least f+1 honest ones, so one honest
// answerer signed in round R, and so holds a certificate of round R-1 or
// higher. With M the highest round of a verified certificate in the
// answers, R-1 <= M, and every round the validator signed in is at most
// M+2. The store starts with M+3 as its last voted round: the validator
// follows the chain from there and signs nothing in round M+3 or below
// except a timeout of round M+3 itself, which is newer than anything it
// signed before.
package statesync
