package store

import (
	"bytes"
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
