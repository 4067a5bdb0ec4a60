package bench

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func ownNetwork(nodes, k int, behavior string) Options {
	return Options{Nodes: nodes, Byzantine: k, Behavior: behavior, Duration: time.Second, APIPort: 1, P2PPort: 1, Binary: "x"}
}

func TestCheckByzantine(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string // the behaviour Check fills in, or the error it gives
		ok   bool
	}{
		{"none", ownNetwork(4, 0, ""), "honest", true},
		{"none, honest named", ownNetwork(4, 0, "honest"), "honest", true},
		{"default behaviour", ownNetwork(4, 1, ""), "equivocate", true},
		{"silent", ownNetwork(4, 1, "silent"), "silent", true},
		{"more than f", ownNetwork(4, 2, "silent"), "silent", true}, // warned about, allowed
		{"all but one", ownNetwork(4, 3, "delay"), "delay", true},
		{"every validator", ownNetwork(4, 4, "silent"), "--byzantine must be between 0 and 3", false},
		{"more than the nodes", ownNetwork(4, 5, "silent"), "--byzantine must be between 0 and 3", false},
		{"negative", ownNetwork(4, -1, "silent"), "--byzantine must be between 0 and 3", false},
		{"unknown behaviour", ownNetwork(4, 1, "nosuch"), `--behavior "nosuch" is not a Byzantine behaviour`, false},
		{"honest is no misbehaviour", ownNetwork(4, 1, "honest"), `--behavior "honest" is not a Byzantine behaviour`, false},
		{"behaviour without K", ownNetwork(4, 0, "silent"), "--behavior silent needs --byzantine K > 0", false},
		{"targets with K", Options{Targets: []string{"http://x"}, Byzantine: 1, Duration: time.Second}, "for its own network", false},
		{"targets with a behaviour", Options{Targets: []string{"http://x"}, Behavior: "silent", Duration: time.Second}, "for its own network", false},
		{"targets", Options{Targets: []string{"http://x"}, Duration: time.Second}, "honest", true},
	} {
		o := tc.o
		err := o.Check()
		switch {
		case tc.ok && err != nil:
			t.Errorf("%s: Check: %v", tc.name, err)
		case tc.ok && o.Behavior != tc.want:
			t.Errorf("%s: behaviour %q, want %q", tc.name, o.Behavior, tc.want)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Check = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestHonestTargets: the K highest validators run their behaviour and are
// never loaded, polled or followed; the others run the protocol and are.
func TestHonestTargets(t *testing.T) {
	apis := []string{"http://a0", "http://a1", "http://a2", "http://a3", "http://a4"}
	for _, tc := range []struct {
		k      int
		honest []string
	}{
		{0, apis},
		{1, apis[:4]},
		{2, apis[:3]},
		{4, apis[:1]},
	} {
		behavior := "silent"
		if tc.k == 0 {
			behavior = ""
		}
		o := ownNetwork(len(apis), tc.k, behavior)
		if err := o.Check(); err != nil {
			t.Fatal(err)
		}
		if got := o.honestAPIs(apis); !slices.Equal(got, tc.honest) {
			t.Errorf("K=%d: loads %v, want %v", tc.k, got, tc.honest)
		}
		for i := range apis {
			args := nodeArgs(&o, i, "/h")
			byz := i >= len(apis)-tc.k
			want := []string{"node", "--home", "/h"}
			if byz {
				want = append(want, "--behavior", "silent")
			}
			if !slices.Equal(args, want) {
				t.Errorf("K=%d: node %d runs %v, want %v", tc.k, i, args, want)
			}
		}
	}
}

func TestFaultTolerance(t *testing.T) {
	for n, f := range map[int]int{1: 0, 3: 0, 4: 1, 6: 1, 7: 2, 10: 3, 100: 33} {
		if got := faultTolerance(n); got != f {
			t.Errorf("f(%d) = %d, want %d", n, got, f)
		}
	}
}
