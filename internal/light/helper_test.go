package light

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

const testChain = "light-test"

// testNet is four validators with real ed25519 keys (fixed seeds, so a
// failing test is reproducible) and a committed chain they signed.
type testNet struct {
	t       testing.TB
	chainID string
	keys    []ed25519.PrivateKey
	vals    *chain.ValidatorSet
	genesis chain.Hash

	// The committed chain: blocks[h-1] is height h, with its hash and the
	// QC certifying it (the QC inside the next block, or a fresh one for
	// the tip), as the store keeps them.
	blocks []*chain.Block
	hashes []chain.Hash
	qcs    []*chain.QC

	// salt, when set, makes the roots the blocks grown from now on
	// carry differ from rootOf's: another execution of the same blocks.
	salt byte
}

func newNet(t testing.TB, chainID string) *testNet {
	n := &testNet{t: t, chainID: chainID}
	vs := make([]chain.Validator, 4)
	for i := range vs {
		seed := sha256.Sum256([]byte{'v', byte(i)})
		n.keys = append(n.keys, ed25519.NewKeyFromSeed(seed[:]))
		vs[i] = chain.Validator{PubKey: n.keys[i].Public().(ed25519.PublicKey), Power: 1}
	}
	vals, err := chain.NewValidatorSet(vs)
	if err != nil {
		t.Fatal(err)
	}
	n.vals = vals
	n.genesis = chain.Genesis(chainID, vals).Hash(chainID)
	return n
}

// sign returns a QC for (round, block) signed over chainID by signers.
func (n *testNet) sign(chainID string, round uint64, block chain.Hash, signers ...uint32) *chain.QC {
	q := &chain.QC{Round: round, BlockHash: block}
	msg := chain.VoteSignBytes(chainID, round, block)
	for _, s := range signers {
		q.Votes = append(q.Votes, chain.Signature{Signer: s, Sig: ed25519.Sign(n.keys[s], msg)})
	}
	return q
}

// quorumQC is a QC of validators 0, 1, 2: three of four, a quorum.
func (n *testNet) quorumQC(round uint64, block chain.Hash) *chain.QC {
	return n.sign(n.chainID, round, block, 0, 1, 2)
}

// rootOf is the state root the test application reaches after height h.
func rootOf(h uint64) []byte {
	s := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("root"), h))
	return s[:]
}

// rootFor is the root that the blocks n grows carry for height h.
func (n *testNet) rootFor(h uint64) []byte {
	r := rootOf(h)
	if n.salt != 0 {
		s := sha256.Sum256(append(r, n.salt))
		r = s[:]
	}
	return r
}

// lagTwo is the usual execution lag: block h carries the root of h-2.
func lagTwo(h uint64) uint64 {
	if h < 2 {
		return 0
	}
	return h - 2
}

// grow appends committed blocks of the given rounds; exec gives each new
// height the height whose root it carries.
func (n *testNet) grow(exec func(uint64) uint64, rounds ...uint64) {
	for _, r := range rounds {
		parent, parentRound, qc := n.genesis, uint64(0), chain.GenesisQC(n.genesis)
		if len(n.blocks) > 0 {
			last := len(n.blocks) - 1
			parent, parentRound = n.hashes[last], n.blocks[last].Round
			// The tip's fresh QC is replaced by the one the child carries.
			qc = n.quorumQC(parentRound, parent)
			n.qcs[last] = qc
		}
		h := uint64(len(n.blocks)) + 1
		e := exec(h)
		b := &chain.Block{
			Height: h, Round: r, Parent: parent, QC: qc,
			Payload:  [][]byte{[]byte("tx")},
			Proposer: uint32(r % 4), Time: int64(h) * 1e9,
			ExecHeight: e, StateRoot: n.rootFor(e),
		}
		if r > parentRound+1 {
			for g := r - 1; g > parentRound; g-- {
				b.FailedLeaders = append(b.FailedLeaders, uint32(g%4))
			}
		}
		hash := b.Hash(n.chainID)
		n.blocks = append(n.blocks, b)
		n.hashes = append(n.hashes, hash)
		n.qcs = append(n.qcs, n.quorumQC(r, hash))
	}
}

// CommittedHeight and CommittedBlock make the net a BlockSource.
func (n *testNet) CommittedHeight() uint64 { return uint64(len(n.blocks)) }

func (n *testNet) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	if h == 0 || h > uint64(len(n.blocks)) {
		return nil, chain.Hash{}, nil, false
	}
	return n.blocks[h-1], n.hashes[h-1], n.qcs[h-1], true
}

// consecutive returns rounds from..to.
func consecutive(from, to uint64) []uint64 {
	var out []uint64
	for r := from; r <= to; r++ {
		out = append(out, r)
	}
	return out
}

// build is Build that must succeed.
func (n *testNet) build(height uint64) *Certificate {
	n.t.Helper()
	c, err := Build(n, n.chainID, height)
	if err != nil {
		n.t.Fatalf("build %d: %v", height, err)
	}
	return c
}

// clone deep-copies a certificate, so a test can corrupt one part.
func clone(c *Certificate) *Certificate {
	out := &Certificate{ChainID: c.ChainID, QC: cloneQC(c.QC)}
	for _, h := range c.Headers {
		h.QC = cloneQC(h.QC)
		h.StateRoot = append([]byte(nil), h.StateRoot...)
		h.FailedLeaders = append([]uint32(nil), h.FailedLeaders...)
		out.Headers = append(out.Headers, h)
	}
	return out
}

func cloneQC(q *chain.QC) *chain.QC {
	if q == nil {
		return nil
	}
	out := &chain.QC{Round: q.Round, BlockHash: q.BlockHash}
	for _, v := range q.Votes {
		out.Votes = append(out.Votes, chain.Signature{Signer: v.Signer, Sig: append([]byte(nil), v.Sig...)})
	}
	return out
}
