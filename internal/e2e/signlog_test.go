package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// signAudit is what auditSignLog found in one validator's sign log: the
// lines `strategos node --sign-log` writes ("vote <round> <block>",
// "timeout <round> <high-qc-round>", "proposal <round> <block>"), with the
// "# life N" markers the tests append before each start.
type signAudit struct {
	votes, timeouts, proposals int
	lives                      int // marker lines seen
	livesVoting                int // lives (stretches between markers) with at least one vote
	// lastLifeVotes counts the votes after the last marker, and
	// lastLifeMinVote is the lowest round among them.
	lastLifeVotes   int
	lastLifeMinVote uint64
	// beforeLastLife is the highest vote or timeout round signed before
	// the last marker.
	beforeLastLife uint64
	violations     []string
}

func (a signAudit) String() string {
	return fmt.Sprintf("%d lives (%d of them voted), %d votes, %d timeouts, %d proposals; %d votes in the last life (lowest round %d, highest round signed before it %d)",
		a.lives, a.livesVoting, a.votes, a.timeouts, a.proposals, a.lastLifeVotes, a.lastLifeMinVote, a.beforeLastLife)
}

type signed struct {
	what string // block hash or high-QC round
	line int
}

// auditSignLog reads a sign log and reports every contradiction in it:
//
//   - two votes, or two proposals, for one round naming different blocks;
//   - a timeout for a round reporting a lower high-QC round than an
//     earlier one for that round (re-signing with a higher one is allowed);
//   - a vote or proposal in a round at or below one the validator already
//     voted or timed out in, or a timeout below such a round (the safety
//     state's documented invariant: a validator never votes in its last
//     voted-or-timed-out round or below again, and proposes only above it);
//   - a line it cannot parse.
//
// An identical line repeated (a timeout re-sent after a restart) is fine.
func auditSignLog(r io.Reader) (signAudit, error) {
	var a signAudit
	votes := map[uint64]signed{}
	proposals := map[uint64]signed{}
	timeouts := map[uint64]signed{}
	var last uint64 // highest vote or timeout round so far
	var signedAny bool
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			a.lives++
			a.lastLifeVotes, a.lastLifeMinVote, a.beforeLastLife = 0, 0, last
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			a.violations = append(a.violations, fmt.Sprintf("line %d: malformed %q", n, line))
			continue
		}
		round, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			a.violations = append(a.violations, fmt.Sprintf("line %d: bad round in %q", n, line))
			continue
		}
		var seen map[uint64]signed
		switch f[0] {
		case "vote":
			a.votes++
			seen = votes
			if signedAny && round <= last {
				a.violations = append(a.violations, fmt.Sprintf("line %d: vote in round %d after signing a vote or timeout in round %d", n, round, last))
			}
			if a.lastLifeVotes == 0 {
				a.livesVoting++
				a.lastLifeMinVote = round
			}
			a.lastLifeMinVote = min(a.lastLifeMinVote, round)
			a.lastLifeVotes++
		case "proposal":
			a.proposals++
			seen = proposals
			if signedAny && round <= last {
				a.violations = append(a.violations, fmt.Sprintf("line %d: proposal in round %d after signing a vote or timeout in round %d", n, round, last))
			}
		case "timeout":
			a.timeouts++
			seen = timeouts
			if _, err := strconv.ParseUint(f[2], 10, 64); err != nil {
				a.violations = append(a.violations, fmt.Sprintf("line %d: bad high-QC round in %q", n, line))
				continue
			}
			if signedAny && round < last {
				a.violations = append(a.violations, fmt.Sprintf("line %d: timeout in round %d after signing a vote or timeout in round %d", n, round, last))
			}
		default:
			a.violations = append(a.violations, fmt.Sprintf("line %d: unknown kind in %q", n, line))
			continue
		}
		if prev, ok := seen[round]; ok && f[0] == "timeout" {
			// A timeout is re-signed for its round only with a higher
			// high QC; a lower one would contradict what was signed.
			was, _ := strconv.ParseUint(prev.what, 10, 64)
			now, _ := strconv.ParseUint(f[2], 10, 64)
			if now < was {
				a.violations = append(a.violations, fmt.Sprintf("line %d: conflicting timeouts in round %d: high QC %d after %d (line %d)", n, round, now, was, prev.line))
			} else {
				seen[round] = signed{what: f[2], line: n}
			}
		} else if ok && prev.what != f[2] {
			a.violations = append(a.violations, fmt.Sprintf("line %d: conflicting %ss in round %d: %s (line %d) and %s", n, f[0], round, prev.what, prev.line, f[2]))
		} else if !ok {
			seen[round] = signed{what: f[2], line: n}
		}
		if f[0] != "proposal" {
			last = max(last, round)
			signedAny = true
		}
	}
	return a, sc.Err()
}

