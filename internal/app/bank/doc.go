// Package bank is the ledger application: accounts identified by address
// (chain.AddressOf of an ed25519 public key) hold balances, and signed
// transfers move value between them. Transfers carry no fee, so the total
// supply fixed at genesis never changes.
//
// # Transactions
//
// A transfer's body is one line of JSON, exactly as Sign produces it:
//
//	{"chain_id":"c","from":"<64 hex>","to":"<40 hex>","amount":5,"nonce":0,"sig":"<128 hex>"}
//
// That body is what `strategos tx sign` prints, what POST /v1/txs takes and
// one line of a batch; its transaction hash is chain.TxHash of those exact
// bytes. Decode accepts only the canonical form (the bytes Sign would
// produce: that key order, no whitespace, lowercase hex, no trailing
// newline), so one signed transfer has exactly one body and one hash: a
// relay cannot re-format a pending transaction into a twin with another
// hash. Callers that read a body from a file or a line should strip the
// surrounding whitespace first.
//
// The signature does not cover the JSON. It covers SignBytes, a versioned,
// domain-separated binary encoding of (chain id, sender public key,
// recipient, amount, nonce), so a transfer signed for one chain is invalid
// on every other and no JSON detail can change what was signed.
//
// # Accounts and nonces
//
// An account is stored under "bank/acct/<address hex>" as 16 bytes:
// balance and next nonce, both big-endian uint64. An account exists once
// it was funded at genesis or received a transfer; a sender without an
// account is refused as unknown. Nonces start at 0; a transfer applies only
// with exactly the sender's next nonce, which then grows by one.
//
// # Admission and execution
//
// CheckTx checks a body against the committed state and changes nothing:
// well-formed, signed for this chain, a known sender with enough balance, a
// nonce not yet used (a nonce ahead of the next one passes; whether to hold
// it is the mempool's policy). CheckTxAt does the same checks against a
// sender state the caller supplies (the nonce after its pending
// transactions, the balance left after their spending), for a mempool that
// admits a sequence of pending transfers from one account.
//
// Execute applies a committed block deterministically, transaction by
// transaction; a failing transfer is recorded with its reason and changes
// nothing. After every block it checks the invariants (supply conserved,
// no underflow or overflow, each sender's nonce grown by exactly its
// applied transfers) and returns an error, never a partial commit, if one
// fails. Execute returns a block's writes; the node commits them, with
// the executed height, the root and its transaction index, in one durable
// write.
//
// Each signature is verified once per node: a bounded cache, keyed by
// transaction hash, remembers bodies whose signature verified, so the
// Execute of a transfer admitted by CheckTx does not verify it again.
//
// # State root
//
// The root after height h is the root of a sparse Merkle tree of every
// account (package smt, under ics23's SmtSpec): key the address's 20
// bytes, value the account's canonical encoding (balance, then next
// nonce, 8 bytes each, big-endian). It depends on the account set alone,
// and proves any account's state, or its absence, to a light client
// (docs/light-client.md). The tree of the latest heights is kept in
// memory (package authstate) and rebuilt from the store at startup.
package bank
