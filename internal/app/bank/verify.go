package bank

import (
	"runtime"
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// Transfers are verified under ZIP-215 (the rules CometBFT also adopted),
// with curve25519-voi. Two reasons, both about agreement rather than
// speed alone: ZIP-215 defines validity so that single and batch
// verification give the same answer for every signature, so a node that
// batch-verified a transfer at admission and one that verifies it alone
// at execution can never disagree about it; and voi's batch verifier is
// about twice as fast per signature as verifying one at a time, which is
// what bounds the bank's throughput (docs/performance.md).
var zip215 = &voi.Options{Verify: voi.VerifyOptionsZIP_215}

// verifySig reports whether sig is pub's valid signature of msg.
func verifySig(pub, msg, sig []byte) bool {
	if len(sig) != voi.SignatureSize {
		return false
	}
	k := keys.expand(pub)
	return k != nil && voi.VerifyExpandedWithOptions(k, msg, sig, zip215)
}

// keys remembers senders' public keys in voi's expanded form: unpacking
// a key costs about a third of a verification, and a ledger's senders
// send many transfers each.
var keys = &keyCache{m: make(map[[voi.PublicKeySize]byte]*voi.ExpandedPublicKey)}

// maxKeys bounds the key cache (about 1.5 KiB a key); it starts over when
// full, which costs only recomputation.
const maxKeys = 4096

type keyCache struct {
	mu sync.Mutex
	m  map[[voi.PublicKeySize]byte]*voi.ExpandedPublicKey
}

// expand returns pub expanded, or nil if pub is not a valid key (a
// signature under it is then invalid, as voi's own checks would find).
func (c *keyCache) expand(pub []byte) *voi.ExpandedPublicKey {
	if len(pub) != voi.PublicKeySize {
		return nil
	}
	k := [voi.PublicKeySize]byte(pub)
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return e
	}
	e, err := voi.NewExpandedPublicKey(voi.PublicKey(pub))
	if err != nil {
		return nil
	}
	c.mu.Lock()
	if len(c.m) >= maxKeys {
		clear(c.m)
	}
	c.m[k] = e
	c.mu.Unlock()
	return e
}

// batchSize is how many signatures one batch verification covers: past
// 64 the gain per signature is small and a bad signature costs more.
const batchSize = 64

// verifyBatch verifies txs' signatures together and reports which are
// valid. A batch that fails is retried one by one, so a forged
// signature costs its batch the fast path but condemns only itself.
func verifyBatch(txs []Tx) []bool {
	ok := make([]bool, len(txs))
	if len(txs) == 1 {
		ok[0] = verifySig(txs[0].PubKey, txs[0].SignBytes(), txs[0].Sig)
		return ok
	}
	bv := voi.NewBatchVerifierWithCapacity(len(txs))
	bad := make([]bool, len(txs))
	for i, t := range txs {
		k := keys.expand(t.PubKey)
		// An invalid key, or a signature of the wrong size (which would
		// make the batch verifier panic), is invalid on its own: a
		// placeholder keeps the positions aligned.
		if k == nil || len(t.Sig) != voi.SignatureSize {
			bad[i] = true
			bv.AddWithOptions(make(voi.PublicKey, voi.PublicKeySize), nil, make([]byte, voi.SignatureSize), zip215)
			continue
		}
		bv.AddExpandedWithOptions(k, t.SignBytes(), t.Sig, zip215)
	}
	all, valid := bv.Verify(nil)
	for i := range ok {
		ok[i] = (all || valid[i]) && !bad[i]
	}
	return ok
}

// verifyAll checks the signatures of todo in batches, spread over the
// machine's cores, and remembers the valid ones, so that CheckTx and
// FinalizeBlock find them verified. It reports nothing: a transfer that
// fails here fails again, with its reason, when it is checked or
// finalized. Safe to call concurrently with everything else.
func (a *App) verifyAll(todo []Tx) {
	if len(todo) == 0 {
		return
	}
	chunks := (len(todo) + batchSize - 1) / batchSize
	workers := min(runtime.GOMAXPROCS(0), chunks)
	next := make(chan []Tx, chunks)
	for i := 0; i < len(todo); i += batchSize {
		next <- todo[i:min(i+batchSize, len(todo))]
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for chunk := range next {
				for i, good := range verifyBatch(chunk) {
					if good {
						a.sigs.add(chunk[i].Hash)
					}
				}
			}
		})
	}
	wg.Wait()
}

// verify checks t's signature unless the cache already saw its body
// verify, and remembers a success.
func (a *App) verify(t Tx) error {
	if a.sigs.has(t.Hash) {
		return nil
	}
	if err := t.Verify(a.chainID); err != nil {
		return err
	}
	a.sigs.add(t.Hash)
	return nil
}
