package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/strategos/strategos/internal/consensus/quorum"
	"github.com/strategos/strategos/internal/node"
	"github.com/strategos/strategos/internal/store"
)

// earliestHeight is the lowest committed height this node serves (0
// before the first commit).
func (s *server) earliestHeight(height uint64) uint64 {
	return min(height, s.b.Store().EarliestHeight())
}

// gone answers 410 with the earliest height kept, and reports true, if
// height was pruned.
func (s *server) gone(w http.ResponseWriter, height uint64) bool {
	return s.goneErr(w, s.b.Store().Pruned(height))
}

// goneErr answers 410 with the earliest height kept, and reports true, if
// err is a store.PrunedError.
func (s *server) goneErr(w http.ResponseWriter, err error) bool {
	var pe *store.PrunedError
	if !errors.As(err, &pe) {
		return false
	}
	writeJSON(w, http.StatusGone, map[string]any{"error": pe.Error(), "earliest_height": pe.Earliest})
	return true
}

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
	case !st.Heard:
		return "no certificate heard from the network since the node started"
	case st.CatchingUp:
		return fmt.Sprintf("catching up: committed height %d, highest certified %d", st.Height, st.Certified)
	case !quorum.Reached(connected, total):
		return fmt.Sprintf("connected to validators of power %d of %d, short of a quorum (%d)", connected, total, quorum.Threshold(total))
	}
	return ""
}

// Starting is the API of a validator that does not serve yet (it is
// restoring its state from its peers' snapshots): /livez answers 200,
// /readyz and every other path 503 with why().
func Starting(why func() string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"live": true})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeErr(w, http.StatusServiceUnavailable, why())
	})
	return mux
}
