package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/node"
)

// A running single validator is live and ready, and its status says it
// is not catching up and keeps every block from height 1.
func TestHealth(t *testing.T) {
	n, srv := oneNode(t, "kv")
	waitHeight(t, n, 3)
	if m := get(t, srv.URL+"/livez", 200); m["live"] != true {
		t.Errorf("livez: %v", m)
	}
	if m := get(t, srv.URL+"/readyz", 200); m["ready"] != true {
		t.Errorf("readyz: %v", m)
	}
	st := get(t, srv.URL+"/v1/status", 200)
	if st["catching_up"] != false || st["earliest_height"] != float64(1) {
		t.Errorf("status: catching_up %v, earliest_height %v", st["catching_up"], st["earliest_height"])
	}
}

// Each reason a node is not ready is said.
func TestNotReady(t *testing.T) {
	for _, tc := range []struct {
		st        node.Status
		connected uint64
		want      string
	}{
		{node.Status{Height: 9, Certified: 10, Heard: true}, 3, ""},
		{node.Status{AppError: "dial: refused"}, 4, "application is unusable: dial: refused"},
		{node.Status{Height: 9, Heard: true}, 2, "power 2 of 4, short of a quorum (3)"},
		{node.Status{Height: 9, CatchingUp: true, Certified: 90, Heard: true}, 4, "committed height 9, highest certified 90"},
		{node.Status{Height: 9, CatchingUp: true, Certified: 9}, 4, "no certificate heard from the network"},
	} {
		got := notReady(tc.st, tc.connected, 4)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%+v with power %d: %q, want %q", tc.st, tc.connected, got, tc.want)
		}
	}
}

// The operator's gauges: disk used, earliest height, catch-up lag.
func TestHealthMetrics(t *testing.T) {
	n, srv := oneNode(t, "kv")
	waitHeight(t, n, 3)
	values := metricValues(t, srv.URL)
	if values["strategos_disk_bytes"] < 1<<10 || values["strategos_earliest_height"] != 1 {
		t.Errorf("disk %v, earliest %v", values["strategos_disk_bytes"], values["strategos_earliest_height"])
	}
	if lag, ok := values["strategos_catch_up_lag"]; !ok || lag > 4 {
		t.Errorf("catch-up lag %v (exported %v) on a validator alone", lag, ok)
	}
}

// metricValues scrapes the node's strategos_ metrics without labels.
func metricValues(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	values := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		var name string
		var v float64
		if _, err := fmt.Sscanf(line, "%s %g", &name, &v); err == nil && strings.HasPrefix(name, "strategos_") {
			values[name] = v
		}
	}
	return values
}
