package rpc

import (
	"context"
	"errors"
	"fmt"

	abci "github.com/cometbft/cometbft/abci/types"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// Errors a Backend's Submit wraps, for the answers CometBFT gives.
var (
	// ErrInCache: the transaction is already pending, or committed.
	ErrInCache = errors.New("tx already exists in cache")
	// ErrFull: the node cannot take more now.
	ErrFull = errors.New("mempool is full")
)

// submit admits tx. A refusal by the application is an answer (its code
// and log, as CometBFT's CheckTx response); anything else is an error.
func (s *Server) submit(tx []byte) (chain.Hash, *app.TxError, error) {
	hs, errs := s.b.SubmitBatch([][]byte{tx})
	return submitted(hs[0], errs[0])
}

// submitted splits a Submit's answer into the application's refusal and
// the node's error.
func submitted(h chain.Hash, err error) (chain.Hash, *app.TxError, error) {
	var te *app.TxError
	if errors.As(err, &te) {
		return h, te, nil
	}
	return h, nil, err
}

func checkTxResponse(te *app.TxError) abci.ResponseCheckTx {
	if te == nil {
		return abci.ResponseCheckTx{}
	}
	return abci.ResponseCheckTx{Code: max(te.Code, 1), Log: te.Log, Codespace: te.Codespace}
}

// broadcastTxAsync admits the transaction and answers its hash. The node
// checks a transaction as it admits it, in well under a block's time, so
// the answer also carries the check's code, where CometBFT's async
// answer always says 0.
func broadcastTxAsync(c *callCtx, p params) (any, error) { return broadcastTxSync(c, p) }

func broadcastTxSync(c *callCtx, p params) (any, error) {
	var (
		h   chain.Hash
		te  *app.TxError
		err error
	)
	if c.pre != nil { // admitted with the rest of its batch
		h, te, err = submitted(c.pre.hash, c.pre.err)
	} else {
		h, te, err = c.s.submit(p.bytes("tx"))
	}
	if err != nil {
		return nil, err
	}
	r := checkTxResponse(te)
	return &ctypes.ResultBroadcastTx{Code: r.Code, Log: r.Log, Codespace: r.Codespace, Hash: h[:]}, nil
}

// checkTx has the application judge the transaction, which is not
// admitted.
func checkTx(c *callCtx, p params) (any, error) {
	err := c.s.b.CheckTx(c.ctx, p.bytes("tx"))
	var te *app.TxError
	if err != nil && !errors.As(err, &te) {
		return nil, err
	}
	return &ctypes.ResultCheckTx{ResponseCheckTx: checkTxResponse(te)}, nil
}

// broadcastTxCommit admits the transaction and waits, at most
// CommitTimeout, for the block that carries it to be executed. The wait
// holds a subscriber slot, as in CometBFT.
func broadcastTxCommit(c *callCtx, p params) (any, error) {
	s := c.s
	release, err := s.feed.wait()
	if err != nil {
		return nil, err
	}
	defer release()
	h, te, err := s.submit(p.bytes("tx"))
	if err != nil {
		return nil, fmt.Errorf("error on broadcastTxCommit: %w", err)
	}
	res := &ctypes.ResultBroadcastTxCommit{CheckTx: checkTxResponse(te), Hash: h[:]}
	if te != nil {
		return res, nil // refused: no block will carry it
	}
	ctx, cancel := context.WithTimeout(c.ctx, s.cfg.CommitTimeout)
	defer cancel()
	for {
		next := s.feed.next()
		st, ok, err := s.b.Tx(h)
		if err != nil {
			return nil, err
		}
		switch {
		case ok && st.Height > 0: // committed or rejected in a block
			res.TxResult = abci.ExecTxResult{Code: st.Code, Log: st.Log}
			res.Height = int64(st.Height)
			return res, nil
		case ok && st.Status == "rejected":
			return nil, fmt.Errorf("tx was rejected before a block carried it: %s", st.Log)
		}
		select {
		case <-next:
		case <-ctx.Done():
			if c.ctx.Err() != nil {
				return nil, fmt.Errorf("broadcast confirmation not received: %w", c.ctx.Err())
			}
			return nil, errors.New("timed out waiting for tx to be included in a block")
		}
	}
}

// tx answers a committed transaction: committed or rejected in a block,
// as CometBFT's index holds both. With prove, the proof is the Merkle
// proof of the transaction against the block's data_hash (computed as
// CometBFT computes it).
func tx(c *callCtx, p params) (any, error) {
	s := c.s
	h, err := hashParam(p, "hash")
	if err != nil {
		return nil, err
	}
	st, ok, err := s.b.Tx(h)
	if err != nil {
		return nil, err
	}
	if !ok || st.Height == 0 {
		if ok && st.Status == "pending" {
			return nil, fmt.Errorf("tx (%X) not found: it is pending, no block carries it yet", h[:])
		}
		return nil, fmt.Errorf("tx (%X) not found", h[:])
	}
	b, _, ok := s.b.Block(st.Height)
	if !ok {
		return nil, fmt.Errorf("tx (%X): block %d cannot be read", h[:], st.Height)
	}
	i, ok := txIndex(b, h)
	if !ok {
		return nil, fmt.Errorf("tx (%X) is not in block %d", h[:], st.Height)
	}
	res := &ctypes.ResultTx{
		Hash: h[:], Height: int64(st.Height), Index: uint32(i),
		TxResult: abci.ExecTxResult{Code: st.Code, Log: st.Log}, Tx: b.Payload[i],
	}
	if p.bool("prove") {
		txs := make(types.Txs, len(b.Payload))
		for j, t := range b.Payload {
			txs[j] = t
		}
		res.Proof = txs.Proof(i)
	}
	return res, nil
}
