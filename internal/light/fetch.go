package light

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/client"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/smt"
)

// MaxAnswer bounds one answer the client reads: a certificate or a proof.
const MaxAnswer = 1 << 20

// maxClockAhead is how far a certified block's time may be ahead of the
// client's clock: validators refuse blocks 10 s ahead of theirs.
const maxClockAhead = 10 * time.Second

// DefaultMaxAge is how old the latest certified block may be before an
// answer about "the latest" state is refused as stale.
const DefaultMaxAge = time.Minute

// Client is a light client: it trusts only the genesis file, asks one
// node, and checks every answer against a commit certificate of the
// genesis validators before it returns it. Witnesses, when given, are
// asked for their certificate of the same height: two certified blocks at
// one height are a fork.
type Client struct {
	chainID   string
	app       string // the genesis's application: what its state tree holds
	vals      *chain.ValidatorSet
	node      *client.Client
	witnesses []*client.Client
	// MaxAge refuses an answer about the latest state whose certified
	// block is older than this by the block's time (0: no check): a node
	// cannot then present an old state as the latest.
	MaxAge time.Duration
	now    func() time.Time
}

// NewClient returns a light client of the chain of g that asks node.
func NewClient(g *config.Genesis, node string, witnesses []string) (*Client, error) {
	vals, err := g.ValidatorSet()
	if err != nil {
		return nil, fmt.Errorf("light: genesis: %w", err)
	}
	nc, err := client.New(node, nil)
	if err != nil {
		return nil, err
	}
	c := &Client{chainID: g.ChainID, app: g.App, vals: vals, node: nc, MaxAge: DefaultMaxAge, now: time.Now}
	for _, w := range witnesses {
		wc, err := client.New(w, nil)
		if err != nil {
			return nil, fmt.Errorf("light: witness: %w", err)
		}
		c.witnesses = append(c.witnesses, wc)
	}
	return c, nil
}

// Verified is a commit the client checked, and the certificate it checked.
type Verified struct {
	Commit
	Certificate *Certificate
}

// ForkError is two certificates, each valid, for different blocks at one
// height: more than f validators signed conflicting blocks.
type ForkError struct {
	Height  uint64
	Node    string
	Witness string
	A, B    *Certificate // the node's and the witness's
	HashA   chain.Hash
	HashB   chain.Hash
}

func (e *ForkError) Error() string {
	a, _ := json.Marshal(e.A)
	b, _ := json.Marshal(e.B)
	return fmt.Sprintf("fork at height %d: %s certifies block %s, witness %s certifies block %s; certificates: %s and %s",
		e.Height, e.Node, e.HashA, e.Witness, e.HashB, a, b)
}

// Commit fetches and checks the certificate of height, and compares it
// with the witnesses'.
func (c *Client) Commit(ctx context.Context, height uint64) (Verified, error) {
	v, err := c.commitFrom(ctx, c.node, height)
	if err != nil {
		return Verified{}, err
	}
	for _, w := range c.witnesses {
		wv, err := c.commitFrom(ctx, w, height)
		if err != nil {
			return Verified{}, fmt.Errorf("witness %s: %w", w.URL(), err)
		}
		// Two chains may share block H and split above it: their
		// certified roots of H then differ, and that is a fork too.
		if wv.BlockHash != v.BlockHash || !bytes.Equal(wv.StateRoot, v.StateRoot) {
			return Verified{}, &ForkError{Height: height, Node: c.node.URL(), Witness: w.URL(),
				A: v.Certificate, B: wv.Certificate, HashA: v.BlockHash, HashB: wv.BlockHash}
		}
	}
	return v, nil
}

func (c *Client) commitFrom(ctx context.Context, from *client.Client, height uint64) (Verified, error) {
	raw, err := from.GetBounded(ctx, "/v1/commits/"+strconv.FormatUint(height, 10), MaxAnswer)
	if err != nil {
		return Verified{}, fmt.Errorf("commit of height %d: %w", height, err)
	}
	r, err := DecodeResponse(bytes.NewReader(raw))
	if err != nil {
		return Verified{}, fmt.Errorf("commit of height %d: %w", height, err)
	}
	cm, err := r.Check(c.chainID, c.vals, height)
	if err != nil {
		return Verified{}, fmt.Errorf("commit of height %d: %w", height, err)
	}
	return Verified{Commit: cm, Certificate: r.Certificate}, nil
}

// Value is a key's value that the client verified.
type Value struct {
	Height uint64
	Key    []byte
	Value  []byte // nil: the key is absent, which is proven too
	Root   []byte
	Commit Verified
}

