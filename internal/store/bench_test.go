package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// BenchmarkPersist writes one block of 1,000 transactions of 200 bytes and
// a safety state per operation; each operation includes bbolt's fsyncs.
func BenchmarkPersist(b *testing.B) {
	s, _ := openTemp(b)
	parent := child(nil, 1, 0)
	qc := commitOf(parent).QC
	txs := make([][]byte, 1000)
	for i := range txs {
		txs[i] = bytes.Repeat([]byte{byte(i)}, 200)
	}
	round := uint64(1)
	b.SetBytes(200 * 1000)
	for b.Loop() {
		round++
		blk := &chain.Block{Height: 2, Round: round, Parent: qc.BlockHash, QC: qc, Payload: txs}
		safety := &consensus.SafetyState{LastVotedRound: round, HighQC: qc}
		if err := s.Persist([]*chain.Block{blk}, safety); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTxIndexAdd indexes one block of 7,500 transactions (a kv block
// at saturation) per operation, into an index that grows with the run.
func BenchmarkTxIndexAdd(b *testing.B) {
	x, err := openTxIndex(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer x.db.Close()
	const n = 7500
	rs, offs := make([]TxOutcome, n), make([]uint32, n)
	height := uint64(0)
	for b.Loop() {
		height++
		for i := range rs {
			binary.BigEndian.PutUint64(rs[i].Hash[:], height)
			binary.BigEndian.PutUint32(rs[i].Hash[8:], uint32(i))
			rs[i].Hash = sha256.Sum256(rs[i].Hash[:12])
			rs[i].OK, offs[i] = true, uint32(i*34)
		}
		if err := x.add(height, rs, offs); err != nil {
			b.Fatal(err)
		}
	}
}
