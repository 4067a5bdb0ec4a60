package attack

import (
	"crypto/rand"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/wire"
)

// Field numbers of wire.proto that the hand-made frames use.
const (
	envProposal      = 1
	envBlockResponse = 5
	envTxBatch       = 10
	envEvidence      = 11
	propBlock        = 1
	propSig          = 3
	blockQC          = 4
	qcVotes          = 3
	repeatedField    = 1 // TxBatch.txs and BlockResponse.blocks
)

// emptyEntries returns n entries of field 1, each empty: two bytes apiece,
// the cheapest repeated entry protobuf can carry, and the one a decoder
// that materialises entries before checking counts pays most for.
func emptyEntries(field protowire.Number, n int) []byte {
	b := make([]byte, 0, 2*n)
	for range n {
		b = protowire.AppendTag(b, field, protowire.BytesType)
		b = protowire.AppendVarint(b, 0)
	}
	return b
}

func wrap(field protowire.Number, inner []byte) []byte {
	b := protowire.AppendTag(nil, field, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(len(inner)))
	return append(b, inner...)
}

// bombEntries is how many empty entries fit in a frame of about size bytes.
func bombEntries(size int) int { return (size - 64) / 2 }

// TxBatchBomb is an envelope holding one transaction batch of about size
// bytes, every transaction empty.
func TxBatchBomb(size int) []byte {
	return wrap(envTxBatch, emptyEntries(repeatedField, bombEntries(size)))
}

// BlockResponseBomb is an envelope holding a block response of about size
// bytes, every block empty.
func BlockResponseBomb(size int) []byte {
	return wrap(envBlockResponse, emptyEntries(repeatedField, bombEntries(size)))
}

// QCBomb is an envelope holding a proposal whose block's certificate has
// about size/2 empty signatures.
func QCBomb(size int) []byte {
	qc := emptyEntries(qcVotes, bombEntries(size))
	return wrap(envProposal, wrap(propBlock, wrap(blockQC, qc)))
}

// KVPayload returns kv transactions of about size bytes in total, each a
// valid `key=value` of at most 60 KiB (tag makes the keys distinct between
// calls).
func KVPayload(tag string, size int) [][]byte {
	const each = 60 << 10
	var txs [][]byte
	for i := 0; size > 0; i++ {
		n := min(each, size)
		v := make([]byte, n)
		rand.Read(v)
		for j := range v {
			v[j] = 'a' + v[j]%26 // printable
		}
		txs = append(txs, append([]byte(fmt.Sprintf("%s-%d=", tag, i)), v...))
		size -= n
	}
	return txs
}

// EvidenceFrame is an envelope holding a double-proposal proof against the
// proposer of a and b, built by hand (with the proposals' blocks encoded by
// package wire) so that it does not depend on what wire accepts to encode.
func EvidenceFrame(a, b *chain.Proposal) ([]byte, error) {
	pa, err := proposalBytes(a)
	if err != nil {
		return nil, err
	}
	pb, err := proposalBytes(b)
	if err != nil {
		return nil, err
	}
	var e []byte
	e = protowire.AppendTag(e, 1, protowire.VarintType) // kind: double proposal
	e = protowire.AppendVarint(e, 1)
	e = protowire.AppendTag(e, 2, protowire.VarintType) // validator
	e = protowire.AppendVarint(e, uint64(a.Block.Proposer))
	e = protowire.AppendTag(e, 3, protowire.VarintType) // round
	e = protowire.AppendVarint(e, a.Block.Round)
	e = protowire.AppendTag(e, 4, protowire.VarintType) // height
	e = protowire.AppendVarint(e, a.Block.Height)
	e = append(e, wrap(5, pa)...)
	e = append(e, wrap(6, pb)...)
	return wrap(envEvidence, e), nil
}

func proposalBytes(p *chain.Proposal) ([]byte, error) {
	blk, err := wire.MarshalBlock(p.Block)
	if err != nil {
		return nil, err
	}
	out := wrap(propBlock, blk)
	return append(out, wrap(propSig, p.Sig)...), nil
}
