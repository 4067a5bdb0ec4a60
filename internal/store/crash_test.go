package store

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

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

// checkChain walks the committed chain from genesis to the tip.
func checkChain(s *Store) error {
	parent := testGenesis
	for h := uint64(1); h <= s.CommittedHeight(); h++ {
		b, hash, qc, ok := s.CommittedBlock(h)
		if !ok {
			return fmt.Errorf("height %d missing: %v", h, s.Err())
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

// TestCrashChild is the child of TestCrashSafety; it does nothing unless
// started by it. It resumes from the store, then alternately persists a
// block with a new safety state and commits it, printing what is durable,
// until it is killed (or, if orphaned, for at most ten seconds).
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
	}
}
