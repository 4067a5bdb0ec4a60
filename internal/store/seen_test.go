package store

import (
	"encoding/binary"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// The filter never forgets a hash it was given, across segments, and says
// "maybe" for few it was not.
func TestSeenFilter(t *testing.T) {
	var f seenFilter
	hash := func(i uint64) chain.Hash { return chain.TxHash(binary.BigEndian.AppendUint64(nil, i)) }
	const n = segmentKeys + segmentKeys/2 // two segments
	for i := range uint64(n) {
		f.add(hash(i), 1)
	}
	if len(f.segments) != 2 {
		t.Fatalf("%d segments for %d hashes", len(f.segments), n)
	}
	for i := uint64(0); i < n; i += 997 {
		if !f.mayHave(hash(i)) {
			t.Fatalf("forgot hash %d", i)
		}
	}
	false_ := 0
	const probes = 100_000
	for i := range uint64(probes) {
		if f.mayHave(hash(1<<40 + i)) {
			false_++
		}
	}
	// Two segments at about 0.05% each.
	if false_ > probes/200 {
		t.Fatalf("%d false positives in %d", false_, probes)
	}
	t.Logf("false positives: %d in %d", false_, probes)
}

func BenchmarkSeenMiss(b *testing.B) {
	var f seenFilter
	for i := range uint64(segmentKeys) {
		f.add(chain.TxHash(binary.BigEndian.AppendUint64(nil, i)), 1)
	}
	h := chain.TxHash([]byte("absent"))
	for b.Loop() {
		f.mayHave(h)
	}
}
