package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func txsOf(prefix string, n, size int) ([][]byte, []chain.Hash) {
	txs := make([][]byte, n)
	for i := range txs {
		tx := fmt.Appendf(nil, "%s-%d=", prefix, i)
		for len(tx) < size {
			tx = append(tx, 'v')
		}
		txs[i] = tx
	}
	return txs, chain.TxHashes(txs)
}

func open(t testing.TB, dir string, cfg Config) (*Journal, Replay) {
	t.Helper()
	j, rep, err := Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j, rep
}

func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

func TestReplayKeepsWhatIsUnsettled(t *testing.T) {
	dir := t.TempDir()
	j, rep := open(t, dir, Config{})
	if len(rep.Accepted)+len(rep.Rejected) != 0 {
		t.Fatalf("new journal replays %+v", rep)
	}
	txs, hs := txsOf("k", 4, 10)
	if err := j.Accept(txs[:2], hs[:2]); err != nil {
		t.Fatal(err)
	}
	if err := j.Accept(txs[2:], hs[2:]); err != nil {
		t.Fatal(err)
	}
	j.Settle(hs[1:2])             // committed
	j.Reject(hs[2], "nonce used") // rejected
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	j, rep = open(t, dir, Config{})
	// Settling a commit is not written (the store's index says it
	// committed): the committed one is replayed while its segment lives,
	// and the caller settles it again. The rejected one is not.
	if len(rep.Accepted) != 3 || rep.Accepted[0].Hash != hs[0] || rep.Accepted[1].Hash != hs[1] ||
		rep.Accepted[2].Hash != hs[3] || string(rep.Accepted[2].Tx) != string(txs[3]) {
		t.Fatalf("replayed accepts %+v, want transactions 0, 1 and 3 in order", rep.Accepted)
	}
	if len(rep.Rejected) != 1 || rep.Rejected[0] != (Rejection{hs[2], "nonce used"}) {
		t.Fatalf("replayed rejections %+v", rep.Rejected)
	}
	// Still live after the replay: settling them empties the journal.
	j.Settle([]chain.Hash{hs[0], hs[1], hs[3]})
	j.Forget(hs[2])
	if s := j.Stats(); s.LiveAccepts != 0 || s.LiveRejects != 0 || s.LiveBytes != 0 {
		t.Fatalf("after settling everything: %+v", s)
	}
	j.Maintain()
	if s := j.Stats(); s.Segments != 1 {
		t.Errorf("%d segments left, want only the active one", s.Segments)
	}
}

