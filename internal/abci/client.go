package abci

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	"github.com/cometbft/cometbft/version"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// Defaults of Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultMaxFrame      = 64 << 20
	DefaultMaxSmallFrame = 1 << 20
	DefaultCheckTxChunk  = 1000
	DefaultMaxElements   = 1 << 22
)

// maxAppHash bounds an application's hash, which every later block
// carries (the node's bound too).
const maxAppHash = 64

// Options tunes a Client; the zero value gives the defaults.
type Options struct {
	// Timeout bounds each exchange with the application: one request, or
	// one chunk of a CheckTx batch, on top of the context's deadline.
	Timeout time.Duration
	// MaxFrame bounds a FinalizeBlock, PrepareProposal or Query response.
	MaxFrame int
	// MaxSmallFrame bounds every other response.
	MaxSmallFrame int
	// MaxElements bounds the nested messages, strings and bytes a
	// response holds (decoding costs up to about 100 bytes each); it is
	// checked on responses over 64 KiB.
	MaxElements int
	// CheckTxChunk is how many CheckTx requests are pipelined in one
	// exchange.
	CheckTxChunk int
	// Logger receives reconnections and trimmed proposals; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.MaxSmallFrame <= 0 {
		o.MaxSmallFrame = DefaultMaxSmallFrame
	}
	if o.MaxElements <= 0 {
		o.MaxElements = DefaultMaxElements
	}
	if o.CheckTxChunk <= 0 {
		o.CheckTxChunk = DefaultCheckTxChunk
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// maxFrame is the bound on the response to req.
func (o *Options) maxFrame(req *abcitypes.Request) int {
	switch req.Value.(type) {
	case *abcitypes.Request_FinalizeBlock, *abcitypes.Request_PrepareProposal, *abcitypes.Request_Query,
		*abcitypes.Request_LoadSnapshotChunk, *abcitypes.Request_ListSnapshots:
		return o.MaxFrame
	}
	return o.MaxSmallFrame
}

// Client is an app.Application that is an ABCI application over its
// socket protocol.
type Client struct {
	opts      Options
	log       *slog.Logger
	vals      *chain.ValidatorSet
	addrs     [][]byte // CometBFT address of each validator, by index
	consensus *conn
	mempool   *conn
	checks    *coalescer // CheckTx calls on mempool, merged
	query     *conn
	snapshot  *conn
}

var _ app.Application = (*Client)(nil)

// New returns a client of the application at addr (tcp://HOST:PORT or
// unix:///PATH) for a chain of validators vals. It dials nothing: each
// connection is dialled on its first call, so an application that is not
// up yet is only unavailable.
func New(addr string, vals *chain.ValidatorSet, opts Options) (*Client, error) {
	network, address, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	if vals == nil {
		return nil, errors.New("abci: no validator set")
	}
	c := &Client{opts: opts.withDefaults(), vals: vals}
	c.log = c.opts.Logger
	for i := range vals.Len() {
		a := chain.AddressOf(vals.Get(uint32(i)).PubKey)
		c.addrs = append(c.addrs, a[:])
	}
	c.consensus = newConn("consensus", network, address, &c.opts)
	c.mempool = newConn("mempool", network, address, &c.opts)
	c.checks = newCoalescer(c.mempool, c.opts.CheckTxChunk)
	c.query = newConn("query", network, address, &c.opts)
	c.snapshot = newConn("snapshot", network, address, &c.opts)
	return c, nil
}

// parseAddr splits tcp://HOST:PORT or unix:///PATH into a network and
// an address for net.Dial.
func parseAddr(addr string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(addr, "tcp://") && len(addr) > len("tcp://"):
		return "tcp", strings.TrimPrefix(addr, "tcp://"), nil
	case strings.HasPrefix(addr, "unix://") && len(addr) > len("unix://"):
		return "unix", strings.TrimPrefix(addr, "unix://"), nil
	}
	return "", "", fmt.Errorf("abci: address %q: want tcp://HOST:PORT or unix:///PATH", addr)
}

// Close closes every connection; calls in progress fail.
func (c *Client) Close() error {
	return errors.Join(c.consensus.close(), c.mempool.close(), c.query.close(), c.snapshot.close())
}

// Info asks the application for its last committed block.
func (c *Client) Info(ctx context.Context) (app.Info, error) {
	resp, err := c.query.call1(ctx, abcitypes.ToRequestInfo(&abcitypes.RequestInfo{
		Version: version.TMCoreSemVer, BlockVersion: version.BlockProtocol,
		P2PVersion: version.P2PProtocol, AbciVersion: version.ABCIVersion,
	}))
	if err != nil {
		return app.Info{}, err
	}
	r := resp.GetInfo()
	switch {
	case r.LastBlockHeight < 0:
		return app.Info{}, outOfProtocol("Info", "last block height %d", r.LastBlockHeight)
	case len(r.LastBlockAppHash) > maxAppHash:
		return app.Info{}, outOfProtocol("Info", "app hash of %d bytes, at most %d", len(r.LastBlockAppHash), maxAppHash)
	}
	return app.Info{
		Name: "abci", Data: r.Data, Version: r.Version, AppVersion: r.AppVersion,
		Height: uint64(r.LastBlockHeight), AppHash: r.LastBlockAppHash,
	}, nil
}

