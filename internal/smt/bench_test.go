package smt

import (
	"math/rand/v2"
	"sync"
	"testing"
)

const benchKeys = 1_000_000

// benchData returns n random 32-byte keys with 64-byte values, from a
// fixed seed.
func benchData(n int, seed uint64) (keys, values [][]byte) {
	r := rand.New(rand.NewPCG(seed, 1))
	buf := make([]byte, n*96)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	keys, values = make([][]byte, n), make([][]byte, n)
	for i := range n {
		keys[i] = buf[i*96 : i*96+32 : i*96+32]
		values[i] = buf[i*96+32 : (i+1)*96 : (i+1)*96]
	}
	return keys, values
}

var bench = sync.OnceValues(func() (*Tree, [][]byte) {
	keys, values := benchData(benchKeys, 1)
	tr, err := Build(keys, values)
	if err != nil {
		panic(err)
	}
	return tr, keys
})

func BenchmarkBuild(b *testing.B) {
	keys, values := benchData(benchKeys, 1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Build(keys, values); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdate applies one block's worth of changes, 5,000 keys (half
// new, half overwritten), to a tree of 1,000,000.
func BenchmarkUpdate(b *testing.B) {
	tr, old := bench()
	keys, values := benchData(5000, 2)
	copy(keys[:2500], old[:2500])
	b.ResetTimer()
	for b.Loop() {
		if _, err := tr.Update(keys, values); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5000, "ns/key")
}

func BenchmarkProve(b *testing.B) {
	tr, keys := bench()
	absent, _ := benchData(1000, 3)
	b.Run("present", func(b *testing.B) { benchProve(b, tr, keys) })
	b.Run("absent", func(b *testing.B) { benchProve(b, tr, absent) })
}

func benchProve(b *testing.B, tr *Tree, keys [][]byte) {
	size, i := 0, 0
	for b.Loop() {
		p, err := tr.Prove(keys[i%len(keys)])
		if err != nil {
			b.Fatal(err)
		}
		size += p.Size()
		i++
	}
	b.ReportMetric(float64(size)/float64(i), "bytes/proof")
}

func BenchmarkVerifyProof(b *testing.B) {
	tr, keys := bench()
	p, err := tr.Prove(keys[0])
	if err != nil {
		b.Fatal(err)
	}
	enc := encode(b, p)
	v, _ := tr.Get(keys[0])
	root := tr.Root()
	for b.Loop() {
		if err := VerifyProof(root, keys[0], v, enc); err != nil {
			b.Fatal(err)
		}
	}
}
