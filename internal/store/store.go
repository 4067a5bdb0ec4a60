package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/wire"
)

// Errors that callers may test for with errors.Is.
var (
	// ErrWrongChain: the file belongs to another chain or genesis.
	ErrWrongChain = errors.New("store: file belongs to another chain")
	// ErrCommitOrder: a commit does not extend the committed chain.
	ErrCommitOrder = errors.New("store: commit does not extend the committed chain")
	// ErrSafetyRegression: a safety state older than the persisted one.
	ErrSafetyRegression = errors.New("store: safety state goes backwards")
	// ErrAppOrder: an application commit out of height order.
	ErrAppOrder = errors.New("store: application commit out of order")
)

// formatVersion 4: blocks are keyed by hashes of chain encoding version 3
// (the payload hash is a Merkle root), so a store of version 3 is refused
// as such rather than failing on its tip's hash. Version 3: evidence on
// the ledger holds signed headers, not whole proposals. Version 2 keyed blocks by height and hash (version 1 by hash
// alone), and added outcomes per height and the Pebble index.
const formatVersion = 4

var (
	bucketBlocks    = []byte("blocks")        // height (8 bytes) + hash -> block
	bucketBlockAt   = []byte("block-heights") // hash -> height: where a block is in bucketBlocks
	bucketCommitted = []byte("committed")
	bucketMeta      = []byte("meta")
	bucketApp       = []byte("app")

	keyFormat    = []byte("format")
	keyChainID   = []byte("chain-id")
	keyGenesis   = []byte("genesis")
	keySafety    = []byte("safety")
	keyTip       = []byte("tip")
	keyAppHeight = []byte("app-height")
	keyAppRoot   = []byte("app-root")
)

// Store is a validator's durable state. It implements consensus.Storage.
type Store struct {
	db      *bolt.DB
	idx     *txIndex
	chainID string
	genesis chain.Hash

	closeOnce sync.Once
	closeErr  error

	wmu sync.Mutex // serialises writers, so that the cache follows the file's order

	mu        sync.RWMutex // guards the fields below
	safety    consensus.SafetyState
	height    uint64 // committed tip height
	tip       *chain.Block
	tipHash   chain.Hash
	appHeight uint64
	appRoot   []byte
	earliest  uint64 // lowest committed height kept; 0 or 1: all
	readErr   error

	forks     forkStats
	compacted [2]int64 // the file's size before and after Open compacted it
}

// Compacted returns the file's size before and after Open compacted it
// (equal when it did not; see compact.go).
func (s *Store) Compacted() (before, after int64) { return s.compacted[0], s.compacted[1] }

var _ consensus.Storage = (*Store)(nil)

// Open opens the store at path, creating it if needed, for the chain
// chainID whose genesis block hashes to genesis. It fails with
// ErrWrongChain if the file was created for another chain, and if the
// persisted state does not decode. Another process holding the file makes
// it fail after one second.
func Open(path, chainID string, genesis chain.Hash) (*Store, error) {
	opts := &bolt.Options{
		Timeout: time.Second,
		// As etcd runs bbolt: the free-page list is not written with
		// every transaction (it is rebuilt by a scan when the file opens)
		// and is kept as a map. With the list synced, every commit of a
		// grown store rewrote it whole, and commits slowed as the store
		// grew; durability of the data itself is unchanged.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	}
	before, after, err := compactIfSparse(path, opts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, chainID: chainID, genesis: genesis, compacted: [2]int64{before, after}}
	if err := db.Update(s.init); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.View(s.load); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if s.idx, err = openTxIndex(indexDir(path)); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open transaction index: %w", err)
	}
	if err := s.catchUpIndex(); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: rebuild transaction index: %w", err)
	}
	return s, nil
}

// init creates the buckets of a new file, or checks an existing file's
// format and chain.
func (s *Store) init(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketBlocks, bucketBlockAt, bucketCommitted, bucketMeta, bucketApp, bucketResults} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	meta := tx.Bucket(bucketMeta)
	f := meta.Get(keyFormat)
	if f == nil {
		if err := meta.Put(keyFormat, []byte{formatVersion}); err != nil {
			return err
		}
		if err := meta.Put(keyChainID, []byte(s.chainID)); err != nil {
			return err
		}
		return meta.Put(keyGenesis, s.genesis[:])
	}
	if len(f) != 1 || f[0] != formatVersion {
		return fmt.Errorf("unknown format %x, want %d", f, formatVersion)
	}
	if id := meta.Get(keyChainID); string(id) != s.chainID {
		return fmt.Errorf("%w: chain id %q, want %q", ErrWrongChain, id, s.chainID)
	}
	if g := meta.Get(keyGenesis); string(g) != string(s.genesis[:]) {
		return fmt.Errorf("%w: genesis %x, want %s", ErrWrongChain, g, s.genesis)
	}
	return nil
}

