package abci

import (
	"context"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/strategos/strategos/internal/app"
)

// The snapshot methods, on their own connection as in CometBFT, so that
// serving a peer's chunk never waits behind a block.

// Bounds on what an application's snapshot list may hold: it is copied
// into meta files that peers decode.
const (
	maxSnapshots        = 64
	maxSnapshotHash     = 256
	maxSnapshotMetadata = 64 << 10
)

var _ app.SnapshotKeeper = (*Client)(nil)

// ListSnapshots asks the application for the snapshots it keeps.
func (c *Client) ListSnapshots(ctx context.Context) ([]app.Snapshot, error) {
	resp, err := c.snapshot.call1(ctx, abcitypes.ToRequestListSnapshots(&abcitypes.RequestListSnapshots{}))
	if err != nil {
		return nil, err
	}
	list := resp.GetListSnapshots().GetSnapshots()
	if len(list) > maxSnapshots {
		return nil, outOfProtocol("ListSnapshots", "%d snapshots, at most %d", len(list), maxSnapshots)
	}
	out := make([]app.Snapshot, 0, len(list))
	for _, s := range list {
		switch {
		case s == nil || s.Height == 0 || s.Chunks == 0:
			return nil, outOfProtocol("ListSnapshots", "a snapshot without height or chunks")
		case len(s.Hash) > maxSnapshotHash || len(s.Metadata) > maxSnapshotMetadata:
			return nil, outOfProtocol("ListSnapshots", "a snapshot's hash or metadata too large (%d, %d bytes)", len(s.Hash), len(s.Metadata))
		}
		out = append(out, app.Snapshot{Height: s.Height, Format: s.Format, Chunks: s.Chunks, Hash: s.Hash, Metadata: s.Metadata})
	}
	return out, nil
}

// LoadSnapshotChunk asks the application for one chunk of a snapshot it
// listed.
func (c *Client) LoadSnapshotChunk(ctx context.Context, height uint64, format, chunk uint32) ([]byte, error) {
	resp, err := c.snapshot.call1(ctx, abcitypes.ToRequestLoadSnapshotChunk(&abcitypes.RequestLoadSnapshotChunk{
		Height: height, Format: format, Chunk: chunk,
	}))
	if err != nil {
		return nil, err
	}
	data := resp.GetLoadSnapshotChunk().GetChunk()
	if len(data) == 0 {
		return nil, fmt.Errorf("abci: LoadSnapshotChunk: the application has no chunk %d of its snapshot of height %d", chunk, height)
	}
	return data, nil
}

// OfferSnapshot offers the application a snapshot to restore, with the
// certified app hash of its height.
func (c *Client) OfferSnapshot(ctx context.Context, s app.Snapshot, appHash []byte) error {
	resp, err := c.snapshot.call1(ctx, abcitypes.ToRequestOfferSnapshot(&abcitypes.RequestOfferSnapshot{
		Snapshot: &abcitypes.Snapshot{Height: s.Height, Format: s.Format, Chunks: s.Chunks, Hash: s.Hash, Metadata: s.Metadata},
		AppHash:  appHash,
	}))
	if err != nil {
		return err
	}
	if r := resp.GetOfferSnapshot().GetResult(); r != abcitypes.ResponseOfferSnapshot_ACCEPT {
		return fmt.Errorf("abci: the application answered %s to the snapshot of height %d", r, s.Height)
	}
	return nil
}

// ApplySnapshotChunk gives the application the next chunk of the snapshot
// it accepted. Anything but ACCEPT is an error: the chunks were checked
// against their hashes already, so retrying them cannot help.
func (c *Client) ApplySnapshotChunk(ctx context.Context, index uint32, chunk []byte) error {
	resp, err := c.snapshot.call1(ctx, abcitypes.ToRequestApplySnapshotChunk(&abcitypes.RequestApplySnapshotChunk{
		Index: index, Chunk: chunk,
	}))
	if err != nil {
		return err
	}
	if r := resp.GetApplySnapshotChunk().GetResult(); r != abcitypes.ResponseApplySnapshotChunk_ACCEPT {
		return fmt.Errorf("abci: the application answered %s to snapshot chunk %d", r, index)
	}
	return nil
}
