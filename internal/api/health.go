package api

import (
	"fmt"
	"net/http"

	"github.com/strategos/strategos/internal/consensus/quorum"
	"github.com/strategos/strategos/internal/node"
)

// earliestHeight is the lowest committed height this node serves: every
// block is kept (there is no pruning yet), so 1 once one is committed.
func earliestHeight(height uint64) uint64 { return min(height, 1) }

// livez answers 200 while the process serves requests.
func (s *server) livez(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"live": true})
}

// readyz answers 200 once the node can serve what the network agreed:
// its application answers, it is connected to a quorum, and it is caught
// up; else 503 with why.
func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.b.Status()
	connected, total := s.connectedPower(st)
	if why := notReady(st, connected, total); why != "" {
		writeErr(w, http.StatusServiceUnavailable, why)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "height": st.Height})
}

// connectedPower returns the voting power of this validator and of those
// it has a connection up with, and the total.
func (s *server) connectedPower(st node.Status) (power, total uint64) {
	vals := s.b.Validators()
	power = vals.Power(st.Node)
	for _, l := range st.Links {
		if l.Out || l.In {
			power += vals.Power(l.Validator)
		}
	}
	return power, vals.TotalPower()
}

// notReady says why a node with status st, connected to validators of
// power connected (of total), is not ready; "" when it is.
func notReady(st node.Status, connected, total uint64) string {
	switch {
	case st.AppError != "":
		return "the application is unusable: " + st.AppError
	case st.CatchingUp:
		return fmt.Sprintf("catching up: committed height %d, highest certified %d", st.Height, st.Certified)
	case !quorum.Reached(connected, total):
		return fmt.Sprintf("connected to validators of power %d of %d, short of a quorum (%d)", connected, total, quorum.Threshold(total))
	}
	return ""
}