func TestTornTailIsIgnored(t *testing.T) {
	dir := t.TempDir()
	j, _ := open(t, dir, Config{})
	txs, hs := txsOf("t", 3, 50)
	for i := range txs {
		if err := j.Accept(txs[i:i+1], hs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	ids, _ := listSegments(dir)
	path := segPath(dir, ids[len(ids)-1])
	fi, _ := os.Stat(path)
	// Cut the last record short, as a crash mid-write does.
	if err := os.Truncate(path, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	_, rep := open(t, dir, Config{})
	if rep.Torn != 1 || len(rep.Accepted) != 2 || rep.Accepted[1].Hash != hs[1] {
		t.Fatalf("replay of a torn log: torn %d, %d accepted", rep.Torn, len(rep.Accepted))
	}
	// A flipped byte is caught by the checksum.
	data, _ := os.ReadFile(path)
	data[headerSize+bodyPrefix+2] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, rep = open(t, dir, Config{})
	if len(rep.Accepted) != 0 {
		t.Fatalf("a corrupt first record: replayed %d accepts", len(rep.Accepted))
	}
}

// TestConcurrentAcceptsShareSyncs: concurrent callers share fsyncs.
func TestConcurrentAcceptsShareSyncs(t *testing.T) {
	j, _ := open(t, t.TempDir(), Config{})
	const workers, each = 32, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			txs, hs := txsOf(fmt.Sprint("w", w), each, 100)
			for i := range txs {
				if err := j.Accept(txs[i:i+1], hs[i:i+1]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	s := j.Stats()
	if s.LiveAccepts != workers*each {
		t.Fatalf("%d live accepts, want %d", s.LiveAccepts, workers*each)
	}
	if s.Syncs >= workers*each {
		t.Errorf("%d fsyncs for %d accepts: no group commit", s.Syncs, workers*each)
	}
	t.Logf("%d accepts in %d fsyncs", workers*each, s.Syncs)
}

// TestBytesAreBounded: Accept refuses past the bound, and settling and
// compaction give the disk back even when a few records stay live for
// good.
func TestBytesAreBounded(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 256 << 10
	j, _ := open(t, dir, Config{MaxBytes: maxBytes, SegmentBytes: 16 << 10})
	txs, hs := txsOf("full", 1000, 1000)
	n := 0
	var err error
	for ; n < len(txs); n++ {
		if err = j.Accept(txs[n:n+1], hs[n:n+1]); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) || n == 0 {
		t.Fatalf("after %d accepts: %v, want ErrFull", n, err)
	}
	if s := j.Stats(); s.LiveBytes > maxBytes/2 || s.Refused == 0 {
		t.Fatalf("live %d bytes, refused %d", s.LiveBytes, s.Refused)
	}
	j.Settle(hs[:n])
	// A stream of accepts that settle, with one record in ten kept live
	// (pinned): the files stay within the bound.
	var pinned []chain.Hash
	for round := range 200 {
		txs, hs := txsOf(fmt.Sprint("r", round), 20, 1000)
		if err := j.Accept(txs, hs); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if round%10 == 0 {
			pinned = append(pinned, hs[0])
			hs = hs[1:]
		}
		j.Settle(hs)
		j.Maintain()
		if got := dirBytes(t, dir); got > maxBytes+16<<10 {
			t.Fatalf("round %d: %d bytes on disk, bound %d", round, got, maxBytes)
		}
	}
	if s := j.Stats(); s.MovedBytes == 0 || s.Deleted == 0 {
		t.Errorf("no compaction or deletion happened: %+v", s)
	}
	j.Close()
	_, rep := open(t, dir, Config{MaxBytes: maxBytes, SegmentBytes: 16 << 10})
	// Every pinned accept, in acceptance order, among at most a few
	// segments' worth of settled ones not yet collected.
	next := 0
	for _, a := range rep.Accepted {
		if next < len(pinned) && a.Hash == pinned[next] {
			next++
		}
	}
	if next != len(pinned) {
		t.Fatalf("replay holds %d of the %d pinned accepts in order", next, len(pinned))
	}
	if len(rep.Accepted) > maxBytes/1000 {
		t.Errorf("replayed %d accepts", len(rep.Accepted))
	}
}

// TestRejectionAcrossSegments: a durable rejection settles its accept, in
// another segment, which can then be deleted; the rejection replays.
func TestRejectionAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	j, _ := open(t, dir, Config{MaxBytes: 64 << 10, SegmentBytes: 4 << 10})
	txs, hs := txsOf("x", 40, 500)
	for i := range txs {
		if err := j.Accept(txs[i:i+1], hs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	j.Settle(hs[1:30])
	for range 5 {
		j.Maintain()
	}
	j.Reject(hs[0], "insufficient funds")
	j.Maintain() // writes the rejection, which frees the first segment
	j.Close()
	_, rep := open(t, dir, Config{MaxBytes: 64 << 10, SegmentBytes: 4 << 10})
	found := map[chain.Hash]bool{}
	for _, a := range rep.Accepted {
		found[a.Hash] = true
	}
	if found[hs[0]] {
		t.Error("the rejected accept is replayed as accepted")
	}
	for _, h := range hs[30:] {
		if !found[h] {
			t.Fatal("an unsettled accept is missing from the replay")
		}
	}
	if len(rep.Rejected) != 1 || rep.Rejected[0].Reason != "insufficient funds" {
		t.Fatalf("replayed rejections %+v", rep.Rejected)
	}
	if _, err := os.Stat(filepath.Join(dir, segName(1))); err == nil {
		t.Error("the first segment, all settled or moved, is still there")
	}
}
