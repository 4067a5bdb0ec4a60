package chain

import (
	"reflect"
	"sync"
	"testing"
)

// A remembered payload hash is used only for the payload it was computed
// over: every way of changing a hashed block's payload short of writing
// into a transaction's bytes gives the hash of the new payload.
func TestPayloadMemoFollowsThePayload(t *testing.T) {
	fresh := func(b *Block) Hash { return b.HashWith(testChain, PayloadHash(testChain, b.Payload)) }
	changes := map[string]func(b *Block){
		"replace the slice":   func(b *Block) { b.Payload = [][]byte{[]byte("other")} },
		"replace one tx":      func(b *Block) { b.Payload[1] = []byte("tx-c") },
		"shorten":             func(b *Block) { b.Payload = b.Payload[:1] },
		"append":              func(b *Block) { b.Payload = append(b.Payload, []byte("tx-c")) },
		"drop":                func(b *Block) { b.Payload = nil },
		"same bytes, new mem": func(b *Block) { b.Payload = [][]byte{[]byte("tx-a"), []byte("tx-b")} },
	}
	for name, change := range changes {
		b := cloneBlock(sampleBlock())
		before := b.Hash(testChain)
		if before != fresh(b) {
			t.Fatalf("%s: memo disagrees before the change", name)
		}
		change(b)
		if got, want := b.Hash(testChain), fresh(b); got != want {
			t.Errorf("%s: hash %s after the change, want %s", name, got.Short(), want.Short())
		}
	}
}

// A copy of a hashed block, as the equivocating behaviour makes, hashes
// its own payload; the original keeps its hash.
func TestPayloadMemoOfACopy(t *testing.T) {
	b := cloneBlock(sampleBlock())
	h := b.Hash(testChain)
	c := *b
	c.Payload = append(append([][]byte(nil), b.Payload...), []byte("equivocation"))
	if c.Hash(testChain) == h {
		t.Fatal("a copy with another payload kept the original's hash")
	}
	if b.Hash(testChain) != h {
		t.Fatal("hashing a copy changed the original's hash")
	}
}

// The memo is beside the block, so a hashed block is still deeply equal
// to the same block unhashed (decoding tests compare them so).
func TestPayloadMemoKeepsBlocksDeepEqual(t *testing.T) {
	a, b := sampleBlock(), sampleBlock()
	a.Hash(testChain)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("hashing a block made it differ from an unhashed equal block")
	}
}

// Concurrent readers of one block (the API, the store and the core) get
// one hash; run under -race.
func TestPayloadMemoConcurrent(t *testing.T) {
	b := cloneBlock(sampleBlock())
	want := b.HashWith(testChain, PayloadHash(testChain, b.Payload))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if b.Hash(testChain) != want {
					t.Error("wrong hash")
					return
				}
			}
		})
	}
	wg.Wait()
}
