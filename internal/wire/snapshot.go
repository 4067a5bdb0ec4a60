package wire

import (
	"errors"
	"fmt"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

// State sync. A validator that starts from a snapshot (an empty home and
// --state-sync) asks its peers for their snapshots, their chunks, and the
// commit certificate of the snapshot's height; the node answers outside
// consensus. What the messages carry is checked by the asker: metas and
// certificates are opaque bytes here, decoded and bounded by the snapshot
// and light packages.

// SnapshotKind is what a SnapshotRequest asks for.
type SnapshotKind int32

const (
	SnapshotList        SnapshotKind = 1 // the responder's snapshots and highest certificates
	SnapshotChunk       SnapshotKind = 2 // one chunk of the snapshot of a height
	SnapshotCertificate SnapshotKind = 3 // the commit certificate and block of a height
)

// Bounds of the state sync messages, within the transport's frame.
const (
	MaxSnapshotOffers    = 4         // metas in one list answer
	MaxSnapshotMetaBytes = 256 << 10 // one encoded meta
	MaxSnapshotData      = 2 << 20   // a chunk, or a certificate
)

// SnapshotRequest asks a peer for a list, a chunk, or a certificate.
type SnapshotRequest struct {
	Kind   SnapshotKind
	Height uint64 // chunk, certificate
	Chunk  uint32 // chunk
}

// SnapshotResponse answers a SnapshotRequest of the same Kind.
type SnapshotResponse struct {
	Kind SnapshotKind
	// List: encoded snapshot metas, and the responder's highest QC and
	// TC, from which a validator that lost its disk learns how far the
	// rounds have gone.
	Metas  [][]byte
	HighQC *chain.QC
	HighTC *chain.TC
	Height uint64
	Chunk  uint32
	Data   []byte       // chunk: its bytes; certificate: a light certificate (JSON)
	Block  *chain.Block // certificate: the committed block at Height
}

func checkSnapshotRequest(r *SnapshotRequest) error {
	switch r.Kind {
	case SnapshotList:
		return nil
	case SnapshotChunk, SnapshotCertificate:
		if r.Height == 0 {
			return errors.New("height 0")
		}
		return nil
	}
	return fmt.Errorf("unknown kind %d", r.Kind)
}

func checkSnapshotResponse(r *SnapshotResponse) error {
	if err := checkSnapshotRequest(&SnapshotRequest{Kind: r.Kind, Height: max(r.Height, 1)}); err != nil {
		return err
	}
	if len(r.Metas) > MaxSnapshotOffers {
		return fmt.Errorf("%d snapshot offers, at most %d", len(r.Metas), MaxSnapshotOffers)
	}
	for _, m := range r.Metas {
		if len(m) == 0 || len(m) > MaxSnapshotMetaBytes {
			return fmt.Errorf("snapshot meta of %d bytes", len(m))
		}
	}
	if len(r.Data) > MaxSnapshotData {
		return fmt.Errorf("%d bytes of data, at most %d", len(r.Data), MaxSnapshotData)
	}
	if r.HighQC != nil {
		if err := checkQC(r.HighQC); err != nil {
			return fmt.Errorf("high qc: %w", err)
		}
	}
	if r.HighTC != nil {
		if err := checkTC(r.HighTC); err != nil {
			return fmt.Errorf("high tc: %w", err)
		}
	}
	if r.Block != nil {
		if err := checkBlock(r.Block); err != nil {
			return fmt.Errorf("block: %w", err)
		}
	}
	return nil
}

func snapshotRequestPB(r *SnapshotRequest) *wirepb.SnapshotRequest {
	return &wirepb.SnapshotRequest{Kind: wirepb.SnapshotRequest_Kind(r.Kind), Height: r.Height, Chunk: r.Chunk}
}

func snapshotRequestFrom(m *wirepb.SnapshotRequest) (*SnapshotRequest, error) {
	return &SnapshotRequest{Kind: SnapshotKind(m.GetKind()), Height: m.GetHeight(), Chunk: m.GetChunk()}, nil
}

func snapshotResponsePB(r *SnapshotResponse) *wirepb.SnapshotResponse {
	m := &wirepb.SnapshotResponse{Kind: wirepb.SnapshotRequest_Kind(r.Kind), Metas: r.Metas, Height: r.Height, Chunk: r.Chunk, Data: r.Data}
	if r.HighQC != nil {
		m.HighQc = qcPB(r.HighQC)
	}
	if r.HighTC != nil {
		m.HighTc = tcPB(r.HighTC)
	}
	if r.Block != nil {
		m.Block = blockPB(r.Block)
	}
	return m
}

func snapshotResponseFrom(m *wirepb.SnapshotResponse) (*SnapshotResponse, error) {
	r := &SnapshotResponse{Kind: SnapshotKind(m.GetKind()), Metas: m.GetMetas(), Height: m.GetHeight(), Chunk: m.GetChunk(), Data: m.GetData()}
	var err error
	if m.GetHighQc() != nil {
		if r.HighQC, err = qcFrom(m.GetHighQc()); err != nil {
			return nil, fmt.Errorf("high qc: %w", err)
		}
	}
	if m.GetHighTc() != nil {
		if r.HighTC, err = tcFrom(m.GetHighTc()); err != nil {
			return nil, fmt.Errorf("high tc: %w", err)
		}
	}
	if m.GetBlock() != nil {
		if r.Block, err = blockFrom(m.GetBlock()); err != nil {
			return nil, fmt.Errorf("block: %w", err)
		}
	}
	return r, nil
}
