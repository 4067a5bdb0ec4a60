// Package quorum holds the integer arithmetic of Byzantine quorums: how
// much voting power forms a quorum, how many faults a set tolerates, and a
// tally that counts each signer once.
//
// A quorum is strictly more than two thirds of the total power. Any two
// quorums then share more than one third of the power, so they share at
// least one honest validator when at most a third is Byzantine: that
// intersection is what makes conflicting certificates impossible. All
// arithmetic is in integers; floats would make the boundary depend on
// rounding.
package quorum

// Reached reports whether power is more than two thirds of total. Callers
// keep total at or below 1<<60 (see chain.MaxTotalPower), so 3*power cannot
// overflow.
func Reached(power, total uint64) bool { return 3*power > 2*total }

// Threshold returns the least power that reaches a quorum of total.
func Threshold(total uint64) uint64 { return 2*total/3 + 1 }

// Weak reports whether power is more than one third of total: enough that at
// least one honest validator is among its holders.
func Weak(power, total uint64) bool { return 3*power > total }

// MaxFaulty returns f, the number of Byzantine validators that n validators
// of equal power tolerate: the largest f with n >= 3f+1.
func MaxFaulty(n int) int {
	if n < 1 {
		return 0
	}
	return (n - 1) / 3
}

// Tally accumulates the power of distinct signers. The zero value is ready
// to use.
type Tally struct {
	seen  map[uint32]bool
	power uint64
}

// Add counts signer with the given power once; it reports whether the
// signer was new.
func (t *Tally) Add(signer uint32, power uint64) bool {
	if t.seen == nil {
		t.seen = make(map[uint32]bool)
	}
	if t.seen[signer] {
		return false
	}
	t.seen[signer] = true
	t.power += power
	return true
}

// Has reports whether signer was counted.
func (t *Tally) Has(signer uint32) bool { return t.seen[signer] }

// Power returns the counted power.
func (t *Tally) Power() uint64 { return t.power }
