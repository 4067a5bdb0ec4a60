package light

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

// healthy is a chain of consecutive rounds where block h carries the root
// of h-2; the certificate of height 3 is headers 3 to 6.
func healthy(t *testing.T) *testNet {
	n := newNet(t, testChain)
	n.grow(lagTwo, consecutive(1, 10)...)
	return n
}

func TestBuildVerifyHealthy(t *testing.T) {
	n := healthy(t)
	for h := uint64(1); h <= 6; h++ {
		c := n.build(h)
		// h, h+1, the carrier h+2 and its child h+3.
		if len(c.Headers) != 4 {
			t.Errorf("height %d: %d headers, want 4", h, len(c.Headers))
		}
		cm, err := Verify(testChain, n.vals, h, c)
		if err != nil {
			t.Fatalf("height %d: %v", h, err)
		}
		if cm.Height != h || cm.BlockHash != n.hashes[h-1] || !bytes.Equal(cm.StateRoot, rootOf(h)) || cm.Header.Height != h {
			t.Errorf("height %d: commit %+v", h, cm)
		}
	}
}

func TestBuildNotCertified(t *testing.T) {
	n := healthy(t)
	// 7's root is in 9, but 9 needs a committed child of round 10 and
	// then 10 (the tip) is the child: fine. 8's root is in 10, whose
	// child is not committed yet; 9 and 10 and above have no carrier.
	if _, err := Build(n, testChain, 7); err != nil {
		t.Errorf("height 7: %v", err)
	}
	for _, h := range []uint64{0, 8, 9, 10, 11, 100} {
		if _, err := Build(n, testChain, h); !errors.Is(err, ErrNotCertified) {
			t.Errorf("height %d: %v, want ErrNotCertified", h, err)
		}
	}
}

// A run with failed rounds: the certificate reaches past them to the next
// pair of consecutive rounds.
func TestBuildVerifyAcrossTimeouts(t *testing.T) {
	n := newNet(t, testChain)
	// Heights 1-9; rounds jump after height 4.
	n.grow(lagTwo, 1, 2, 3, 4, 6, 8, 10, 11, 12)
	c := n.build(3) // carrier 5 (round 6); pairs from there: (10, 11) at heights 7, 8
	if got := len(c.Headers); got != 6 {
		t.Fatalf("%d headers, want 6 (heights 3 to 8)", got)
	}
	if _, err := Verify(testChain, n.vals, 3, c); err != nil {
		t.Fatal(err)
	}
}

// The root may never be carried: a proposer that executed further skips
// a height. The node says so rather than build something false.
func TestBuildSkippedRoot(t *testing.T) {
	n := newNet(t, testChain)
	n.grow(func(h uint64) uint64 {
		if h == 6 {
			return 5 // height 4's root would have been here
		}
		return lagTwo(h)
	}, consecutive(1, 12)...)
	if _, err := Build(n, testChain, 4); !errors.Is(err, ErrNotCertified) {
		t.Fatalf("height 4: %v, want ErrNotCertified", err)
	}
	if _, err := Verify(testChain, n.vals, 5, n.build(5)); err != nil {
		t.Fatal(err)
	}
}

// certOf returns a certificate over the committed heights from..to with
// the stored QC of to, built by hand: Build would refuse some of these.
func (n *testNet) certOf(from, to uint64) *Certificate {
	c := &Certificate{ChainID: n.chainID, QC: n.qcs[to-1]}
	for h := from; h <= to; h++ {
		c.Headers = append(c.Headers, n.blocks[h-1].Header(n.chainID))
	}
	return clone(c)
}

