package bench

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
)

// kvTxSize is the size of a generated kv transaction, as in CometBFT's
// kvstore benchmarks.
const kvTxSize = 200

// stream is a run of pre-encoded transactions that go, in order, to one
// node: the transfers of one bank sender, or a share of a node's kv load.
// Its cursor is owned by the node's feeder (under the feeder's lock).
type stream struct {
	node    int
	ordered bool   // a refused line must be offered again before the next ones (bank nonces)
	data    []byte // every transaction followed by '\n'
	off     []int  // line k is data[off[k]:off[k+1]-1]
	first   int    // id of line 0 in the book

	next     int   // the next line to send
	inFlight bool  // a batch with lines of this stream is in flight
	dead     error // why the stream stopped (bank: its nonce chain broke)
}

func (s *stream) lines() int        { return len(s.off) - 1 }
func (s *stream) line(k int) []byte { return s.data[s.off[k] : s.off[k+1]-1] }
func (s *stream) left() int         { return s.lines() - s.next }

// add appends one transaction to the stream.
func (s *stream) add(tx []byte) {
	if len(s.off) == 0 {
		s.off = append(s.off, 0)
	}
	s.data = append(s.data, tx...)
	s.data = append(s.data, '\n')
	s.off = append(s.off, len(s.data))
}

// Bits of book.state.
const (
	stAccepted uint32 = 1 << iota
	stCommitted
)

// book holds what the run knows of every generated transaction, by id:
// when its latest submission was sent and whether it was accepted and
// committed. Workers and the commit follower update it concurrently.
type book struct {
	streams []*stream
	ids     map[uint64]uint32 // the first 8 bytes of a transaction's hash -> its id
	sent    []atomic.Int64    // run time (ns) of the latest send, 0 if never sent
	state   []atomic.Uint32
}

// newBook indexes the transactions of streams, giving them ids in stream
// order.
func newBook(streams []*stream) *book {
	n := 0
	for _, s := range streams {
		s.first = n
		n += s.lines()
	}
	b := &book{streams: streams, ids: make(map[uint64]uint32, n), sent: make([]atomic.Int64, n), state: make([]atomic.Uint32, n)}
	for _, s := range streams {
		for k := range s.lines() {
			h := chain.TxHash(s.line(k))
			b.ids[hashKey(h)] = uint32(s.first + k)
		}
	}
	return b
}

func (b *book) len() int { return len(b.sent) }

// hashKey is the book's key for a transaction hash. Eight bytes of a
// SHA-256 make collisions among a run's transactions (and with foreign
// ones in the blocks) negligible.
func hashKey(h chain.Hash) uint64 { return binary.BigEndian.Uint64(h[:8]) }

// hexKey is hashKey of a hash in hex, without decoding all of it.
func hexKey(s string) (uint64, bool) {
	if len(s) != 64 {
		return 0, false
	}
	v, err := strconv.ParseUint(s[:16], 16, 64)
	return v, err == nil
}

// locate returns the stream and line of a transaction id.
func (b *book) locate(id int) (*stream, int) {
	lo, hi := 0, len(b.streams)
	for hi-lo > 1 {
		m := (lo + hi) / 2
		if b.streams[m].first <= id {
			lo = m
		} else {
			hi = m
		}
	}
	s := b.streams[lo]
	return s, id - s.first
}

// kvStreams generates lines kv transactions in perNode streams for each
// of nodes nodes: unique keys b<run>-<stream>-<seq> with a filler value,
// each transaction kvTxSize bytes.
func kvStreams(run string, nodes, perNode, total int) []*stream {
	count := nodes * perNode
	var out []*stream
	for i := range count {
		s := &stream{node: i % nodes}
		n := total/count + boolInt(i < total%count)
		s.data = make([]byte, 0, n*(kvTxSize+1))
		s.off = make([]int, 1, n+1)
		buf := make([]byte, 0, kvTxSize)
		for k := range n {
			buf = append(buf[:0], 'b')
			buf = append(buf, run...)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(i), 10)
			buf = append(buf, '-')
			buf = strconv.AppendInt(buf, int64(k), 10)
			buf = append(buf, '=')
			for j := 0; len(buf) < kvTxSize; j++ {
				buf = append(buf, "0123456789abcdef"[(k+j)&15])
			}
			s.add(buf)
		}
		out = append(out, s)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sender is a bank account that sends transfers.
type sender struct {
	key   ed25519.PrivateKey
	nonce uint64 // the first nonce to use
	node  int    // the node its transfers go to
}

// bankStreams signs perSender transfers for each sender, of 1 unit to the
// next sender's account (the last to the first), with consecutive nonces
// from the sender's first; one stream per sender. It signs on every core.
func bankStreams(chainID string, senders []sender, perSender int) ([]*stream, error) {
	out := make([]*stream, len(senders))
	errs := make([]error, len(senders))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(senders)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				out[i], errs[i] = bankStream(chainID, senders, i, perSender)
			}
		}()
	}
	for i := range senders {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("bench: sign transfers of sender %d: %w", i, err)
		}
	}
	return out, nil
}

func bankStream(chainID string, senders []sender, i, n int) (*stream, error) {
	sd := senders[i]
	to := chain.AddressOf(senders[(i+1)%len(senders)].key.Public().(ed25519.PublicKey))
	s := &stream{node: sd.node, ordered: true, off: make([]int, 1, n+1)}
	for k := range n {
		tx, err := bank.Sign(sd.key, chainID, to, 1, sd.nonce+uint64(k))
		if err != nil {
			return nil, err
		}
		if s.data == nil {
			s.data = make([]byte, 0, n*(len(tx)+8))
		}
		s.add(tx)
	}
	return s, nil
}
