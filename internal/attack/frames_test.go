package attack

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/wire/wirepb"
)

// TestFramesParse checks that the hand-made frames are well-formed
// protobuf envelopes of the size asked for: a bomb that a decoder refused
// as garbage would prove nothing.
func TestFramesParse(t *testing.T) {
	for name, f := range map[string][]byte{
		"tx batch": TxBatchBomb(1 << 20), "block response": BlockResponseBomb(1 << 20), "qc": QCBomb(1 << 20),
	} {
		if len(f) < 1<<20-100 || len(f) > 1<<20 {
			t.Errorf("%s bomb: %d bytes, want about 1 MiB", name, len(f))
		}
		var e wirepb.Envelope
		if err := proto.Unmarshal(f, &e); err != nil {
			t.Errorf("%s bomb does not parse: %v", name, err)
		}
	}
	b := &chain.Block{Height: 2, Round: 3, QC: &chain.QC{Round: 1}, Payload: KVPayload("k", 100<<10), Proposer: 3}
	p := &chain.Proposal{Block: b, Sig: make([]byte, 64)}
	f, err := EvidenceFrame(p, p)
	if err != nil {
		t.Fatal(err)
	}
	var e wirepb.Envelope
	if err := proto.Unmarshal(f, &e); err != nil {
		t.Fatal(err)
	}
	if ev := e.GetEvidence(); ev == nil || len(ev.GetProposalA().GetBlock().GetPayload()) != 2 {
		t.Errorf("evidence frame decodes as %v", &e)
	}
}
