//go:build unix

package e2e

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// checkAgreement fetches blocks 1..upTo from every given node and checks
// that they form one chain (heights in order, parent links, each block's
// QC certifying it) and that all nodes hold the same block at every
// height. It returns the reference chain.
func (c *cluster) checkAgreement(nodes []int, upTo uint64) []blockView {
	c.t.Helper()
	var ref []blockView
	for _, i := range nodes {
		bs, err := c.blocks(i, 1, upTo)
		if err != nil {
			c.t.Fatalf("node %d: %v", i, err)
		}
		if uint64(len(bs)) != upTo {
			c.t.Fatalf("node %d: got %d blocks for heights 1..%d", i, len(bs), upTo)
		}
		for k, b := range bs {
			if b.Height != uint64(k+1) {
				c.t.Fatalf("node %d: block %d of the range has height %d", i, k+1, b.Height)
			}
			if k > 0 && b.ParentHash != bs[k-1].Hash {
				c.t.Errorf("node %d: block %d's parent_hash %s is not block %d's hash %s", i, b.Height, b.ParentHash, k, bs[k-1].Hash)
			}
			if b.QC.BlockHash != b.Hash {
				c.t.Errorf("node %d: block %d's qc.block_hash %s is not its hash %s", i, b.Height, b.QC.BlockHash, b.Hash)
			}
			if len(b.QC.Signers) < 3 {
				c.t.Errorf("node %d: block %d's QC has signers %v, fewer than a quorum of 3", i, b.Height, b.QC.Signers)
			}
		}
		if ref == nil {
			ref = bs
			continue
		}
		for k := range bs {
			if bs[k].Hash != ref[k].Hash {
				c.t.Fatalf("SAFETY: node %d and node %d disagree at height %d: %s vs %s", nodes[0], i, k+1, ref[k].Hash, bs[k].Hash)
			}
			if strings.Join(bs[k].Txs, ",") != strings.Join(ref[k].Txs, ",") {
				c.t.Fatalf("node %d and node %d hold block %d with the same hash but different tx lists", nodes[0], i, k+1)
			}
		}
	}
	c.t.Logf("nodes %v agree on heights 1..%d", nodes, upTo)
	return ref
}

// txIndex maps every committed transaction hash to the heights that carry
// it, from one chain.
func txIndex(chain []blockView) map[string][]uint64 {
	idx := make(map[string][]uint64)
	for _, b := range chain {
		for _, h := range b.Txs {
			idx[h] = append(idx[h], b.Height)
		}
	}
	return idx
}

// duplicates describes the transactions committed more than once (at most
// limit lines, naming the node that accepted each when sent knows it) and
// counts them.
func duplicates(chain []blockView, idx map[string][]uint64, sent []sentTx, limit int) (lines []string, n int) {
	by := make(map[string]sentTx, len(sent))
	for _, tx := range sent {
		by[tx.hash] = tx
	}
	var hashes []string
	for h, hs := range idx {
		if len(hs) > 1 {
			hashes = append(hashes, h)
		}
	}
	slices.SortFunc(hashes, func(a, b string) int { return cmp.Compare(idx[a][1], idx[b][1]) })
	for _, h := range hashes {
		if len(lines) == limit {
			break
		}
		hs := idx[h]
		var who []string
		for _, x := range hs {
			b := chain[x-1]
			who = append(who, fmt.Sprintf("height %d (round %d, proposer %d)", x, b.Round, b.Proposer))
		}
		origin := "not sent by the load generator"
		if tx, ok := by[h]; ok {
			origin = fmt.Sprintf("%s, accepted by node %d", tx.key, tx.node)
		}
		lines = append(lines, fmt.Sprintf("tx %s (%s) committed %d times: %s", h, origin, len(hs), strings.Join(who, ", ")))
	}
	return lines, len(hashes)
}

// checkNoDuplicates fails the test for every transaction committed more
// than once.
func checkNoDuplicates(t *testing.T, chain []blockView, idx map[string][]uint64, sent []sentTx) {
	t.Helper()
	lines, n := duplicates(chain, idx, sent, 8)
	for _, l := range lines {
		t.Error(l)
	}
	if n > 0 {
		t.Errorf("%d transactions committed more than once in all (each must commit exactly once)", n)
	}
}
