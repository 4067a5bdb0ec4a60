package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
)

// TxOutcome is what executing one committed transaction gave.
type TxOutcome struct {
	Hash  chain.Hash
	OK    bool
	Code  uint32 // the application's code: 0 when OK, never 0 otherwise
	Error string // why it was rejected, when !OK; the application's log
}

// code is r's code as recorded: a rejection is never code 0.
func (r TxOutcome) code() uint64 {
	switch {
	case r.OK:
		return 0
	case r.Code == 0:
		return 1
	}
	return uint64(r.Code)
}

// The transaction index answers "was this transaction committed, where,
// and how did it end?" for every transaction ever committed.
//
// The outcomes are written with the block's state, in the bbolt
// transaction that commits it, as one record per height (bucketResults,
// appended in height order: cheap for a B+tree). The lookup from hash to
// height lives in Pebble: transaction hashes are random, and a B+tree that
// takes 10,000 random keys per block rewrites most of its leaves every
// block, so commits slowed as the ledger grew (from about 25,000 to 13,000
// kv transactions a second within a minute, measured). An LSM tree takes
// random keys as appends. The Pebble index is derived data: it is written
// after the bbolt commit without fsync, records the last height it holds,
// and on Open every height above that is indexed again from the records.
// So a crash can lose none of it.

var bucketResults = []byte("results") // height -> outcomes of the block's transactions

// keyIndexed, in the Pebble index, is the last height it holds. Hash keys
// are 32 bytes, so the 1-byte key never collides.
var keyIndexed = []byte{'h'}

func resultsKey(height uint64) []byte { return binary.BigEndian.AppendUint64(nil, height) }

// encodeResults lays out a block's outcomes: per transaction its hash,
// its code (a uvarint, 0 when it applied) and a length-prefixed reason. It returns the offset of
// each outcome, which the index records.
func encodeResults(rs []TxOutcome) ([]byte, []uint32) {
	size := 0
	for _, r := range rs {
		size += len(r.Hash) + 2*binary.MaxVarintLen32 + len(r.Error)
	}
	b := make([]byte, 0, size)
	offs := make([]uint32, len(rs))
	for i, r := range rs {
		offs[i] = uint32(len(b))
		b = append(b, r.Hash[:]...)
		b = binary.AppendUvarint(b, r.code())
		b = binary.AppendUvarint(b, uint64(len(r.Error)))
		b = append(b, r.Error...)
	}
	return b, offs
}

// decodeResult reads the outcome at offset off of a results record.
func decodeResult(rec []byte, off uint32) (TxOutcome, error) {
	var r TxOutcome
	if int(off)+len(r.Hash)+2 > len(rec) {
		return r, fmt.Errorf("outcome offset %d beyond a record of %d bytes", off, len(rec))
	}
	b := rec[off:]
	copy(r.Hash[:], b)
	code, kc := binary.Uvarint(b[len(r.Hash):])
	if kc <= 0 || code > math.MaxUint32 {
		return r, errors.New("malformed outcome code")
	}
	r.Code, r.OK = uint32(code), code == 0
	n, k := binary.Uvarint(b[len(r.Hash)+kc:])
	start := len(r.Hash) + kc + k
	if k <= 0 || uint64(len(b)-start) < n {
		return r, errors.New("malformed outcome")
	}
	r.Error = string(b[start : start+int(n)])
	return r, nil
}

// resultSize is the encoded size of the outcome at the start of b, which
// decodeResult accepted.
func resultSize(b []byte) int {
	_, kc := binary.Uvarint(b[len(chain.Hash{}):])
	n, k := binary.Uvarint(b[len(chain.Hash{})+kc:])
	return len(chain.Hash{}) + kc + k + int(n)
}

// forEachResult calls f with each outcome of a record and its offset.
func forEachResult(rec []byte, f func(TxOutcome, uint32)) error {
	for off := 0; off < len(rec); {
		r, err := decodeResult(rec, uint32(off))
		if err != nil {
			return err
		}
		f(r, uint32(off))
		off += resultSize(rec[off:])
	}
	return nil
}

// txIndex maps a committed transaction's hash to its height and the
// offset of its outcome in that height's record.
type txIndex struct {
	db   *pebble.DB
	seen seenFilter
}

