package node

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/consensus"
	"github.com/strategos/strategos/internal/transport"
	"github.com/strategos/strategos/internal/wire"
)

// emptyTxBomb is a gossip envelope of about size bytes of empty
// transactions.
func emptyTxBomb(size int) []byte {
	var body []byte
	for len(body) < size {
		body = protowire.AppendVarint(protowire.AppendTag(body, 1, protowire.BytesType), 0)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, 10, protowire.BytesType), body)
}

// TestDecoderRefusesBombsAndPassesTheRest: the decode stage refuses a
// frame over the network's limits (counted by reason, one log line for
// many), and the frames after it still reach the loop, in order.
func TestDecoderRefusesBombsAndPassesTheRest(t *testing.T) {
	var logged bytes.Buffer
	n := &Node{metrics: newMetrics(), log: slog.New(slog.NewTextHandler(&logged, nil))}
	d := wire.Decoder{Limits: wire.NewLimits(4, maxBlockTxs, maxGossipTxs, 4<<20)}
	vote, err := wire.EncodeMessage(consensus.Message{Vote: &chain.Vote{Round: 3, BlockHash: chain.Hash{1}, Voter: 2, Sig: make([]byte, 64)}})
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan transport.Inbound, 8)
	bomb := emptyTxBomb(1 << 20)
	for range 5 {
		in <- transport.Inbound{From: 1, Class: transport.Gossip, Data: bomb}
	}
	in <- transport.Inbound{From: 2, Class: transport.Consensus, Data: vote}
	close(in)
	out := make(chan inFrame, 8)
	n.decodeClass(context.Background(), d, in, out)
	var got []inFrame
	for f := range out {
		got = append(got, f)
	}
	if len(got) != 1 || got[0].Env.Msg.Vote == nil || got[0].Env.Msg.Vote.Round != 3 {
		t.Fatalf("decoded %+v, want the one vote from validator 2", got)
	}
	// The first bomb is decoded and refused; its sender is then muted, so
	// the next four are dropped without a scan, and validator 2's vote
	// still comes through.
	if c := counterValue(t, n.metrics.dropped.WithLabelValues("over decode limits")); c != 1 {
		t.Fatalf("counted %v bombs refused by decoding, want 1", c)
	}
	if c := counterValue(t, n.metrics.dropped.WithLabelValues("sender muted")); c != 4 {
		t.Fatalf("counted %v frames dropped from the muted sender, want 4", c)
	}
	if lines := strings.Count(logged.String(), "\n"); lines != 1 {
		t.Fatalf("logged %d lines for 5 refused frames, want 1:\n%s", lines, logged.String())
	}
}

// TestLogLimiter lets one line through per interval and reports how many
// it held back.
func TestLogLimiter(t *testing.T) {
	var l logLimiter
	now := time.Unix(1000, 0)
	if _, ok := l.allow(now); !ok {
		t.Fatal("first line suppressed")
	}
	for range 3 {
		if _, ok := l.allow(now.Add(time.Second)); ok {
			t.Fatal("a line within the interval was let through")
		}
	}
	s, ok := l.allow(now.Add(logInterval))
	if !ok || s != 3 {
		t.Fatalf("after the interval: allowed %v with %d suppressed, want true with 3", ok, s)
	}
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
