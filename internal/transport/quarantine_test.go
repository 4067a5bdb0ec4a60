package transport

import (
	"testing"
	"time"
)

// TestQuarantineStopsReadingAPeer: once validator 1 is quarantined by
// validator 0, its inbound connection is closed and its redials are
// refused, so nothing it sends arrives, while 0 still sends to it; when
// the quarantine ends, its frames arrive again.
func TestQuarantineStopsReadingAPeer(t *testing.T) {
	tn := newTestNet(t, 2)
	trs := tn.startAll(t, nil)
	if err := trs[1].Send(0, Consensus, []byte("before")); err != nil {
		t.Fatal(err)
	}
	expect(t, trs[0], 1, Consensus, []byte("before"))
	until := time.Now().Add(time.Second)
	trs[0].Quarantine(1, until)
	eventually(t, "a refused redial", func() bool {
		_ = trs[1].Send(0, Consensus, []byte("during"))
		return peerStats(t, trs[0], 1).Quarantined > 0
	})
	for time.Now().Before(until) {
		select {
		case in := <-trs[0].Inbound(Consensus):
			if time.Now().Before(until) {
				t.Fatalf("received %q from a quarantined validator", in.Data)
			}
		case <-time.After(time.Until(until)):
		}
	}
	if err := trs[0].Send(1, Consensus, []byte("to it")); err != nil {
		t.Fatal(err)
	}
	expect(t, trs[1], 0, Consensus, []byte("to it"))
	eventually(t, "frames after the quarantine", func() bool {
		_ = trs[1].Send(0, Consensus, []byte("after"))
		select {
		case in := <-trs[0].Inbound(Consensus):
			return string(in.Data) == "after" || string(in.Data) == "during"
		default:
			return false
		}
	})
}
