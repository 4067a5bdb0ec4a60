//go:build unix

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAcceptedSurvivesKill: a validator accepts transactions (202) that
// nothing can carry away yet (the other three validators are down, so no
// gossip reaches anyone and no block commits), is SIGKILLed, and starts
// again: every transaction it accepted is still pending there, never 404,
// and commits once the others start.
func TestAcceptedSurvivesKill(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const victim = 0
	c := newCluster(t, clusterOptions{nodes: 4})
	c.start(victim)
	c.waitAPI(victim, 20*time.Second)

	var hashes []string
	post := func(path, body string) []string {
		resp, err := c.client.Post(c.api(victim)+path, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var one struct{ Hash, Status string }
		var batch struct {
			Results []struct{ Hash, Status, Error string }
		}
		switch {
		case resp.StatusCode == http.StatusAccepted && json.Unmarshal(raw, &one) == nil && one.Status == "pending":
			return []string{one.Hash}
		case resp.StatusCode == http.StatusOK && json.Unmarshal(raw, &batch) == nil:
			var hs []string
			for _, r := range batch.Results {
				if r.Status != "pending" {
					t.Fatalf("batch line refused: %+v", r)
				}
				hs = append(hs, r.Hash)
			}
			return hs
		}
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
		return nil
	}
	for i := range 20 {
		hashes = append(hashes, post("/v1/txs", fmt.Sprintf("single%d=v%d", i, i))...)
	}
	var lines []string
	for i := range 500 {
		lines = append(lines, fmt.Sprintf("batch%d=v%d", i, i))
	}
	hashes = append(hashes, post("/v1/txs/batch", strings.Join(lines, "\n"))...)
	if len(hashes) != 520 {
		t.Fatalf("%d transactions accepted, want 520", len(hashes))
	}

	c.kill(victim)
	c.start(victim)
	c.waitAPI(victim, 20*time.Second)
	statusOf := func(h string) (string, string) {
		var v struct{ Status, Error string }
		code, err := c.getJSON(c.api(victim)+"/v1/txs/"+h, &v)
		if code == http.StatusNotFound {
			return "404", ""
		}
		if err != nil {
			return "error", err.Error()
		}
		return v.Status, v.Error
	}
	lost := 0
	for _, h := range hashes {
		if s, e := statusOf(h); s != "pending" && s != "committed" && !(s == "rejected" && e != "") {
			lost++
			if lost <= 5 {
				t.Errorf("after the restart, accepted tx %s answers %s %s", h, s, e)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d accepted transactions lost by a SIGKILL", lost, len(hashes))
	}

	for i := 1; i < 4; i++ {
		c.start(i)
	}
	waitFor(t, 90*time.Second, "every accepted transaction settled", func() (bool, string) {
		pending := 0
		for _, h := range hashes {
			switch s, e := statusOf(h); {
			case s == "committed":
			case s == "rejected" && e != "":
			case s == "pending" || s == "error":
				pending++
			default:
				t.Fatalf("accepted tx %s answers %s %s", h, s, e)
			}
		}
		return pending == 0, fmt.Sprintf("%d of %d not settled", pending, len(hashes))
	})
	c.stopAll()
}