// InitChain gives the application the genesis and returns its app hash
// (empty when the application gave none).
func (c *Client) InitChain(ctx context.Context, g app.Genesis) ([]byte, error) {
	req := &abcitypes.RequestInitChain{
		Time: unixTime(g.Time), ChainId: g.ChainID, AppStateBytes: g.AppState,
		InitialHeight: int64(g.InitialHeight), Validators: validatorUpdates(g.Validators),
	}
	resp, err := c.consensus.call1(ctx, abcitypes.ToRequestInitChain(req))
	if err != nil {
		return nil, err
	}
	r := resp.GetInitChain()
	if len(r.AppHash) > maxAppHash {
		return nil, outOfProtocol("InitChain", "app hash of %d bytes, at most %d", len(r.AppHash), maxAppHash)
	}
	if len(r.Validators) > 0 || r.ConsensusParams != nil {
		c.log.Warn("the application's genesis validators and consensus parameters are ignored: the validator set is fixed",
			"validators", len(r.Validators))
	}
	return r.AppHash, nil
}

// validatorUpdates are vals as InitChain's validators.
func validatorUpdates(vals *chain.ValidatorSet) []abcitypes.ValidatorUpdate {
	if vals == nil {
		return nil
	}
	out := make([]abcitypes.ValidatorUpdate, vals.Len())
	for i := range out {
		v := vals.Get(uint32(i))
		out[i] = abcitypes.ValidatorUpdate{
			PubKey: cmtcrypto.PublicKey{Sum: &cmtcrypto.PublicKey_Ed25519{Ed25519: v.PubKey}},
			Power:  int64(v.Power),
		}
	}
	return out
}

// CheckTx asks the application whether each transaction may enter (or
// stay in) the mempool, CheckTxChunk requests per exchange.
func (c *Client) CheckTx(ctx context.Context, kind app.CheckKind, txs []*app.Tx) ([]error, error) {
	var typ abcitypes.CheckTxType
	switch kind {
	case app.CheckNew:
		typ = abcitypes.CheckTxType_New
	case app.CheckRecheck:
		typ = abcitypes.CheckTxType_Recheck
	default:
		return nil, fmt.Errorf("abci: check tx: unknown kind %d", kind)
	}
	errs := make([]error, len(txs))
	for start := 0; start < len(txs); start += c.opts.CheckTxChunk {
		chunk := txs[start:min(start+c.opts.CheckTxChunk, len(txs))]
		reqs := make([]*abcitypes.Request, len(chunk))
		for i, t := range chunk {
			reqs[i] = abcitypes.ToRequestCheckTx(&abcitypes.RequestCheckTx{Tx: t.Bytes, Type: typ})
		}
		resps, err := c.checks.call(ctx, reqs)
		if err != nil {
			return nil, err
		}
		for i, resp := range resps {
			if r := resp.GetCheckTx(); r.Code != 0 {
				errs[start+i] = &app.TxError{Code: r.Code, Codespace: r.Codespace, Log: r.Log}
			}
		}
	}
	return errs, nil
}

// Commit has the application make the last finalized block durable.
func (c *Client) Commit(ctx context.Context) error {
	_, err := c.consensus.call1(ctx, abcitypes.ToRequestCommit())
	return err
}

// Query reads the application's state. Value is nil when the response's
// value is empty.
func (c *Client) Query(ctx context.Context, q app.Query) (app.QueryResult, error) {
	resp, err := c.query.call1(ctx, abcitypes.ToRequestQuery(&abcitypes.RequestQuery{
		Path: q.Path, Data: q.Data, Height: int64(q.Height), Prove: q.Prove,
	}))
	if err != nil {
		return app.QueryResult{}, err
	}
	r := resp.GetQuery()
	if r.Height < 0 {
		return app.QueryResult{}, outOfProtocol("Query", "height %d", r.Height)
	}
	res := app.QueryResult{
		Code: r.Code, Codespace: r.Codespace, Log: r.Log, Info: r.Info,
		Key: r.Key, Value: r.Value, Height: uint64(r.Height),
	}
	if len(res.Value) == 0 {
		res.Value = nil
	}
	return res, nil
}

// outOfProtocol is an answer that breaks ABCI's rules: the application is
// unusable, though the connection is in step and stays open.
func outOfProtocol(op, format string, args ...any) error {
	return fmt.Errorf("abci: %s: %w: out of protocol: %s", op, app.ErrUnavailable, fmt.Sprintf(format, args...))
}

// unixTime is unix nanoseconds as a UTC time.
func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
