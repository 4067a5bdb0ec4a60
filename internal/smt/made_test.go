package smt

import (
	"runtime"
	"testing"
)

// Made counts what an update allocates for the new version: nearly all
// of the bytes the update allocated (the rest is its sorted batch), and
// nothing for a batch that changes nothing.
func TestMade(t *testing.T) {
	keys, values := benchData(50000, 11)
	tr, err := Build(keys, values)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Made() != 0 {
		t.Fatalf("a built tree made %d bytes", tr.Made())
	}
	nk, nv := benchData(5000, 12)
	copy(nk[:2000], keys[:2000])
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	next, err := tr.Update(nk, nv)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := int(after.TotalAlloc - before.TotalAlloc)
	if m := next.Made(); m > alloc || m < alloc*3/4 {
		t.Fatalf("made %d bytes, the update allocated %d", m, alloc)
	}
	same, err := next.Update(nk[:10], nv[:10])
	if err != nil || same.Made() != 0 {
		t.Fatalf("an update that rewrites equal values made %d bytes (%v)", same.Made(), err)
	}
}