func TestVerifyRefuses(t *testing.T) {
	n := healthy(t)
	other := newNet(t, "another-chain")
	good := n.build(3)
	if _, err := Verify(testChain, n.vals, 3, good); err != nil {
		t.Fatal(err)
	}
	last := func(c *Certificate) *chain.Header { return &c.Headers[len(c.Headers)-1] }
	tests := []struct {
		name   string
		height uint64
		edit   func(c *Certificate) *Certificate
		want   error
	}{
		{"too few signatures", 3, func(c *Certificate) *Certificate {
			c.QC.Votes = c.QC.Votes[:2]
			return c
		}, errNoQuorum},
		{"signer twice", 3, func(c *Certificate) *Certificate {
			c.QC.Votes[2] = c.QC.Votes[1]
			return c
		}, errDupSigner},
		{"signer out of order", 3, func(c *Certificate) *Certificate {
			c.QC.Votes[0], c.QC.Votes[1] = c.QC.Votes[1], c.QC.Votes[0]
			return c
		}, errSignerOrder},
		{"foreign signer", 3, func(c *Certificate) *Certificate {
			c.QC.Votes[2].Signer = 7
			return c
		}, errUnknown},
		{"forged signature", 3, func(c *Certificate) *Certificate {
			c.QC.Votes[1].Sig[5] ^= 1
			return c
		}, errBadSig},
		{"forged signature inside a header", 3, func(c *Certificate) *Certificate {
			// The QC of header 1 is part of header 1's hash, so the forged
			// vote leaves the links intact only if the rest is rebuilt:
			// instead, a vote by the wrong key over the right message.
			q := c.Headers[1].QC
			q.Votes[0].Sig = n.sign(testChain, q.Round, q.BlockHash, 3).Votes[0].Sig
			return relink(c)
		}, errBadSig},
		{"signature of another chain id", 3, func(c *Certificate) *Certificate {
			c.QC = n.sign("another-chain", c.QC.Round, c.QC.BlockHash, 0, 1, 2)
			return c
		}, errBadSig},
		{"QC for another block", 3, func(c *Certificate) *Certificate {
			c.QC = n.quorumQC(c.QC.Round, n.hashes[0])
			return c
		}, errQCTarget},
		{"QC for another round", 3, func(c *Certificate) *Certificate {
			c.QC = n.quorumQC(c.QC.Round+1, c.QC.BlockHash)
			return c
		}, errQCTarget},
		{"header QC for another round", 3, func(c *Certificate) *Certificate {
			q := c.Headers[2].QC
			c.Headers[2].QC = n.quorumQC(q.Round+1, q.BlockHash)
			return c
		}, errQCTarget},
		{"broken parent link", 3, func(c *Certificate) *Certificate {
			c.Headers[2].Parent[0] ^= 1
			return c
		}, errParentLink},
		{"altered header", 3, func(c *Certificate) *Certificate {
			c.Headers[1].Time++
			return c
		}, errParentLink},
		{"height gap", 3, func(c *Certificate) *Certificate {
			c.Headers = append(c.Headers[:1], c.Headers[2:]...)
			return c
		}, errHeightGap},
		{"headers reordered", 3, func(c *Certificate) *Certificate {
			c.Headers[1], c.Headers[2] = c.Headers[2], c.Headers[1]
			return c
		}, errHeightGap},
		{"no consecutive-round pair after the carrier", 3, func(c *Certificate) *Certificate {
			// Cut at the carrier: its certified child is gone.
			return n.certOf(3, 5)
		}, errNoCommit},
		{"no header carrying the root", 3, func(c *Certificate) *Certificate {
			c.Headers[2].ExecHeight = 2
			return relink(c)
		}, errNoRoot},
		{"another height than asked", 4, func(c *Certificate) *Certificate { return c }, errHeight},
		{"height 0", 0, func(c *Certificate) *Certificate { return c }, errHeight},
		{"longer than the bound", 1, func(c *Certificate) *Certificate {
			long := newNet(t, testChain)
			long.grow(lagTwo, consecutive(1, MaxCertHeaders+2)...)
			return long.certOf(1, MaxCertHeaders+1)
		}, errLength},
		{"too short", 3, func(c *Certificate) *Certificate {
			c.Headers = c.Headers[:2]
			return c
		}, errLength},
		{"huge state root", 3, func(c *Certificate) *Certificate {
			c.Headers[1].StateRoot = make([]byte, 1<<20)
			return c
		}, errField},
		{"huge failed leaders", 3, func(c *Certificate) *Certificate {
			last(c).FailedLeaders = make([]uint32, 1<<16)
			return c
		}, errField},
		{"huge signature", 3, func(c *Certificate) *Certificate {
			c.QC.Votes[0].Sig = make([]byte, 1<<16)
			return c
		}, errField},
		{"more votes than validators", 3, func(c *Certificate) *Certificate {
			c.QC.Votes = append(c.QC.Votes, c.QC.Votes...)
			return c
		}, errField},
		{"missing final QC", 3, func(c *Certificate) *Certificate {
			c.QC = nil
			return c
		}, errField},
		{"missing header QC", 3, func(c *Certificate) *Certificate {
			c.Headers[0].QC = nil
			return c
		}, errField},
		{"unknown proposer", 3, func(c *Certificate) *Certificate {
			c.Headers[0].Proposer = 9
			return c
		}, errField},
		{"another chain's certificate", 3, func(c *Certificate) *Certificate {
			other.grow(lagTwo, consecutive(1, 10)...)
			oc, err := Build(other, "another-chain", 3)
			if err != nil {
				t.Fatal(err)
			}
			oc.ChainID = testChain
			return oc // its hashes are another chain's
		}, errParentLink},
		{"chain id field of another chain", 3, func(c *Certificate) *Certificate {
			c.ChainID = "another-chain"
			return c
		}, errChainID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(testChain, n.vals, tt.height, tt.edit(clone(good)))
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want.Error()) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
		})
	}
	if _, err := Verify(testChain, n.vals, 3, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil certificate: %v", err)
	}
}

// relink recomputes the parent links and QC targets above a header that a
// test changed, re-signing each QC with a quorum: only the change itself
// is then wrong.
func relink(c *Certificate) *Certificate {
	n := newNet(nil, c.ChainID)
	for i := 1; i < len(c.Headers); i++ {
		prev := c.Headers[i-1].Hash(c.ChainID)
		if c.Headers[i].Parent == prev {
			continue
		}
		c.Headers[i].Parent = prev
		c.Headers[i].QC = n.quorumQC(c.Headers[i-1].Round, prev)
	}
	l := &c.Headers[len(c.Headers)-1]
	c.QC = n.quorumQC(l.Round, l.Hash(c.ChainID))
	return c
}

// Two headers that a quorum certified with different roots for one height
// mean the application diverged; the certificate proves no root.
func TestVerifyRootConflict(t *testing.T) {
	n := newNet(t, testChain)
	exec := func(h uint64) uint64 {
		if h == 7 {
			return 4 // as block 6 does
		}
		return lagTwo(h)
	}
	for h := uint64(1); h <= 10; h++ {
		n.grow(exec, h)
		if h == 7 {
			n.blocks[6].StateRoot = []byte("another root")
			n.hashes[6] = n.blocks[6].Hash(testChain)
			n.qcs[6] = n.quorumQC(h, n.hashes[6])
		}
	}
	if _, err := Verify(testChain, n.vals, 4, n.certOf(4, 7)); !errors.Is(err, errRootConflict) {
		t.Fatalf("got %v, want %v", err, errRootConflict)
	}
}