// auditSignLogFile audits the sign log at path.
func auditSignLogFile(path string) (signAudit, error) {
	f, err := os.Open(path)
	if err != nil {
		return signAudit{}, err
	}
	defer f.Close()
	return auditSignLog(f)
}

// TestAuditSignLog checks the auditor itself on fabricated logs: it must
// flag each kind of contradiction and accept a clean log across lives.
func TestAuditSignLog(t *testing.T) {
	const (
		h1 = "aaaa000000000000000000000000000000000000000000000000000000000001"
		h2 = "bbbb000000000000000000000000000000000000000000000000000000000002"
	)
	clean := strings.Join([]string{
		"# life 1",
		"vote 1 " + h1,
		"vote 2 " + h2,
		"proposal 4 " + h1,
		"vote 4 " + h1,
		"timeout 5 4",
		"timeout 5 4", // re-sent unchanged
		"",
		"# life 2",
		"timeout 5 4", // re-sent after the restart
		"proposal 8 " + h2,
		"vote 8 " + h2,
		"timeout 8 7", // timing out in a round it voted in is allowed
		"vote 9 " + h1,
		"",
	}, "\n")
	a, err := auditSignLog(strings.NewReader(clean))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.violations) != 0 {
		t.Fatalf("clean log flagged: %v", a.violations)
	}
	if a.lives != 2 || a.livesVoting != 2 || a.votes != 5 || a.timeouts != 4 || a.proposals != 2 || a.lastLifeVotes != 2 || a.lastLifeMinVote != 8 || a.beforeLastLife != 5 {
		t.Fatalf("clean log: %v", a)
	}

	bad := []struct {
		name, log, want string
	}{
		{"conflicting votes across lives", "# life 1\nvote 7 " + h1 + "\n# life 2\nvote 7 " + h2 + "\n", "conflicting votes in round 7"},
		{"conflicting proposals", "proposal 3 " + h1 + "\nproposal 3 " + h2 + "\n", "conflicting proposals in round 3"},
		{"conflicting timeouts", "timeout 6 5\n# life 2\ntimeout 6 4\n", "conflicting timeouts in round 6"},
		{"vote repeated in its round", "vote 7 " + h1 + "\n# life 2\nvote 7 " + h1 + "\n", "vote in round 7 after"},
		{"vote below a signed round", "vote 7 " + h1 + "\nvote 6 " + h2 + "\n", "vote in round 6 after"},
		{"vote in a timed-out round", "timeout 9 8\nvote 9 " + h1 + "\n", "vote in round 9 after"},
		{"proposal in a voted round", "vote 9 " + h1 + "\nproposal 9 " + h2 + "\n", "proposal in round 9 after"},
		{"timeout going back", "timeout 9 8\ntimeout 8 7\n", "timeout in round 8 after"},
		{"torn line", "vote 9 " + h1 + "\nvote 1", "malformed"},
		{"unknown kind", "commit 9 " + h1 + "\n", "unknown kind"},
	}
	for _, tc := range bad {
		a, err := auditSignLog(strings.NewReader(tc.log))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		found := false
		for _, v := range a.violations {
			found = found || strings.Contains(v, tc.want)
		}
		if !found {
			t.Errorf("%s: violations %q, want one containing %q", tc.name, a.violations, tc.want)
		}
	}
}
