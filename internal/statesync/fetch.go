package statesync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/consensus/leader"
	"github.com/strategos/strategos/internal/light"
	"github.com/strategos/strategos/internal/snapshot"
	"github.com/strategos/strategos/internal/wire"
)

// certified is what a checked commit certificate gives: the committed
// block at the snapshot's height, the QC that certifies it, and the
// state root after it.
type certified struct {
	block *chain.Block
	qc    *chain.QC
	root  []byte
}

// certificate asks the offering peers in turn for the commit certificate
// and block of the snapshot's height, until one checks.
func (c *client) certificate(ctx context.Context, o *offer) (certified, error) {
	h := o.meta.Height
	for _, p := range o.peers {
		c.cfg.Net.Send(p, wire.Envelope{SnapshotRequest: &wire.SnapshotRequest{Kind: wire.SnapshotCertificate, Height: h}})
		r, err := c.await(ctx, p, func(r *wire.SnapshotResponse) bool { return r.Kind == wire.SnapshotCertificate && r.Height == h })
		if err != nil {
			if ctx.Err() != nil {
				return certified{}, ctx.Err()
			}
			c.cfg.Log.Warn("state sync: no certificate from a peer", "peer", p, "height", h, "err", err)
			c.suspect[p] = true
			continue
		}
		cm, err := c.checkCertificate(h, r)
		if err != nil {
			c.cfg.Log.Warn("state sync: a peer's certificate is refused", "peer", p, "height", h, "err", err)
			c.suspect[p] = true
			continue
		}
		return cm, nil
	}
	return certified{}, fmt.Errorf("no peer gave a commit certificate of height %d that checks", h)
}

func (c *client) checkCertificate(h uint64, r *wire.SnapshotResponse) (certified, error) {
	cert, err := light.DecodeCertificate(bytes.NewReader(r.Data))
	if err != nil {
		return certified{}, err
	}
	cm, err := light.Verify(c.cfg.ChainID, c.cfg.Validators, h, cert)
	if err != nil {
		return certified{}, err
	}
	if r.Block == nil || r.Block.Hash(c.cfg.ChainID) != cm.BlockHash {
		return certified{}, errors.New("the block sent is not the certified one")
	}
	// The header above the certified one carries its QC (Verify checked
	// the chain of headers and the QCs in it).
	if len(cert.Headers) < 2 || cert.Headers[1].QC == nil || cert.Headers[1].QC.BlockHash != cm.BlockHash {
		return certified{}, errors.New("the certificate holds no QC of the certified block")
	}
	return certified{block: r.Block, qc: cert.Headers[1].QC, root: cm.StateRoot}, nil
}

// await returns peer's next response that match accepts, or errTimeout.
// Other envelopes are dropped: nothing else is asked for meanwhile.
func (c *client) await(ctx context.Context, peer uint32, match func(*wire.SnapshotResponse) bool) (*wire.SnapshotResponse, error) {
	deadline := time.Now().Add(c.cfg.RequestTimeout)
	for {
		from, e, err := c.recv(ctx, deadline)
		if err != nil {
			return nil, err
		}
		if from == peer && e.SnapshotResponse != nil && match(e.SnapshotResponse) {
			return e.SnapshotResponse, nil
		}
	}
}

// history fetches, from the offering peers, the committed blocks below
// top that the leader rule reads when the validator starts
// (leader.HistoryNeeded), oldest first. Each is bound to top by parent
// hashes, so it is authentic without signatures.
func (c *client) history(ctx context.Context, o *offer, top *chain.Block) ([]*chain.Block, error) {
	rep := leader.New(c.cfg.ChainID, c.cfg.Validators, leader.Params{})
	var back []*chain.Block // newest first
	want, count := top.Parent, 1
	requested := map[chain.Hash]bool{} // every block asked for: a late answer is no fault
	for lowest := top; lowest.Height > 1 && rep.HistoryNeeded(count, lowest.Time, top.Time); {
		blocks, err := c.ancestors(ctx, o, want, lowest.Height-1, requested)
		if err != nil {
			return nil, err
		}
		for _, b := range blocks {
			back, lowest, want, count = append(back, b), b, b.Parent, count+1
			if lowest.Height == 1 || !rep.HistoryNeeded(count, lowest.Time, top.Time) {
				break
			}
		}
	}
	for i, j := 0, len(back)-1; i < j; i, j = i+1, j-1 {
		back[i], back[j] = back[j], back[i]
	}
	return back, nil
}

