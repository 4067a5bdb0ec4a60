package rpc

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the RPC's instruments, on the node's registry (the one the
// API's GET /metrics serves).
type metrics struct {
	requests    *prometheus.CounterVec // by method
	errors      *prometheus.CounterVec // answers that were errors, by method
	subscribers prometheus.Gauge       // subscriptions, broadcast_tx_commit waits included
	dropped     prometheus.Counter     // subscriptions dropped because their client was too slow
	refused     *prometheus.CounterVec // by reason: body, batch, subscribers, connections
}

func newMetrics(reg *prometheus.Registry) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strategos_rpc_requests_total",
			Help: "Calls of the CometBFT-compatible RPC, by method (unknown: no such method; invalid: not a request)."}, []string{"method"})),
		errors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strategos_rpc_errors_total",
			Help: "Calls of the CometBFT-compatible RPC answered with an error, by method."}, []string{"method"})),
		subscribers: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "strategos_rpc_subscribers",
			Help: "Websocket subscriptions of the RPC, and broadcast_tx_commit calls waiting for their block."})),
		dropped: register(reg, prometheus.NewCounter(prometheus.CounterOpts{Name: "strategos_rpc_subscribers_dropped_total",
			Help: "RPC subscriptions cancelled because their client did not read its events fast enough."})),
		refused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strategos_rpc_refused_total",
			Help: "RPC requests refused by a bound, by reason: body (over the size limit, 413), batch (too many requests), subscribers, connections (websocket)."}, []string{"reason"})),
	}
}

// register registers c with reg, or returns the collector of the same
// name already there (a node serves one RPC, but tests build several
// servers over one node).
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	if err := reg.Register(c); err != nil {
		var dup prometheus.AlreadyRegisteredError
		if errors.As(err, &dup) {
			if old, ok := dup.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c // counted, though perhaps not exported: no answer depends on it
}

// count records a call of method; unknown names share one label so that a
// client cannot grow the label set.
func (m *metrics) count(method string, failed bool) {
	if _, ok := methods[method]; !ok && method != "invalid" {
		method = "unknown"
	}
	m.requests.WithLabelValues(method).Inc()
	if failed {
		m.errors.WithLabelValues(method).Inc()
	}
}
