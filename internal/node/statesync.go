package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/statesync"
	"github.com/strategos/strategos/internal/store"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// StateSync restores an empty home from a peer's snapshot (strategos node
// --state-sync), before New opens it; see package statesync. It returns
// nil, doing nothing, when the home already holds a chain: the node then
// starts from what it has. listener, if set, is used for peer
// connections (and closed) instead of listening on the configured address.
func StateSync(ctx context.Context, h *config.Home, newApp func(app.State) (app.Application, error), listener net.Listener, log *slog.Logger) (*statesync.Result, error) {
	return stateSync(ctx, h, newApp, listener, log, storePath(h), nil)
}

// storeFile is the node's store in its data directory.
const storeFile = "store.db"

func storePath(h *config.Home) string { return filepath.Join(h.DataPath(), storeFile) }

// stateSync is StateSync into the store at path, whose client
// configuration tune may change (Resync sets a lowest height; tests put a
// lying network between the client and its peers).
func stateSync(ctx context.Context, h *config.Home, newApp func(app.State) (app.Application, error), listener net.Listener, log *slog.Logger,
	path string, tune func(*statesync.Config)) (*statesync.Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vals, err := h.Genesis.ValidatorSet()
	if err != nil {
		return nil, err
	}
	chainID := h.Genesis.ChainID
	genesis := chain.Genesis(chainID, vals).Hash(chainID)
	if err := os.MkdirAll(h.DataPath(), 0o700); err != nil {
		return nil, fmt.Errorf("node: state sync: %w", err)
	}
	st, err := store.Open(path, chainID, genesis)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if height, _ := st.AppState(); st.CommittedHeight() > 0 || height > 0 || st.SafetyState().LastVotedRound > 0 {
		log.Info("state sync skipped: the home already holds a chain", "height", st.CommittedHeight())
		return nil, nil
	}
	a, err := newApp(st)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	snap, exports := a.(app.Snapshotter)
	keeper, keeps := a.(statesync.Keeper)
	if !exports && !keeps {
		return nil, fmt.Errorf("node: state sync: the application %q cannot restore snapshots", h.Genesis.App)
	}
	tr, err := syncTransport(h, vals, listener, log)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	if err := tr.Start(ctx); err != nil {
		return nil, fmt.Errorf("node: state sync: start transport: %w", err)
	}
	net := newSyncNet(ctx, tr, vals.Len())
	start := time.Now()
	cfg := statesync.Config{
		ChainID: chainID, Validators: vals, Genesis: genesis, AppGenesis: appGenesisOf(h, vals),
		Self: h.Node.Index, App: snap, Keeper: keeper, Store: st, Net: net, Log: log.With("part", "statesync"), RootKey: rootKey,
	}
	if tune != nil {
		tune(&cfg)
	}
	res, err := statesync.Sync(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("node: state sync: %w", err)
	}
	log.Info("state sync done", "height", res.Height, "pairs", res.Pairs, "seconds", fmt.Sprintf("%.2f", time.Since(start).Seconds()),
		"signs_above_round", res.VoteAbove)
	return &res, nil
}

func syncTransport(h *config.Home, vals *chain.ValidatorSet, listener net.Listener, log *slog.Logger) (*transport.Transport, error) {
	var peers []transport.Peer
	for _, p := range h.Node.Peers {
		if !vals.Has(p.Index) {
			return nil, fmt.Errorf("node: peer %d is not a validator", p.Index)
		}
		peers = append(peers, transport.Peer{Index: p.Index, PubKey: vals.Get(p.Index).PubKey, Addr: p.Addr})
	}
	return transport.New(transport.Config{Self: h.Node.Index, Key: h.Key, Peers: peers, ListenAddr: h.Node.P2PListen,
		Listener: listener, Logger: log.With("part", "transport")})
}

// syncNet is statesync.Network over the transport: requests go on the
// sync class; answers come on it too, and the other classes are drained
// (a validator that is not yet one has no use for them).
type syncNet struct {
	tr *transport.Transport
	d  wire.Decoder
	in <-chan transport.Inbound
}

func newSyncNet(ctx context.Context, tr *transport.Transport, validators int) *syncNet {
	for _, c := range []transport.Class{transport.Consensus, transport.Gossip} {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-tr.Inbound(c):
					if !ok {
						return
					}
				}
			}
		}()
	}
	return &syncNet{tr: tr, d: wire.Decoder{Limits: wire.NewLimits(validators, maxBlockTxs, maxGossipTxs, tr.MaxFrame())}, in: tr.Inbound(transport.Sync)}
}

func (s *syncNet) Send(to uint32, e wire.Envelope) {
	frame, err := wire.Encode(e)
	if err == nil {
		err = s.tr.Send(to, transport.Sync, frame)
	}
	_ = err // best effort: the client asks again, or another peer
}

func (s *syncNet) Recv(ctx context.Context) (uint32, wire.Envelope, error) {
	for {
		select {
		case <-ctx.Done():
			return 0, wire.Envelope{}, ctx.Err()
		case f, ok := <-s.in:
			if !ok {
				if ctx.Err() != nil {
					return 0, wire.Envelope{}, ctx.Err() // stopped because the sync was
				}
				return 0, wire.Envelope{}, errors.New("node: state sync: transport stopped")
			}
			e, err := s.d.Decode(f.Data)
			if err != nil {
				continue // a peer's bad frame: the client asks again
			}
			return f.From, e, nil
		}
	}
}
