package store

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// crashEnv names the store file of a crash child; see TestCrashChild.
const crashEnv = "STRATEGOS_STORE_CRASH_CHILD"

// TestCrashSafety runs a child process that persists and commits in a loop,
// kills it with SIGKILL at random moments, and checks after each kill that
// the store opens, the committed chain is intact and contiguous, and
// nothing the child reported as durable was lost.
//
// SIGKILL loses the process, not the kernel's page cache, so this checks
// that every transaction is atomic and that Open recovers from a write cut
// anywhere; durability against power loss rests on bbolt's fsyncs.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes for several seconds")
	}
	const kills = 20
	rng := rand.New(rand.NewPCG(1, 2))
	path := t.TempDir() + "/crash.db"
	var round, height uint64 // highest round and height known to be durable
	for i := range kills {
		durable, committed := runAndKill(t, path, time.Duration(rng.IntN(400))*time.Millisecond)
		round, height = max(round, durable), max(height, committed)

		s, err := Open(path, testChain, testGenesis)
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", i, err)
		}
		if got := s.SafetyState().LastVotedRound; got < round {
			t.Errorf("kill %d: last voted round %d, but round %d was durable", i, got, round)
		}
		if s.CommittedHeight() < height {
			t.Errorf("kill %d: committed height %d, but height %d was durable", i, s.CommittedHeight(), height)
		}
		if err := checkChain(s); err != nil {
			t.Errorf("kill %d: %v", i, err)
		}
		if e := s.EarliestHeight(); s.CommittedHeight() > 2*crashRetain+MaxPruneHeights && e+crashRetain+MaxPruneHeights < s.CommittedHeight() {
			t.Errorf("kill %d: earliest height %d at tip %d: the child does not prune", i, e, s.CommittedHeight())
		}
		round, height = s.SafetyState().LastVotedRound, s.CommittedHeight()
		s.Close()
		t.Logf("kill %d: round %d, height %d", i, round, height)
	}
	if round < kills {
		t.Fatalf("only %d rounds in %d runs: the child hardly wrote", round, kills)
	}
}

// runAndKill starts a crash child, kills it after d, and returns the
// highest round and height it reported durable.
func runAndKill(t *testing.T, path string, d time.Duration) (round, height uint64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(d, func() { cmd.Process.Kill() })
	defer timer.Stop()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		kind, n, ok := strings.Cut(sc.Text(), " ")
		v, err := strconv.ParseUint(n, 10, 64)
		switch {
		case !ok || err != nil:
		case kind == "durable":
			round = max(round, v)
		case kind == "committed":
			height = max(height, v)
		}
	}
	cmd.Wait() // killed, or out of time; either way it wrote what it reported
	return round, height
}

// checkChain walks the committed chain from the earliest height kept
// (genesis, unless pruned) to the tip, and checks that nothing below it
// is left.
func checkChain(s *Store) error {
	parent := testGenesis
	first := s.EarliestHeight()
	if first > 1 {
		if _, _, _, ok := s.CommittedBlock(first - 1); ok {
			return fmt.Errorf("height %d is below the earliest, %d, and still served", first-1, first)
		}
		if n := storedBelow(s, first); n > 0 {
			return fmt.Errorf("%d blocks stored below the earliest height %d", n, first)
		}
	}
	for h := first; h <= s.CommittedHeight(); h++ {
		b, hash, qc, ok := s.CommittedBlock(h)
		if !ok {
			return fmt.Errorf("height %d missing: %v", h, s.Err())
		}
		if h == first && first > 1 {
			parent = b.Parent
		}
		if b.Height != h || b.Parent != parent || b.Hash(testChain) != hash || qc.BlockHash != hash {
			return fmt.Errorf("height %d: block %d, parent %s (want %s), hash %s, qc for %s",
				h, b.Height, b.Parent.Short(), parent.Short(), hash.Short(), qc.BlockHash.Short())
		}
		parent = hash
	}
	if tip := s.CommittedTip(); s.CommittedHeight() > 0 && tip.Hash(testChain) != parent {
		return fmt.Errorf("cached tip is not the last committed block")
	}
	return nil
}

// storedBlocks counts the blocks stored below height.
func storedBelow(s *Store, height uint64) int {
	n := 0
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBlocks).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, heightKey(height)) < 0; k, _ = c.Next() {
			n++
		}
		return nil
	})
	return n
}

// crashRetain is how many heights the crash child keeps as it prunes.
const crashRetain = 20

// TestCrashChild is the child of TestCrashSafety; it does nothing unless
// started by it. It resumes from the store, then alternately persists a
// block with a new safety state and commits it, printing what is durable,
// and prunes all but the latest crashRetain heights, until it is killed
// (or, if orphaned, for at most ten seconds).
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestCrashSafety")
	}
	s, err := Open(path, testChain, testGenesis)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		round := s.SafetyState().LastVotedRound + 1
		b := child(s.CommittedTip(), round, 50)
		qc := commitOf(b).QC
		safety := &consensus.SafetyState{LastVotedRound: round, HighQC: b.QC,
			LastTimeout: &chain.Timeout{Round: round, HighQC: b.QC, Voter: 1, Sig: make([]byte, 64)}}
		if err := s.Persist([]*chain.Block{b}, safety); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "durable %d\n", round)
		if err := s.Commit([]consensus.Commit{{Block: b, Hash: qc.BlockHash, QC: qc}}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "committed %d\n", b.Height)
		if b.Height > crashRetain {
			if _, err := s.Prune(b.Height - crashRetain); err != nil {
				t.Fatal(err)
			}
		}
	}
}