func openTxIndex(dir string) (*txIndex, error) {
	o := &pebble.Options{
		Logger:       quietLogger{},
		MemTableSize: 16 << 20,
		CacheSize:    32 << 20,
	}
	// Most lookups are of transactions never committed (every admission
	// asks): Bloom filters on every level answer those without reading
	// a data block.
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, err
	}
	x := &txIndex{db: db}
	// The filter is memory only: fill it from the index.
	it, err := db.NewIter(nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	for it.First(); it.Valid(); it.Next() {
		if k, v := it.Key(), it.Value(); len(k) == len(chain.Hash{}) && len(v) == 12 {
			x.seen.add(chain.Hash(k), binary.BigEndian.Uint64(v))
		}
	}
	if err := it.Close(); err != nil {
		db.Close()
		return nil, err
	}
	return x, nil
}

func (x *txIndex) indexed() (uint64, error) {
	v, c, err := x.db.Get(keyIndexed)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("indexed height has %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// add indexes height's outcomes at offs, and records height as indexed,
// in one atomic batch. Without fsync: Open re-indexes what a crash lost.
func (x *txIndex) add(height uint64, rs []TxOutcome, offs []uint32) error {
	b := x.db.NewBatch()
	defer b.Close()
	// In hash order: the memtable's skiplist then finds each key's place
	// from the previous one's instead of from its top
	// (BenchmarkTxIndexAdd).
	order := make([]int32, len(rs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int { return bytes.Compare(rs[i].Hash[:], rs[j].Hash[:]) })
	var v [12]byte
	binary.BigEndian.PutUint64(v[:8], height)
	for _, i := range order {
		binary.BigEndian.PutUint32(v[8:], offs[i])
		if err := b.Set(rs[i].Hash[:], v[:], nil); err != nil {
			return err
		}
	}
	if err := b.Set(keyIndexed, v[:8], nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	for _, r := range rs {
		x.seen.add(r.Hash, height)
	}
	return nil
}

// locate returns where h's outcome is, or false.
func (x *txIndex) locate(h chain.Hash) (height uint64, off uint32, ok bool, err error) {
	if !x.seen.mayHave(h) {
		return 0, 0, false, nil
	}
	v, c, err := x.db.Get(h[:])
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, err
	}
	defer c.Close()
	if len(v) != 12 {
		return 0, 0, false, fmt.Errorf("index entry of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint32(v[8:]), true, nil
}

// catchUp indexes the heights above the index's own, up to appHeight,
// from the outcome records.
func (s *Store) catchUpIndex() error {
	from, err := s.idx.indexed()
	if err != nil {
		return err
	}
	for h := from + 1; h <= s.appHeight; h++ {
		var rs []TxOutcome
		var offs []uint32
		err := s.db.View(func(tx *bolt.Tx) error {
			return forEachResult(tx.Bucket(bucketResults).Get(resultsKey(h)), func(r TxOutcome, off uint32) {
				rs = append(rs, r)
				offs = append(offs, off)
			})
		})
		if err != nil {
			return fmt.Errorf("results of height %d: %w", h, err)
		}
		if err := s.idx.add(h, rs, offs); err != nil {
			return err
		}
	}
	return nil
}

func indexDir(storePath string) string {
	return filepath.Join(filepath.Dir(storePath), "txindex")
}

// TxHeights returns, for each hash, the height at which that transaction
// was committed, or 0 if it never was.
func (s *Store) TxHeights(hs []chain.Hash) ([]uint64, error) {
	out := make([]uint64, len(hs))
	for i, h := range hs {
		height, _, ok, err := s.idx.locate(h)
		if err != nil {
			return nil, fmt.Errorf("store: tx index: %w", err)
		}
		if ok {
			out[i] = height
		}
	}
	return out, nil
}

// TxOutcome returns how a committed transaction ended and its height; ok
// is false for a transaction never committed, or committed at a height
// since pruned (its entry is deleted with the height). An entry a crash
// left behind a pruning gives a *PrunedError.
func (s *Store) TxOutcome(h chain.Hash) (r TxOutcome, height uint64, ok bool, err error) {
	height, off, ok, err := s.idx.locate(h)
	if err != nil {
		return TxOutcome{}, 0, false, fmt.Errorf("store: tx index: %w", err)
	}
	if !ok {
		return TxOutcome{}, 0, false, nil
	}
	if err := s.Pruned(height); err != nil {
		return TxOutcome{}, 0, false, err
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = decodeResult(tx.Bucket(bucketResults).Get(resultsKey(height)), off)
		return err
	})
	if err == nil && r.Hash != h {
		err = errors.New("the index points at another transaction")
	}
	if err != nil {
		return TxOutcome{}, 0, false, fmt.Errorf("store: outcome of %s at height %d: %w", h.Short(), height, err)
	}
	return r, height, true, nil
}

// quietLogger keeps Pebble's routine messages out of the node's output;
// its errors reach the node as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	// Pebble calls this on corruption it cannot go on from.
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(1)
}
