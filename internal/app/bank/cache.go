package bank

import (
	"sync"

	"github.com/strategos/strategos/internal/chain"
)

// DefaultCacheSize is how many verified transaction hashes an App
// remembers by default: more than a full mempool (50,000 by default), so that a
// transfer admitted by CheckTx is still known when its block executes.
// About 100 bytes an entry.
const DefaultCacheSize = 1 << 17

// sigCache remembers transaction hashes whose signature verified. The
// hash covers the whole canonical body, chain id included, so the same
// hash always verifies the same way. It holds at most size entries in two
// generations: when the current one is half full it becomes the old one
// and the previous old one is dropped. Only successes are remembered.
// Safe for concurrent use; a nil *sigCache remembers nothing.
type sigCache struct {
	mu   sync.Mutex
	half int
	cur  map[chain.Hash]struct{}
	old  map[chain.Hash]struct{}
}

func newSigCache(size int) *sigCache {
	if size < 2 {
		return nil
	}
	return &sigCache{half: size / 2, cur: make(map[chain.Hash]struct{}), old: make(map[chain.Hash]struct{})}
}

func (c *sigCache) has(h chain.Hash) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[h]; ok {
		return true
	}
	_, ok := c.old[h]
	return ok
}

func (c *sigCache) add(h chain.Hash) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.cur[h]; ok {
		return
	}
	c.cur[h] = struct{}{}
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[chain.Hash]struct{}, c.half)
	}
}

// forget drops h: a committed transfer can never apply again, so its
// entry would only take room.
func (c *sigCache) forget(h chain.Hash) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.cur, h)
	delete(c.old, h)
}

// len returns the number of remembered hashes.
func (c *sigCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}
