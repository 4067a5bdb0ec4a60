package wire

import (
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
)

// nodeLimits are what a node of four validators uses: blocks of at most
// 10,000 transactions, gossip batches of at most 10,000, 4 MiB frames.
var nodeLimits = NewLimits(4, 10_000, 10_000, 4<<20)

// bomb returns an envelope of about size bytes whose payload (envelope
// field outer) holds, at the path of nested fields, the entry field
// repeated empty until the frame is full.
func bomb(size int, entry protowire.Number, path ...protowire.Number) []byte {
	var body []byte
	for len(body) < size {
		body = protowire.AppendTag(body, entry, protowire.BytesType)
		body = protowire.AppendVarint(body, 0)
	}
	for i := len(path) - 1; i >= 0; i-- {
		var outer []byte
		outer = protowire.AppendTag(outer, path[i], protowire.BytesType)
		body = protowire.AppendBytes(outer, body)
	}
	return body
}

// allocated returns the bytes f allocates (TotalAlloc is cumulative, so
// no collection is needed first).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeBombsAreRefusedBeforeAllocating: a 4 MiB frame of empty
// entries cost ~240 MB and most of a second to decode before the
// pre-scan; now the frame is refused for its count, and refusing it
// allocates a few KiB whatever it describes.
func TestDecodeBombsAreRefusedBeforeAllocating(t *testing.T) {
	d := Decoder{Limits: nodeLimits}
	const size = 4<<20 - 64
	for _, tt := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty transactions in a gossip batch", bomb(size, 1, 10), "tx batch: more than 10000 transactions"},
		{"empty transactions in a proposal", bomb(size, 5, 1, 1), "proposal: block: more than 10000 transactions"},
		{"empty signatures in a proposal's qc", bomb(size, 3, 1, 1, 4), "proposal: block: qc: more than 4 signatures"},
		{"empty blocks in a block response", bomb(size, 1, 5), "block response: more than 1000 blocks"},
		{"empty signatures in a timeout's tc", bomb(size, 3, 3, 3), "timeout: envelope of"},
		{"empty votes in a vote", bomb(size, 2, 2), "vote: envelope of"},
	} {
		var err error
		got := allocated(func() { _, err = d.Decode(tt.frame) })
		if err == nil || !IsLimit(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want a limit error containing %q", tt.name, err, tt.want)
		}
		if got > 64<<10 {
			t.Errorf("%s: refusing a %d-byte frame allocated %d bytes, want at most 64 KiB", tt.name, len(tt.frame), got)
		}
	}
}

// TestLimitsFollowTheNetwork: the limits a node derives refuse a QC with
// more signatures than validators and a vote envelope of a kilobyte or
// more, which the default limits accept.
func TestLimitsFollowTheNetwork(t *testing.T) {
	p := sampleProposal()
	frame, err := Encode(Envelope{Msg: msgOf(p)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(frame); err != nil {
		t.Fatalf("default limits refuse a sample proposal: %v", err)
	}
	small := NewLimits(len(p.Block.QC.Votes)-1, 10_000, 10_000, 4<<20)
	if _, err := (Decoder{Limits: small}).Decode(frame); !IsLimit(err) {
		t.Fatalf("a qc with more signatures than validators: error %v, want a limit error", err)
	}
	big := append(bomb(0, 0), protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), make([]byte, 2048))...)
	if _, err := (Decoder{Limits: nodeLimits}).Decode(big); !IsLimit(err) {
		t.Fatalf("a 2 KiB vote envelope: error %v, want a limit error", err)
	}
}

// FuzzDecodeAllocations: whatever a peer sends, Decode under a node's
// limits allocates at most a bounded multiple of the frame's size.
func FuzzDecodeAllocations(f *testing.F) {
	for _, b := range [][]byte{bomb(1<<10, 1, 10), bomb(1<<10, 5, 1, 1), bomb(1<<10, 3, 3, 2)} {
		f.Add(b)
	}
	if p, err := Encode(Envelope{Msg: msgOf(sampleProposal())}); err == nil {
		f.Add(p)
	}
	d := Decoder{Limits: nodeLimits}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := allocated(func() { _, _ = d.Decode(b) })
		// A decoded entry costs its slice header and protobuf's message
		// struct: tens of bytes for each byte of input at most.
		if limit := uint64(64<<10 + 64*len(b)); got > limit {
			t.Fatalf("decoding %d bytes allocated %d, want at most %d", len(b), got, limit)
		}
	})
}

func msgOf(p *chain.Proposal) consensus.Message { return consensus.Message{Proposal: p} }

// BenchmarkDecodeBomb measures refusing 4 MiB frames of empty entries
// under a node's limits; run with -benchmem (before the pre-scan each cost
// 250-420 MB and 0.3-0.5 s).
func BenchmarkDecodeBomb(b *testing.B) {
	d := Decoder{Limits: nodeLimits}
	const size = 4<<20 - 64
	for _, bm := range []struct {
		name  string
		frame []byte
	}{
		{"batch txs", bomb(size, 1, 10)},
		{"proposal txs", bomb(size, 5, 1, 1)},
		{"qc signatures", bomb(size, 3, 1, 1, 4)},
		{"response blocks", bomb(size, 1, 5)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.frame)))
			b.ReportAllocs()
			for range b.N {
				if _, err := d.Decode(bm.frame); !IsLimit(err) {
					b.Fatalf("error %v, want a limit error", err)
				}
			}
		})
	}
}
