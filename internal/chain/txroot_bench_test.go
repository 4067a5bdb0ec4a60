package chain

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// linearPayloadHash is the payload hash of encoding version 2, kept to
// measure the Merkle root against: SHA-256 over the chain id, the count
// and each transaction length-prefixed.
func linearPayloadHash(chainID string, txs [][]byte) Hash {
	e := newEncoder("strategos/payload", chainID)
	e.buf[0] = 2
	e.u64(uint64(len(txs)))
	d := sha256.New()
	d.Write(e.buf)
	var n [8]byte
	for _, tx := range txs {
		binary.BigEndian.PutUint64(n[:], uint64(len(tx)))
		d.Write(n[:])
		d.Write(tx)
	}
	var h Hash
	d.Sum(h[:0])
	return h
}

// A full block of the benchmarks' size: 5,000 transactions of 200 bytes.
func BenchmarkPayloadHash(b *testing.B) {
	txs := make([][]byte, 5000)
	for i := range txs {
		txs[i] = make([]byte, 200)
		binary.BigEndian.PutUint64(txs[i], uint64(i))
	}
	hs := TxHashes(txs)
	b.Run("linear", func(b *testing.B) {
		b.SetBytes(5000 * 200)
		for b.Loop() {
			linearPayloadHash(testChain, txs)
		}
	})
	b.Run("merkle", func(b *testing.B) {
		b.SetBytes(5000 * 200)
		for b.Loop() {
			PayloadHash(testChain, txs)
		}
	})
	b.Run("merkle-of-hashes", func(b *testing.B) {
		for b.Loop() {
			PayloadHashOf(hs)
		}
	})
	b.Run("prove", func(b *testing.B) {
		for b.Loop() {
			_, _ = ProveTx(hs, 2500)
		}
	})
}
