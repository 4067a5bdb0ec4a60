package node

import (
	"bytes"
	"math"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// worstChain builds n linked blocks whose encoding is as large as their
// shape allows: every varint at its widest (heights from 2^63), full signatures in a QC of
// votes validators, txs transactions of txBytes each.
func worstChain(n, votes, txs, txBytes int) ([]*chain.Block, []*chain.QC) {
	qc := func(h chain.Hash) *chain.QC {
		q := &chain.QC{Round: math.MaxUint64, BlockHash: h}
		for i := range votes {
			q.Votes = append(q.Votes, chain.Signature{Signer: math.MaxUint32 - uint32(i), Sig: bytes.Repeat([]byte{byte(i)}, 64)})
		}
		return q
	}
	var blocks []*chain.Block
	var certs []*chain.QC
	parent := chain.Hash{1}
	for i := range n {
		b := &chain.Block{Height: 1<<63 + uint64(i), Round: math.MaxUint64, Parent: parent, QC: qc(parent),
			Proposer: math.MaxUint32, Time: math.MinInt64, ExecHeight: math.MaxUint64, StateRoot: bytes.Repeat([]byte{2}, chain.MaxStateRoot)}
		for range txs {
			b.Payload = append(b.Payload, bytes.Repeat([]byte{byte(i)}, txBytes))
		}
		parent = b.Hash("bound")
		blocks = append(blocks, b)
		certs = append(certs, qc(parent))
	}
	return blocks, certs
}

type chainReader struct {
	blocks []*chain.Block
	certs  []*chain.QC
}

func (r chainReader) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	base := r.blocks[0].Height
	if h < base || h-base >= uint64(len(r.blocks)) {
		return nil, chain.Hash{}, nil, false
	}
	return r.blocks[h-base], chain.Hash{}, r.certs[h-base], true
}

// The serving byte budget counts an estimate of each block's encoding
// (consensus.encodedSize); the worker gives it the frame less
// responseOverhead. This checks both against real encodings instead of
// assuming them: a response cut at a budget encodes to at most that
// budget plus its own certificate and envelope, and a response at the
// node's budget fits the transport's frame, for worst-case blocks.
func TestServedResponsesFitTheFrame(t *testing.T) {
	frame := transport.DefaultMaxFrame
	for _, shape := range []struct{ n, votes, txs, txBytes int }{
		{64, 4, 0, 0}, {64, 100, 1, 1}, {64, 4, 2000, 1}, {64, 4, 50, 64 << 10}, {8, 4, 1, 1 << 20},
		{2, 100, maxBlockTxs, maxBlockBytes / maxBlockTxs}, {2, 4, 1, maxBlockBytes},
	} {
		blocks, certs := worstChain(shape.n, shape.votes, shape.txs, shape.txBytes)
		rd := chainReader{blocks, certs}
		byHash := map[chain.Hash]*chain.Block{}
		for i, b := range blocks {
			byHash[certs[i].BlockHash] = b
		}
		read := func(h chain.Hash) (*chain.Block, bool) { b, ok := byHash[h]; return b, ok }
		top := certs[len(certs)-1].BlockHash
		for _, budget := range []int{1, 200 << 10, 1 << 20, frame - responseOverhead} {
			resp := consensus.ServeSync(rd, &consensus.SyncRequest{From: blocks[0].Height, Count: 64},
				math.MaxUint64, 64, budget)
			served := consensus.ServeBlocks(read, &consensus.BlockRequest{Hash: top, Count: 64}, 64, budget)
			for _, m := range []consensus.Message{{SyncResponse: resp}, {BlockResponse: &consensus.BlockResponse{Blocks: served}}} {
				f, err := wire.EncodeMessage(m)
				if err != nil {
					t.Fatal(err)
				}
				if len(f) > frame {
					t.Errorf("shape %+v, budget %d: %s of %d bytes, over the %d-byte frame", shape, budget, m.Kind(), len(f), frame)
				}
				// Beyond the first block (which always goes) the budget
				// holds up to the response's certificate and envelope.
				if n := blocksOf(m); n > 1 && len(f) > budget+shape.votes*96+1<<10 {
					t.Errorf("shape %+v, budget %d: %s of %d blocks encodes to %d bytes", shape, budget, m.Kind(), n, len(f))
				}
			}
		}
	}
}

func blocksOf(m consensus.Message) int {
	if m.SyncResponse != nil {
		return len(m.SyncResponse.Blocks)
	}
	return len(m.BlockResponse.Blocks)
}
