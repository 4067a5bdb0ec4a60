package abci

import (
	"bytes"
	"context"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/proto/tendermint/types"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// PrepareProposal has the application choose the transactions of a block
// this validator leads. Transactions it returns unchanged are the *app.Tx
// given; what it returns beyond p.MaxBytes or p.MaxTxs is
// trimmed, and the trimming logged.
func (c *Client) PrepareProposal(ctx context.Context, p app.Proposal) ([]*app.Tx, error) {
	req := &abcitypes.RequestPrepareProposal{
		MaxTxBytes: int64(p.MaxBytes), Txs: app.Bytes(p.Txs), Misbehavior: c.misbehavior(p.Misbehavior),
		Height: int64(p.Height), Time: unixTime(p.Time), ProposerAddress: c.address(p.Proposer),
	}
	resp, err := c.consensus.call1(ctx, abcitypes.ToRequestPrepareProposal(req))
	if err != nil {
		return nil, err
	}
	return c.prepared(p, resp.GetPrepareProposal().Txs), nil
}

// prepared maps the application's transactions back to p's, trimmed to
// p's budget.
func (c *Client) prepared(p app.Proposal, txs [][]byte) []*app.Tx {
	given := make(map[chain.Hash]*app.Tx, len(p.Txs))
	for _, t := range p.Txs {
		given[t.Hash] = t
	}
	maxTxs := chain.MaxBlockTxs
	if p.MaxTxs > 0 {
		maxTxs = min(p.MaxTxs, maxTxs)
	}
	out := make([]*app.Tx, 0, min(len(txs), maxTxs))
	size := 0
	for i, b := range txs {
		if len(out) == maxTxs || size+len(b) > p.MaxBytes {
			c.log.Warn("the application prepared more than the block's budget: trimmed",
				"height", p.Height, "kept", len(out), "trimmed", len(txs)-i, "max_bytes", p.MaxBytes)
			break
		}
		size += len(b)
		h := chain.TxHash(b)
		if t, ok := given[h]; ok && bytes.Equal(t.Bytes, b) {
			out = append(out, t)
		} else {
			out = append(out, &app.Tx{Bytes: b, Hash: h})
		}
	}
	return out
}

// ProcessProposal has the application judge a proposed block: ACCEPT is
// true, REJECT false, any other status out of protocol.
func (c *Client) ProcessProposal(ctx context.Context, p app.Proposal) (bool, error) {
	req := &abcitypes.RequestProcessProposal{
		Txs: app.Bytes(p.Txs), Misbehavior: c.misbehavior(p.Misbehavior), Hash: p.Hash[:],
		Height: int64(p.Height), Time: unixTime(p.Time), ProposerAddress: c.address(p.Proposer),
	}
	resp, err := c.consensus.call1(ctx, abcitypes.ToRequestProcessProposal(req))
	if err != nil {
		return false, err
	}
	switch s := resp.GetProcessProposal().Status; s {
	case abcitypes.ResponseProcessProposal_ACCEPT:
		return true, nil
	case abcitypes.ResponseProcessProposal_REJECT:
		return false, nil
	default:
		return false, outOfProtocol("ProcessProposal", "status %v", s)
	}
}

// FinalizeBlock has the application execute a committed block. The
// application keeps its own state (Writes is nil), and the whole mempool
// is rechecked after it, as CometBFT does.
func (c *Client) FinalizeBlock(ctx context.Context, b app.Block) (app.BlockResult, error) {
	req := &abcitypes.RequestFinalizeBlock{
		Txs: app.Bytes(b.Txs), DecidedLastCommit: c.commitInfo(b.LastCommit, b.LastCommitRound),
		Misbehavior: c.misbehavior(b.Misbehavior), Hash: b.Hash[:],
		Height: int64(b.Height), Time: unixTime(b.Time), ProposerAddress: c.address(b.Proposer),
	}
	resp, err := c.consensus.call1(ctx, abcitypes.ToRequestFinalizeBlock(req))
	if err != nil {
		return app.BlockResult{}, err
	}
	r := resp.GetFinalizeBlock()
	switch {
	case len(r.TxResults) != len(b.Txs):
		return app.BlockResult{}, outOfProtocol("FinalizeBlock", "%d results for %d transactions at height %d",
			len(r.TxResults), len(b.Txs), b.Height)
	case len(r.AppHash) > maxAppHash:
		return app.BlockResult{}, outOfProtocol("FinalizeBlock", "app hash of %d bytes, at most %d", len(r.AppHash), maxAppHash)
	}
	return app.BlockResult{
		TxResults: txResults(r.TxResults), AppHash: r.AppHash,
		Recheck: app.Recheck{All: true}, ValidatorUpdates: len(r.ValidatorUpdates),
	}, nil
}

// txResults maps ABCI's transaction results.
func txResults(rs []*abcitypes.ExecTxResult) []app.TxResult {
	out := make([]app.TxResult, len(rs))
	for i, r := range rs {
		if r == nil {
			continue
		}
		out[i] = app.TxResult{
			Code: r.Code, Codespace: r.Codespace, Log: r.Log, Data: r.Data,
			GasWanted: r.GasWanted, GasUsed: r.GasUsed,
		}
	}
	return out
}

// address is validator i's CometBFT address; nil for no validator.
func (c *Client) address(i uint32) []byte {
	if int64(i) >= int64(len(c.addrs)) {
		return nil
	}
	return c.addrs[i]
}

// validator is validator i as ABCI names it.
func (c *Client) validator(i uint32) abcitypes.Validator {
	if !c.vals.Has(i) {
		return abcitypes.Validator{}
	}
	return abcitypes.Validator{Address: c.addrs[i], Power: int64(c.vals.Power(i))}
}

// commitInfo lists every validator, as COMMIT if it signed the parent's
// certificate and ABSENT if not; no validator at all when nobody signed
// (the first height).
func (c *Client) commitInfo(signers []uint32, round uint64) abcitypes.CommitInfo {
	if len(signers) == 0 {
		return abcitypes.CommitInfo{}
	}
	signed := make([]bool, c.vals.Len())
	for _, s := range signers {
		if c.vals.Has(s) {
			signed[s] = true
		}
	}
	votes := make([]abcitypes.VoteInfo, len(signed))
	for i := range votes {
		votes[i] = abcitypes.VoteInfo{Validator: c.validator(uint32(i)), BlockIdFlag: cmttypes.BlockIDFlagAbsent}
		if signed[i] {
			votes[i].BlockIdFlag = cmttypes.BlockIDFlagCommit
		}
	}
	return abcitypes.CommitInfo{Round: int32(min(round, 1<<31-1)), Votes: votes}
}

// misbehavior maps evidence: a double vote is DUPLICATE_VOTE, any other
// kind UNKNOWN (ABCI has no kind for a double proposal).
func (c *Client) misbehavior(ms []app.Misbehavior) []abcitypes.Misbehavior {
	if len(ms) == 0 {
		return nil
	}
	out := make([]abcitypes.Misbehavior, len(ms))
	for i, m := range ms {
		typ := abcitypes.MisbehaviorType_UNKNOWN
		if m.Kind == "double-vote" {
			typ = abcitypes.MisbehaviorType_DUPLICATE_VOTE
		}
		out[i] = abcitypes.Misbehavior{
			Type: typ, Validator: c.validator(m.Validator), Height: int64(m.Height),
			Time: unixTime(m.Time), TotalVotingPower: int64(c.vals.TotalPower()),
		}
	}
	return out
}
