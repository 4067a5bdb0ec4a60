package rpc

import (
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	"github.com/strategos/strategos/internal/chain"
)

// blockchainLimit is how many block metas one blockchain call returns, as
// CometBFT.
const blockchainLimit = 20

// heightParam returns the height asked, or the latest when none is; it
// refuses one outside earliest..latest as CometBFT does.
func heightParam(p params, st Status) (uint64, error) {
	h, ok := p.int64("height")
	if !ok {
		return st.Height, nil
	}
	if err := checkHeight(h, int64(st.Height)); err != nil {
		return 0, err
	}
	if err := checkPruned(uint64(h), st.Earliest); err != nil {
		return 0, err
	}
	return uint64(h), nil
}

// checkPruned refuses a height below the earliest kept, with CometBFT's
// words.
func checkPruned(h, earliest uint64) error {
	if h < earliest {
		return fmt.Errorf("height %d is not available, lowest height is %d", h, earliest)
	}
	return nil
}

// cmtBlock loads the committed block at height in CometBFT's types.
func (s *Server) cmtBlock(c *callCtx, height uint64) (*types.Block, types.BlockID, bool) {
	b, h, ok := s.b.Block(height)
	if !ok {
		return nil, types.BlockID{}, false
	}
	blk, id := s.view.block(b, h, s.appVersionOf(c.ctx))
	return blk, id, true
}

func block(c *callCtx, p params) (any, error) {
	height, err := heightParam(p, c.s.b.Status())
	if err != nil {
		return nil, err
	}
	blk, id, _ := c.s.cmtBlock(c, height) // none yet: an empty answer, as CometBFT's
	return &ctypes.ResultBlock{BlockID: id, Block: blk}, nil
}

func blockByHash(c *callCtx, p params) (any, error) {
	h, err := hashParam(p, "hash")
	if err != nil {
		return nil, err
	}
	b, ok := c.s.b.BlockByHash(h)
	if !ok {
		return &ctypes.ResultBlock{}, nil // as CometBFT: no block, no error
	}
	blk, id := c.s.view.block(b, h, c.s.appVersionOf(c.ctx))
	return &ctypes.ResultBlock{BlockID: id, Block: blk}, nil
}

func header(c *callCtx, p params) (any, error) {
	height, err := heightParam(p, c.s.b.Status())
	if err != nil {
		return nil, err
	}
	blk, _, ok := c.s.cmtBlock(c, height)
	if !ok {
		return &ctypes.ResultHeader{}, nil
	}
	return &ctypes.ResultHeader{Header: &blk.Header}, nil
}

func headerByHash(c *callCtx, p params) (any, error) {
	h, err := hashParam(p, "hash")
	if err != nil {
		return nil, err
	}
	b, ok := c.s.b.BlockByHash(h)
	if !ok {
		return &ctypes.ResultHeader{}, nil
	}
	blk, _ := c.s.view.block(b, h, c.s.appVersionOf(c.ctx))
	return &ctypes.ResultHeader{Header: &blk.Header}, nil
}

// execResults are a block's outcomes as ABCI's ExecTxResult: the code
// and log the node recorded; data, info, gas, events and codespace are
// not recorded by Strategos and stay empty.
func execResults(rs []Outcome) []*abci.ExecTxResult {
	if len(rs) == 0 {
		return nil
	}
	out := make([]*abci.ExecTxResult, len(rs))
	for i, r := range rs {
		out[i] = &abci.ExecTxResult{Code: r.Code, Log: r.Log}
	}
	return out
}

func blockResults(c *callCtx, p params) (any, error) {
	height, err := heightParam(p, c.s.b.Status())
	if err != nil {
		return nil, err
	}
	res, ok, err := c.s.b.Results(height)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("could not find results for height #%d", height)
	}
	return &ctypes.ResultBlockResults{Height: int64(height), TxsResults: execResults(res.Txs), AppHash: res.AppHash}, nil
}

// blockchain returns the metas of at most 20 blocks from maxHeight down,
// as CometBFT: 0 means the first block for minHeight and the latest for
// maxHeight.
func blockchain(c *callCtx, p params) (any, error) {
	st := c.s.b.Status()
	latest := int64(st.Height)
	lo, _ := p.int64("minHeight")
	hi, _ := p.int64("maxHeight")
	if lo < 0 || hi < 0 {
		return nil, fmt.Errorf("heights must be non-negative")
	}
	if lo == 0 {
		lo = int64(max(st.Earliest, 1))
	}
	if hi == 0 {
		hi = latest
	}
	hi = min(hi, latest)
	lo = max(lo, 1, hi-blockchainLimit+1)
	if lo > hi {
		return nil, fmt.Errorf("min height %d can't be greater than max height %d", lo, hi)
	}
	if err := checkPruned(uint64(lo), st.Earliest); err != nil {
		return nil, err
	}
	res := &ctypes.ResultBlockchainInfo{LastHeight: latest, BlockMetas: []*types.BlockMeta{}}
	for h := hi; h >= lo; h-- {
		blk, id, ok := c.s.cmtBlock(c, uint64(h))
		if !ok {
			return nil, fmt.Errorf("block %d cannot be read", h)
		}
		res.BlockMetas = append(res.BlockMetas, meta(blk, id))
	}
	return res, nil
}

// txIndex returns the position of the transaction with hash h in b.
func txIndex(b *chain.Block, h chain.Hash) (int, bool) {
	for i, tx := range b.Payload {
		if chain.TxHash(tx) == h {
			return i, true
		}
	}
	return 0, false
}

// abciFinalize is FinalizeBlock's answer as the NewBlock event carries
// it: the transactions' results and the app hash; Strategos records no
// block events, validator updates (its set is fixed) or parameter
// updates.
func abciFinalize(results []*abci.ExecTxResult, appHash []byte) abci.ResponseFinalizeBlock {
	return abci.ResponseFinalizeBlock{TxResults: results, AppHash: appHash}
}

// txResult is a transaction's result as the Tx event carries it.
func txResult(height int64, index uint32, tx []byte, r Outcome) abci.TxResult {
	return abci.TxResult{Height: height, Index: index, Tx: tx, Result: abci.ExecTxResult{Code: r.Code, Log: r.Log}}
}
