package sim

import (
	"crypto/ed25519"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// memStore is a validator's simulated disk: it survives the validator's
// crashes, and holds exactly what the validator persisted through Ready.
type memStore struct {
	chainID   string
	safety    consensus.SafetyState
	blocks    map[chain.Hash]*chain.Block
	committed []chain.Hash // committed[h-1] is the block at height h
	certs     []*chain.QC  // certs[h-1] certifies it
	tip       *chain.Block
}

var _ consensus.Storage = (*memStore)(nil)

func newMemStore(chainID string) *memStore {
	return &memStore{chainID: chainID, blocks: make(map[chain.Hash]*chain.Block)}
}

func (s *memStore) SafetyState() consensus.SafetyState { return s.safety }
func (s *memStore) CommittedTip() *chain.Block         { return s.tip }
func (s *memStore) Block(h chain.Hash) (*chain.Block, bool) {
	b, ok := s.blocks[h]
	return b, ok
}

func (s *memStore) CommittedBlock(h uint64) (*chain.Block, chain.Hash, *chain.QC, bool) {
	if h == 0 || h > uint64(len(s.committed)) {
		return nil, chain.Hash{}, nil, false
	}
	return s.blocks[s.committed[h-1]], s.committed[h-1], s.certs[h-1], true
}

// persist writes what must be durable before messages go out.
func (s *memStore) persist(r *consensus.Ready) {
	for _, b := range r.Blocks {
		s.blocks[b.Hash(s.chainID)] = b
	}
	if r.Safety != nil {
		s.safety = *r.Safety
	}
}

// memoVerifier remembers signatures it has checked, so that in one
// simulated run each distinct signature costs one ed25519 verification, not
// one per validator. Verification is a pure function, so memoising it
// cannot change any outcome.
type memoVerifier struct {
	seen map[string]bool
}

func (v *memoVerifier) Verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	k := string(pub) + string(msg) + string(sig)
	if ok, hit := v.seen[k]; hit {
		return ok
	}
	ok := chain.Ed25519Verifier{}.Verify(pub, msg, sig)
	v.seen[k] = ok
	return ok
}

// source supplies deterministic payloads and times to simulated leaders.
type source struct {
	r    *run
	node int
	n    int
}

func (s *source) Payload(height uint64, _ []*chain.Block) ([][]byte, []chain.Evidence) {
	s.n++
	return [][]byte{[]byte("tx/" + itoa(uint64(s.node)) + "/" + itoa(uint64(s.n)) + "/h" + itoa(height))}, nil
}

func (s *source) HasTxs() bool { return true }

func (s *source) Time() int64 { return s.r.now * 1e6 }

func (s *source) Executed(*chain.Block) (uint64, []byte) {
	st := s.r.nodes[s.node].store
	if len(st.committed) == 0 {
		return 0, nil
	}
	root := st.committed[len(st.committed)-1]
	return uint64(len(st.committed)), root[:]
}

func itoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

func (s *source) Check(*chain.Block) error { return nil }