// ancestors asks the offering peers in turn for block want (at height)
// and its ancestors, and returns the ones that chain from want. A peer
// that does not answer soon is not waited for: the next is asked, and an
// answer from any peer asked counts (a peer may drop a request over its
// budget for this validator, which has just been catching up). An answer
// that starts at a block asked for before is a late one, ignored; one that
// starts anywhere else, or does not chain, is the peer's fault.
func (c *client) ancestors(ctx context.Context, o *offer, want chain.Hash, height uint64, requested map[chain.Hash]bool) ([]*chain.Block, error) {
	requested[want] = true
	peers := slices.Clone(o.peers)
	asked := map[uint32]bool{}
	deadline := time.Now().Add(c.cfg.RequestTimeout * time.Duration(len(peers)))
	for i := 0; len(peers) > 0 && time.Now().Before(deadline); i++ {
		p := peers[i%len(peers)]
		c.cfg.Net.Send(p, wire.Envelope{Msg: consensus.Message{BlockRequest: &consensus.BlockRequest{Hash: want, Count: consensus.DefaultMaxFetch}}})
		asked[p] = true
		wait := min(firstAskAgain<<(i/len(peers)), c.cfg.RequestTimeout)
		until := time.Now().Add(wait)
		if until.After(deadline) {
			until = deadline
		}
		for {
			from, e, err := c.recv(ctx, until)
			if errors.Is(err, errTimeout) {
				break
			}
			if err != nil {
				return nil, err
			}
			if !asked[from] || e.Msg.BlockResponse == nil {
				continue
			}
			bs := e.Msg.BlockResponse.Blocks
			if len(bs) > 0 && bs[0] != nil {
				if h := bs[0].Hash(c.cfg.ChainID); h != want && requested[h] {
					continue // an earlier request's answer, late
				}
			}
			if out := chainFrom(c.cfg.ChainID, want, height, bs); len(out) > 0 {
				return out, nil
			}
			c.cfg.Log.Warn("state sync: a peer's blocks do not chain to the certified block", "peer", from)
			c.suspect[from] = true
			delete(asked, from)
			peers = slices.DeleteFunc(peers, func(q uint32) bool { return q == from })
			if len(peers) == 0 {
				break
			}
		}
	}
	return nil, fmt.Errorf("no peer gave block %s at height %d", want.Short(), height)
}

// chainFrom returns the prefix of blocks (newest first) that is block
// want at height and its ancestors, linked by parent hashes.
func chainFrom(chainID string, want chain.Hash, height uint64, blocks []*chain.Block) []*chain.Block {
	var out []*chain.Block
	for _, b := range blocks {
		if b == nil || b.Height != height || b.Hash(chainID) != want {
			break
		}
		out = append(out, b)
		want, height = b.Parent, height-1
	}
	return out
}

// chunks collects every chunk of o's snapshot from its peers, a few
// requests in flight, each peer whose chunk fails its hash dropped, and
// returns them in the restorer. It gives up when no peer is left or
// nothing arrived for StallTimeout.
func (c *client) chunks(ctx context.Context, o *offer) (*snapshot.Restorer, error) {
	r, err := snapshot.NewRestorer(o.meta, c.cfg.MaxStateBytes)
	if err != nil {
		return nil, err
	}
	f := newFetcher(c, o, r)
	for !r.Done() {
		if err := f.step(ctx); err != nil {
			return nil, err
		}
	}
	return r, nil
}
