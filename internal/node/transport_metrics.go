package node

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/strategos/strategos/internal/transport"
)

// transportCollector exports the transport's counters and queue sizes,
// read from Stats at each scrape: what the transport buffers per peer and
// class (against the budgets of internal/transport/doc.go) and every frame
// it dropped, by reason.
type transportCollector struct{ tr *transport.Transport }

var (
	descQueuedBytes = prometheus.NewDesc("strategos_transport_queued_bytes",
		"Payload bytes waiting in the outbound queue to a peer, by class (bounded by the class's byte budget).",
		[]string{"peer", "class"}, nil)
	descQueuedFrames = prometheus.NewDesc("strategos_transport_queued_frames",
		"Frames waiting in the outbound queue to a peer, by class.", []string{"peer", "class"}, nil)
	descDropped = prometheus.NewDesc("strategos_transport_dropped_total",
		"Outbound frames for a peer that Send or Broadcast refused or that were dropped from its queue, by class and reason.",
		[]string{"peer", "class", "reason"}, nil)
	descInQueuedFrames = prometheus.NewDesc("strategos_transport_inbound_queued_frames",
		"Frames received from a peer waiting in its inbound queue, by class.", []string{"peer", "class"}, nil)
	descInQueuedBytes = prometheus.NewDesc("strategos_transport_inbound_queued_bytes",
		"Payload bytes received from a peer waiting in its inbound queue, by class (bounded by the class's byte budget).",
		[]string{"peer", "class"}, nil)
	descInDropped = prometheus.NewDesc("strategos_transport_inbound_dropped_total",
		"Sync and Gossip frames received from a peer and discarded because its inbound queue was full, by class.",
		[]string{"peer", "class"}, nil)
	descSentBytes = prometheus.NewDesc("strategos_transport_sent_bytes_total",
		"Payload bytes written to a peer, by class.", []string{"peer", "class"}, nil)
	descRecvBytes = prometheus.NewDesc("strategos_transport_received_bytes_total",
		"Payload bytes read from a peer, by class.", []string{"peer", "class"}, nil)
	descClosed = prometheus.NewDesc("strategos_transport_misbehaving_closed_total",
		"Inbound connections from a peer closed because it sent an oversize frame or an unknown class.",
		[]string{"peer", "reason"}, nil)
	descRefused = prometheus.NewDesc("strategos_transport_inbound_refused_total",
		"Inbound connections refused before or during the handshake, by reason (busy: shared handshake pool full; per_ip: "+
			"the source address had its share; hello: no TLS ClientHello in time; handshake: TLS failed or not a validator's key).",
		[]string{"reason"}, nil)
)

func (transportCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueuedBytes, descQueuedFrames, descDropped, descInQueuedFrames,
		descInQueuedBytes, descInDropped, descSentBytes, descRecvBytes, descClosed, descRefused} {
		ch <- d
	}
}

func (tc transportCollector) Collect(ch chan<- prometheus.Metric) {
	st := tc.tr.Stats()
	gauge := func(d *prometheus.Desc, v int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), labels...)
	}
	count := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, p := range st.Peers {
		peer := strconv.FormatUint(uint64(p.Index), 10)
		for c := range transport.NumClasses {
			class := transport.Class(c).String()
			gauge(descQueuedBytes, p.QueuedBytes[c], peer, class)
			gauge(descQueuedFrames, p.QueuedFrames[c], peer, class)
			gauge(descInQueuedFrames, p.InQueued[c], peer, class)
			gauge(descInQueuedBytes, p.InQueuedBytes[c], peer, class)
			count(descInDropped, p.InDropped[c], peer, class)
			count(descSentBytes, p.Sent[c].Bytes, peer, class)
			count(descRecvBytes, p.Received[c].Bytes, peer, class)
			for r := range transport.NumDropReasons {
				count(descDropped, p.Drops[c][r], peer, class, transport.DropReason(r).String())
			}
		}
		count(descClosed, p.Oversize, peer, "oversize")
		count(descClosed, p.Malformed, peer, "malformed")
	}
	for r, n := range st.Refusals {
		count(descRefused, n, transport.RefuseReason(r).String())
	}
}