type proofAnswer struct {
	Height uint64 `json:"height"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	Root   string `json:"root"`
	Spec   string `json:"spec"`
	Proof  string `json:"proof"`
}

// KV returns the verified value of key in the kv app at height (0: the
// latest certified one).
func (c *Client) KV(ctx context.Context, key string, height uint64) (Value, error) {
	if key == "" {
		return Value{}, errors.New("light: empty key")
	}
	if c.app != "kv" {
		return Value{}, fmt.Errorf("light: the genesis runs the %q app, not kv: its state tree holds no kv keys", c.app)
	}
	return c.prove(ctx, "/v1/proofs/kv/"+url.PathEscape(key), []byte(key), height)
}

// Account returns the verified account of the bank app at height (0: the
// latest certified one): its value is the account's canonical encoding
// (bank.DecodeAccount), nil for an account that does not exist.
func (c *Client) Account(ctx context.Context, addr chain.Address, height uint64) (Value, error) {
	if c.app != "bank" {
		return Value{}, fmt.Errorf("light: the genesis runs the %q app, not bank: its state tree holds no accounts", c.app)
	}
	return c.prove(ctx, "/v1/proofs/accounts/"+addr.String(), addr[:], height)
}

func (c *Client) prove(ctx context.Context, path string, key []byte, height uint64) (Value, error) {
	if height != 0 {
		path += "?height=" + strconv.FormatUint(height, 10)
	}
	raw, err := c.node.GetBounded(ctx, path, MaxAnswer)
	if err != nil {
		return Value{}, fmt.Errorf("proof: %w", err)
	}
	var a proofAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return Value{}, fmt.Errorf("proof: %w", err)
	}
	k, err1 := hex.DecodeString(a.Key)
	val, err2 := hex.DecodeString(a.Value)
	root, err3 := hex.DecodeString(a.Root)
	proof, err4 := hex.DecodeString(a.Proof)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Value{}, fmt.Errorf("proof: %w", err)
	}
	switch {
	case a.Spec != smt.Spec:
		return Value{}, fmt.Errorf("proof: spec %q, this client checks %q", a.Spec, smt.Spec)
	case !bytes.Equal(k, key):
		return Value{}, fmt.Errorf("proof: for key %x, asked for %x", k, key)
	case height != 0 && a.Height != height:
		return Value{}, fmt.Errorf("proof: of height %d, asked for %d", a.Height, height)
	case a.Height == 0:
		return Value{}, errors.New("proof: of height 0")
	}
	v, err := c.Commit(ctx, a.Height)
	if err != nil {
		return Value{}, err
	}
	if !bytes.Equal(root, v.StateRoot) {
		return Value{}, fmt.Errorf("proof: against root %x, but the certified root of height %d is %x", root, a.Height, v.StateRoot)
	}
	if height == 0 && c.MaxAge > 0 {
		age := c.now().Sub(time.Unix(0, v.Header.Time))
		if age > c.MaxAge {
			return Value{}, fmt.Errorf("stale: the latest state offered is of height %d, whose block is %v old (at most %v)", a.Height, age.Round(time.Second), c.MaxAge)
		}
		// A block time ahead of this clock would stretch the window.
		if age < -maxClockAhead {
			return Value{}, fmt.Errorf("stale or forged: the block of height %d is %v ahead of this clock (at most %v)", a.Height, (-age).Round(time.Second), maxClockAhead)
		}
	}
	if len(val) == 0 {
		val = nil
	}
	if err := smt.VerifyProof(v.StateRoot, key, val, proof); err != nil {
		return Value{}, fmt.Errorf("proof of key %x at height %d: %w", key, a.Height, err)
	}
	return Value{Height: a.Height, Key: key, Value: val, Root: v.StateRoot, Commit: v}, nil
}

// Inclusion is a transaction verified to be in a committed block.
type Inclusion struct {
	Hash   chain.Hash
	Height uint64
	Index  uint64
	Commit Verified
}

type txProofAnswer struct {
	Height uint64        `json:"height"`
	Hash   string        `json:"hash"`
	Proof  chain.TxProof `json:"proof"`
}

// Tx verifies that the transaction with hash h is in a committed block.
// Its outcome (applied or rejected) is not certified.
func (c *Client) Tx(ctx context.Context, h chain.Hash) (Inclusion, error) {
	raw, err := c.node.GetBounded(ctx, "/v1/txs/"+h.String()+"/proof", MaxAnswer)
	if err != nil {
		return Inclusion{}, fmt.Errorf("transaction proof: %w", err)
	}
	var a txProofAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return Inclusion{}, fmt.Errorf("transaction proof: %w", err)
	}
	if a.Hash != h.String() {
		return Inclusion{}, fmt.Errorf("transaction proof: for %s, asked for %s", a.Hash, h)
	}
	v, err := c.Commit(ctx, a.Height)
	if err != nil {
		return Inclusion{}, err
	}
	if err := a.Proof.Verify(v.Header.PayloadHash, h); err != nil {
		return Inclusion{}, fmt.Errorf("transaction %s in block %d: %w", h, a.Height, err)
	}
	return Inclusion{Hash: h, Height: a.Height, Index: a.Proof.Index, Commit: v}, nil
}
