package consensus

import "testing"

// The base timeout adapts to the rounds the network actually takes: it
// falls from BaseTimeout to the floor when rounds are fast, a minority of
// slow rounds (a Byzantine leader stalling its own turns) cannot raise
// it, and a majority of slow rounds (a slower network) does.
func TestAdaptiveTimeout(t *testing.T) {
	const base, minT, maxT = 40, 4, 400
	n := newTestNet(t, 4, func(c *Config) { c.BaseTimeout, c.MinTimeout, c.MaxTimeout = base, minT, maxT })
	c := n.cores[0]
	if got := c.timeout(); got != base {
		t.Fatalf("timeout at start = %d, want BaseTimeout %d", got, base)
	}
	n.run(200)
	if len(n.committed(0)) < 50 {
		t.Fatalf("only %d commits", len(n.committed(0)))
	}
	fast := c.timeout()
	if fast >= base/2 || fast < minT {
		t.Fatalf("after fast rounds the timeout is %d, want it near the floor %d (from %d)", fast, minT, base)
	}
	for range roundsKept/2 - 1 {
		c.noteRound(maxT)
	}
	if got := c.timeout(); got != fast {
		t.Fatalf("a minority of slow rounds moved the timeout from %d to %d", fast, got)
	}
	for range 2 {
		c.noteRound(30)
	}
	if got := c.timeout(); got <= fast || got > maxT {
		t.Fatalf("a majority of slow rounds left the timeout at %d (was %d)", got, fast)
	}
}
