package chain

// The block budget: the most transactions, and transaction bytes, one
// block carries. It is one place for consensus (which refuses to vote for
// more), the node (which builds blocks up to it and checks at startup that
// such a block fits the transport's frame) and the wire decoder.
const (
	MaxBlockTxs   = 10_000
	MaxBlockBytes = 3 << 20
)