// load reads the safety state, the committed tip and the application's
// position into memory, checking them.
func (s *Store) load(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if b := meta.Get(keySafety); b != nil {
		safety, err := wire.UnmarshalSafety(b)
		if err != nil {
			return err
		}
		s.safety = safety
	}
	var err error
	if s.height, err = getU64(meta, keyTip); err != nil {
		return fmt.Errorf("tip: %w", err)
	}
	if s.height > 0 {
		b, h, _, err := committedAt(tx, s.height)
		if err != nil {
			return fmt.Errorf("tip: %w", err)
		}
		if b.Hash(s.chainID) != h {
			return fmt.Errorf("tip: block at height %d does not hash to %s", s.height, h.Short())
		}
		s.tip, s.tipHash = b, h
	}
	if s.earliest, err = getU64(meta, keyEarliest); err != nil {
		return fmt.Errorf("earliest height: %w", err)
	}
	if s.appHeight, err = getU64(meta, keyAppHeight); err != nil {
		return fmt.Errorf("application height: %w", err)
	}
	if r := meta.Get(keyAppRoot); r != nil {
		if len(r) > maxRoot {
			return fmt.Errorf("application root has %d bytes", len(r))
		}
		s.appRoot = bytes.Clone(r)
	}
	return nil
}

// Close closes the file. The Store must not be used afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var ierr error
		if s.idx != nil {
			ierr = s.idx.db.Close()
		}
		if err := errors.Join(s.db.Close(), ierr); err != nil {
			s.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return s.closeErr
}

// Err returns the first error met by a read that could not return one
// (Block, CommittedBlock, AppGet), or nil.
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readErr
}

func (s *Store) noteReadErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readErr == nil {
		s.readErr = err
	}
}

// maxRoot bounds a stored application hash (ABCI applications choose
// their own length).
const maxRoot = 64

func heightKey(h uint64) []byte { return binary.BigEndian.AppendUint64(nil, h) }

// getU64 reads a big-endian counter; absent means zero.
func getU64(b *bolt.Bucket, key []byte) (uint64, error) {
	v := b.Get(key)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%s has %d bytes, want 8", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// committedAt reads the committed block at height, its hash and QC.
func committedAt(tx *bolt.Tx, height uint64) (*chain.Block, chain.Hash, *chain.QC, error) {
	var h chain.Hash
	v := tx.Bucket(bucketCommitted).Get(heightKey(height))
	if v == nil {
		return nil, h, nil, fmt.Errorf("no committed block at height %d", height)
	}
	if len(v) < len(h) {
		return nil, h, nil, fmt.Errorf("committed entry at height %d has %d bytes", height, len(v))
	}
	copy(h[:], v)
	qc, err := wire.UnmarshalQC(v[len(h):])
	if err != nil {
		return nil, h, nil, fmt.Errorf("height %d: %w", height, err)
	}
	b, err := blockAt(tx, h)
	if err != nil {
		return nil, h, nil, fmt.Errorf("height %d: %w", height, err)
	}
	return b, h, qc, nil
}

// blockAt reads a block by hash; a missing block is an error.
func blockAt(tx *bolt.Tx, h chain.Hash) (*chain.Block, error) {
	v := blockBytes(tx, h)
	if v == nil {
		return nil, fmt.Errorf("no block %s", h.Short())
	}
	return wire.UnmarshalBlock(v)
}

// Blocks are stored under their height then their hash, so that a new
// block goes at the end of the B+tree. Keyed by hash alone, each new block
// landed in a random leaf among earlier blocks, and bbolt rewrote (and
// read back into memory) those neighbours' bytes on every commit: the
// store's resident memory grew with the file. A small bucket maps a hash
// to its height.
func blockKey(height uint64, h chain.Hash) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(h)), height), h[:]...)
}

// blockBytes returns the stored encoding of block h, or nil.
func blockBytes(tx *bolt.Tx, h chain.Hash) []byte {
	ht := tx.Bucket(bucketBlockAt).Get(h[:])
	if len(ht) != 8 {
		return nil
	}
	return tx.Bucket(bucketBlocks).Get(blockKey(binary.BigEndian.Uint64(ht), h))
}

// putBlock stores a block's encoding unless it is stored already.
func putBlock(tx *bolt.Tx, height uint64, h chain.Hash, data []byte) error {
	at := tx.Bucket(bucketBlockAt)
	if at.Get(h[:]) != nil {
		return nil
	}
	if err := at.Put(h[:], binary.BigEndian.AppendUint64(nil, height)); err != nil {
		return err
	}
	return tx.Bucket(bucketBlocks).Put(blockKey(height, h), data)
}
