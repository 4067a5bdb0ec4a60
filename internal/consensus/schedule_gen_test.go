package consensus

import (
	"fmt"
	"strings"

	"pgregory.net/rapid"
)

// The schedules that property_test.go plays, and their generator.

type opKind uint8

const (
	opDeliverFirst opKind = iota // deliver the oldest message in flight
	opDeliver                    // deliver message x: a later one overtakes
	opTick                       // tick node x
	opTickAll                    // tick every node
	opDrop                       // lose message x
	opDuplicate                  // queue a copy of message x
	opDefer                      // move message x to the back of the queue
	opCrash                      // crash node x now
	opCrashMid                   // crash node x between persisting and sending its next Ready
	opRestart                    // restart node x from its storage
)

var opNames = [...]string{"deliver-first", "deliver", "tick", "tick-all", "drop", "duplicate", "defer", "crash", "crash-mid", "restart"}

// opWeights are the percentages with which each op is drawn, in op order.
// The first op is what rapid shrinks towards.
var opWeights = [...]int{30, 14, 14, 9, 8, 5, 6, 5, 2, 7}

// action is one step of a schedule; x picks a message or a node, modulo
// what exists when the action is played.
type action struct {
	op opKind
	x  int
}

func (a action) String() string { return fmt.Sprintf("%s %d", opNames[a.op], a.x) }

// linkFault is how a "Byzantine" node's outgoing messages travel. The node
// itself runs honest code.
type linkFault uint8

const (
	linkOK     linkFault = iota
	linkSilent           // every message lost
	linkTwice            // every message delivered twice in a row
	linkSome             // only to the peers in its mask
)

var linkNames = [...]string{"ok", "silent", "twice", "some"}

type schedule struct {
	n       int
	links   []linkFault // per node
	mask    []uint32    // per node, for linkSome: the peers its messages reach
	actions []action
}

// GoString prints a schedule compactly in rapid's failure reports.
func (s schedule) GoString() string {
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d", s.n)
	for i, l := range s.links {
		if l != linkOK {
			fmt.Fprintf(&b, " node%d=%s(mask %b)", i, linkNames[l], s.mask[i])
		}
	}
	fmt.Fprintf(&b, " %d actions:", len(s.actions))
	for k, a := range s.actions {
		fmt.Fprintf(&b, "\n  %3d %v", k, a)
	}
	return b.String()
}

const maxActions = 400

var genSchedule = rapid.Custom(func(t *rapid.T) schedule {
	n := rapid.SampledFrom([]int{4, 7}).Draw(t, "n")
	s := schedule{n: n, links: make([]linkFault, n), mask: make([]uint32, n)}
	for range rapid.IntRange(0, (n-1)/3).Draw(t, "faulty links") {
		i := rapid.IntRange(0, n-1).Draw(t, "node")
		s.links[i] = rapid.SampledFrom([]linkFault{linkSilent, linkTwice, linkSome}).Draw(t, "link")
		s.mask[i] = rapid.Uint32Range(0, 1<<n-1).Draw(t, "mask")
	}
	s.actions = make([]action, rapid.IntRange(0, maxActions).Draw(t, "length"))
	for k := range s.actions {
		w := rapid.IntRange(0, 99).Draw(t, "op")
		op := opKind(0)
		for w >= opWeights[op] {
			w -= opWeights[op]
			op++
		}
		s.actions[k] = action{op: op, x: rapid.IntRange(0, 1<<10).Draw(t, "x")}
	}
	return s
})
