package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/strategos/strategos/internal/transport"
)

// metrics are the node's Prometheus instruments, registered on a registry
// of its own so that several nodes can run in one process (testnet).
type metrics struct {
	reg          *prometheus.Registry
	height       prometheus.Gauge
	round        prometheus.Gauge
	txsCommitted prometheus.Counter
	timeouts     prometheus.Counter
	qcs          prometheus.Counter
	tcs          prometheus.Counter
	msgsIn       *prometheus.CounterVec
	msgsOut      *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	commitLat    prometheus.Histogram
	storeWrite   prometheus.Histogram
	peers        prometheus.Gauge
	evidence     prometheus.Counter
	divergence   prometheus.Counter
	pruned       prometheus.Counter
	appErrors    prometheus.Counter
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &metrics{
		reg:          reg,
		height:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "strategos_height", Help: "Last committed height."}),
		round:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "strategos_round", Help: "Current consensus round."}),
		txsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_txs_committed_total", Help: "Transactions in committed blocks."}),
		timeouts:     prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_timeouts_total", Help: "Timeout messages this validator signed or re-sent."}),
		qcs:          prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_qcs_total", Help: "Increases of this validator's highest QC."}),
		tcs:          prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_tcs_total", Help: "Increases of the highest timeout certificate this validator has seen."}),
		msgsIn:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strategos_messages_in_total", Help: "Messages received, by type."}, []string{"type"}),
		msgsOut:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strategos_messages_out_total", Help: "Messages sent, by type."}, []string{"type"}),
		dropped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strategos_messages_dropped_total", Help: "Invalid messages dropped, by reason."}, []string{"reason"}),
		commitLat: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strategos_commit_latency_seconds",
			Help: "From a block's proposal time to its commit here.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)}),
		storeWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "strategos_store_write_seconds",
			Help: "Durable writes (fsync included).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		peers: prometheus.NewGauge(prometheus.GaugeOpts{Name: "strategos_peers_connected", Help: "Peers with an outbound connection up."}),
		pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_pruned_heights_total",
			Help: "Committed heights deleted by pruning (retain_blocks)."}),
		evidence: prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_evidence_total", Help: "Misbehaviour proven by this validator."}),
		divergence: prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_state_divergence_total",
			Help: "Proposed blocks whose state root differed from this validator's own (no vote was signed)."}),
		appErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_app_failures_total",
			Help: "Times the application stopped answering (unreachable, stalled or out of protocol); the node neither votes nor executes until it is back."}),
	}
	for _, c := range []prometheus.Collector{m.height, m.round, m.txsCommitted, m.timeouts, m.qcs, m.tcs, m.msgsIn, m.msgsOut,
		m.dropped, m.commitLat, m.storeWrite, m.peers, m.evidence, m.divergence, m.pruned, m.appErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// watchTransport exports tr's counters and queue sizes.
func (m *metrics) watchTransport(tr *transport.Transport) { m.reg.MustRegister(transportCollector{tr}) }

// Registry returns the registry that /metrics serves.
func (n *Node) Registry() *prometheus.Registry { return n.metrics.reg }
