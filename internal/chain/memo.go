package chain

import (
	"runtime"
	"sync"
	"weak"
)

// The payload hash of a block is asked for several times per block and
// validator (when its proposal is judged, remembered and persisted, and
// when it commits), and for a block of thousands of transactions each
// time hashes all of them. payloadMemos remembers it per block.
//
// It lives beside the Block, not in it: a field would make a hashed block
// differ, under reflect.DeepEqual, from the same block decoded, and copies
// of a Block (which Byzantine behaviours make and then change) would carry
// it along. Entries are keyed by a weak pointer, so the memo never keeps a
// block alive, and go when the block is collected.
//
// A block is not changed once built or decoded, but nothing enforces it;
// so an entry also records the transaction slices it was computed over,
// and is used only while b.Payload holds the same slices (same backing
// arrays, same lengths). Replacing the payload, or any transaction in it,
// therefore recomputes the hash; only writing into a transaction's bytes
// in place would go unnoticed, and nothing in the ledger does that.
var payloadMemos = memoTable{m: make(map[weak.Pointer[Block]]*payloadMemo)}

type memoTable struct {
	mu sync.Mutex
	m  map[weak.Pointer[Block]]*payloadMemo
}

type payloadMemo struct {
	txs  [][]byte // a copy of the Payload slice headers it was computed over
	hash Hash
}

// payloadHash returns PayloadHash of b's payload, from the memo when the
// payload is the one it was computed over.
func (b *Block) payloadHash() Hash {
	k := weak.Make(b)
	payloadMemos.mu.Lock()
	m := payloadMemos.m[k]
	payloadMemos.mu.Unlock()
	if m != nil && sameTxs(m.txs, b.Payload) {
		return m.hash
	}
	h := PayloadHash("", b.Payload)
	m = &payloadMemo{txs: append([][]byte(nil), b.Payload...), hash: h}
	payloadMemos.mu.Lock()
	_, had := payloadMemos.m[k]
	payloadMemos.m[k] = m
	payloadMemos.mu.Unlock()
	if !had {
		runtime.AddCleanup(b, payloadMemos.forget, k)
	}
	return h
}

func (t *memoTable) forget(k weak.Pointer[Block]) {
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
}

// sameTxs reports whether a and b hold the same slices: the same memory,
// not merely equal bytes.
func sameTxs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || (len(a[i]) > 0 && &a[i][0] != &b[i][0]) {
			return false
		}
	}
	return true
}
