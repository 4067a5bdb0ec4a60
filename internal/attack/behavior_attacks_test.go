//go:build unix

package attack

import (
	"context"
	"os"
	"testing"

	"github.com/strategos/strategos/internal/byzantine"
)

// TestStockBehaviors runs validator 3 as a real node with each stock
// Byzantine behaviour while the honest validators are loaded with 60 KiB
// kv transactions: with one traitor of four, the honest ones keep
// committing. The default run tries equivocate (finding 1: with such
// transactions it halted a network in 2 of 4 runs) and flood; the soak
// (STRATEGOS_SOAK_ATTACK=1) tries every behaviour.
func TestStockBehaviors(t *testing.T) {
	names := []string{"equivocate", "flood"}
	if os.Getenv("STRATEGOS_SOAK_ATTACK") == "1" {
		names = nil
		for _, b := range byzantine.Names() {
			if b != byzantine.Honest {
				names = append(names, b)
			}
		}
	}
	for _, b := range names {
		t.Run(b, func(t *testing.T) {
			if b == "equivocate" {
				finding(t, 1)
			}
			n := newBehaviorNetwork(t, b)
			n.underAttack("stock behaviour "+b+" under 60 KiB kv load", baseWindow, attackWindow, progressK, progressWait,
				func(ctx context.Context) { n.load(ctx, 4, 1<<40) })
		})
	}
}
