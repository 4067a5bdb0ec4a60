package node

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerDurableMetrics exposes what the store's fork collection did.
func (n *Node) registerDurableMetrics() {
	st := n.store
	n.metrics.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strategos_store_fork_blocks_deleted_total",
			Help: "Stored blocks deleted because another block committed at their height."},
			func() float64 { d, _, _ := st.ForkStats(); return float64(d) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strategos_store_fork_bytes_deleted_total",
			Help: "Encoded bytes of the fork blocks deleted."},
			func() float64 { _, b, _ := st.ForkStats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "strategos_store_blocks_not_stored_total",
			Help: "Blocks not stored because they are at or below the committed height (they can never commit)."},
			func() float64 { _, _, r := st.ForkStats(); return float64(r) }),
	)
}
