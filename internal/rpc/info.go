package rpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	"net"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/p2p"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/version"

	"github.com/strategos/strategos/internal/app"
)

// nodeVersion is node_info.version: the CometBFT release whose RPC this
// one follows (cosmjs picks its client by it), marked as Strategos's.
const nodeVersion = version.TMCoreSemVer + "+strategos"

func health(*callCtx, params) (any, error) { return &ctypes.ResultHealth{}, nil }

// appVersionOf returns the application's version for headers and
// node_info: learned from its Info once (tried again at most every
// appVersionRetry while the application does not answer), and again at
// every abci_info.
func (s *Server) appVersionOf(ctx context.Context) uint64 {
	if s.appVersionKnown.Load() {
		return s.appVersion.Load()
	}
	now := time.Now().UnixNano()
	if last := s.appVersionTried.Load(); now-last < int64(appVersionRetry) || !s.appVersionTried.CompareAndSwap(last, now) {
		return 0 // unknown yet: 0, as CometBFT's default
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if info, err := s.b.Info(ctx); err == nil {
		s.noteAppVersion(info.AppVersion)
	}
	return s.appVersion.Load()
}

// appVersionRetry is how often an application that did not answer Info
// is asked again for its version.
const appVersionRetry = 5 * time.Second

func (s *Server) noteAppVersion(v uint64) {
	s.appVersion.Store(v)
	s.appVersionKnown.Store(true)
}

// nodeInfo is validator i's node_info: its address as the node id, its
// peer address, the chain id as the network.
func (s *Server) nodeInfo(i uint32, listen string, appVersion uint64) p2p.DefaultNodeInfo {
	ni := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(version.P2PProtocol, version.BlockProtocol, appVersion),
		DefaultNodeID:   p2p.ID(hex.EncodeToString(s.view.address(i))),
		ListenAddr:      listen,
		Network:         s.chain.ChainID,
		Version:         nodeVersion,
		Moniker:         fmt.Sprintf("strategos-validator-%d", i),
		Other:           p2p.DefaultNodeInfoOther{TxIndex: "on"},
	}
	if i == s.chain.Self {
		ni.Other.RPCAddress = "tcp://" + s.chain.RPCListen
	}
	return ni
}

func status(c *callCtx, _ params) (any, error) {
	s := c.s
	st := s.b.Status()
	av := s.appVersionOf(c.ctx)
	self := s.chain.Self
	res := &ctypes.ResultStatus{
		NodeInfo: s.nodeInfo(self, s.chain.P2PListen, av),
		SyncInfo: ctypes.SyncInfo{
			LatestBlockTime:   time.Unix(0, 0).UTC(),
			EarliestBlockTime: time.Unix(0, 0).UTC(),
			// The node is catching up while its application has not
			// executed every committed block (or cannot).
			CatchingUp: st.Executed < st.Height || st.AppError != "",
		},
		ValidatorInfo: ctypes.ValidatorInfo{
			Address: s.view.address(self), PubKey: s.view.pubKey(self), VotingPower: int64(s.chain.Validators.Power(self)),
		},
	}
	if st.Height == 0 {
		return res, nil
	}
	if b, h, ok := s.b.Block(st.Height); ok {
		res.SyncInfo.LatestBlockHash = h[:]
		res.SyncInfo.LatestAppHash = b.StateRoot[:]
		res.SyncInfo.LatestBlockHeight = int64(b.Height)
		res.SyncInfo.LatestBlockTime = time.Unix(0, b.Time).UTC()
	}
	if b, h, ok := s.b.Block(max(st.Earliest, 1)); ok {
		res.SyncInfo.EarliestBlockHash = h[:]
		res.SyncInfo.EarliestAppHash = b.StateRoot[:]
		res.SyncInfo.EarliestBlockHeight = int64(b.Height)
		res.SyncInfo.EarliestBlockTime = time.Unix(0, b.Time).UTC()
	}
	return res, nil
}

// netInfo lists the validators this one is connected with, each as a
// peer whose node_info is built like the node's own.
func netInfo(c *callCtx, _ params) (any, error) {
	s := c.s
	av := s.appVersionOf(c.ctx)
	addrs := make(map[uint32]string, len(s.chain.Peers))
	for _, p := range s.chain.Peers {
		addrs[p.Index] = p.Addr
	}
	res := &ctypes.ResultNetInfo{Listening: true, Listeners: []string{"Listener(@" + s.chain.P2PListen + ")"}, Peers: []ctypes.Peer{}}
	for _, l := range s.b.Status().Links {
		if !l.Out && !l.In {
			continue
		}
		host, _, err := net.SplitHostPort(addrs[l.Validator])
		if err != nil {
			host = addrs[l.Validator]
		}
		res.Peers = append(res.Peers, ctypes.Peer{
			NodeInfo: s.nodeInfo(l.Validator, addrs[l.Validator], av), IsOutbound: l.Out, RemoteIP: host,
		})
	}
	res.NPeers = len(res.Peers)
	return res, nil
}

func genesis(c *callCtx, _ params) (any, error) {
	return &ctypes.ResultGenesis{Genesis: c.s.view.genesis}, nil
}

func abciInfo(c *callCtx, _ params) (any, error) {
	info, err := c.s.b.Info(c.ctx)
	if err != nil {
		return nil, err
	}
	c.s.noteAppVersion(info.AppVersion)
	return &ctypes.ResultABCIInfo{Response: abci.ResponseInfo{
		Data: info.Data, Version: info.Version, AppVersion: info.AppVersion,
		LastBlockHeight: int64(info.Height), LastBlockAppHash: info.AppHash,
	}}, nil
}

// maxQueryData bounds abci_query's data, as the API's.
const maxQueryData = 16 << 10

func abciQuery(c *callCtx, p params) (any, error) {
	height, _ := p.int64("height")
	if height < 0 {
		return nil, errors.New("height must be non-negative")
	}
	data := p.bytes("data")
	if len(data) > maxQueryData {
		return nil, fmt.Errorf("data of %d bytes, at most %d", len(data), maxQueryData)
	}
	res, err := c.s.b.Query(c.ctx, app.Query{Path: p.string("path"), Data: data, Height: uint64(height), Prove: p.bool("prove")})
	if err != nil {
		return nil, err
	}
	resp := abci.ResponseQuery{
		Code: res.Code, Log: res.Log, Info: res.Info, Key: res.Key, Value: res.Value,
		Height: int64(res.Height), Codespace: res.Codespace,
	}
	if res.ProofSpec != "" {
		// One op, as the Cosmos SDK gives its store proofs: the type names
		// the ics23 spec, Data is the CommitmentProof against the app
		// hash of Height (docs/light-client.md).
		resp.ProofOps = &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: "ics23:" + res.ProofSpec, Key: res.Key, Data: res.Proof}}}
	}
	return &ctypes.ResultABCIQuery{Response: resp}, nil
}

func numUnconfirmedTxs(c *callCtx, _ params) (any, error) {
	st := c.s.b.Status()
	return &ctypes.ResultUnconfirmedTxs{Count: st.Pending, Total: st.Pending, TotalBytes: int64(st.PendingBytes)}, nil
}

// Pagination, as CometBFT's.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// validators answers the validator set, fixed in Strategos: the same at
// every height up to the next one.
func validators(c *callCtx, p params) (any, error) {
	s := c.s
	latest := int64(s.b.Status().Height) + 1 // the set that signs the next block, as CometBFT
	height := latest
	if h, ok := p.int64("height"); ok {
		if err := checkHeight(h, latest); err != nil {
			return nil, err
		}
		height = h
	}
	total := len(s.view.vals)
	perPage := defaultPerPage
	if pp, ok := p.int64("per_page"); ok && pp >= 1 {
		perPage = int(min(pp, maxPerPage))
	}
	page := 1
	if pg, ok := p.int64("page"); ok {
		pages := max((total-1)/perPage+1, 1)
		if pg <= 0 || pg > int64(pages) {
			return nil, fmt.Errorf("page should be within [1, %d] range, given %d", pages, pg)
		}
		page = int(pg)
	}
	skip := (page - 1) * perPage
	vals := s.view.vals[skip : skip+min(perPage, total-skip)]
	return &ctypes.ResultValidators{BlockHeight: height, Validators: vals, Count: len(vals), Total: total}, nil
}

// checkHeight refuses a height as CometBFT does: not positive, or above
// latest.
func checkHeight(h, latest int64) error {
	if h <= 0 {
		return fmt.Errorf("height must be greater than 0, but got %d", h)
	}
	if h > latest {
		return fmt.Errorf("height %d must be less than or equal to the current blockchain height %d", h, latest)
	}
	return nil
}
