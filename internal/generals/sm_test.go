package generals

import (
	"strings"
	"testing"
)

func TestSMOneTraitorAmongThreeGenerals(t *testing.T) {
	for _, traitor := range []int{0, 1, 2} {
		for _, order := range []Value{Attack, Retreat} {
			s, err := Exhaust(Config{Algorithm: SM, Generals: 3, M: 1, Traitors: []int{traitor}, Order: order}, 0)
			if err != nil {
				t.Fatal(err)
			}
			if s.Violations != 0 {
				t.Errorf("SM(1) n=3 traitor %s order %s: %d of %d cases broke IC1/IC2", Name(traitor), order, s.Violations, s.Cases)
			}
			if s.Cases < 2 {
				t.Errorf("SM(1) n=3 traitor %s: only %d cases", Name(traitor), s.Cases)
			}
		}
	}
}

func TestSMmTraitorsOfmPlus2Generals(t *testing.T) {
	for m := 1; m <= 3; m++ {
		n := m + 2
		withCommander := []int{0}
		for id := n - m + 1; id < n; id++ {
			withCommander = append(withCommander, id)
		}
		lieutenants := []int{}
		for id := n - m; id < n; id++ {
			lieutenants = append(lieutenants, id)
		}
		for _, ids := range [][]int{withCommander, lieutenants} {
			for _, order := range []Value{Attack, Retreat} {
				cfg := Config{Algorithm: SM, Generals: n, M: m, Traitors: ids, Order: order, Seed: 3}
				s, err := Exhaust(cfg, 0)
				if err != nil {
					t.Fatal(err)
				}
				if s.Violations != 0 {
					t.Errorf("SM(%d) n=%d traitors=%v order=%s: %d of %d cases broke IC1/IC2", m, n, ids, order, s.Violations, s.Cases)
				}
				for _, st := range Strategies() {
					cfg.Strategy = st
					res, err := Run(cfg)
					if err != nil {
						t.Fatal(err)
					}
					if !res.IC1 || !res.IC2 {
						t.Errorf("SM(%d) n=%d traitors=%v %s: %+v", m, n, ids, st, res)
					}
				}
			}
		}
	}
}

func TestSMAgreementUnderEveryStrategy(t *testing.T) {
	for _, c := range []struct{ n, m int }{{3, 1}, {4, 1}, {4, 2}, {5, 2}, {6, 3}, {7, 2}, {9, 3}} {
		placements := subsets(c.n, c.m)
		if c.n == 9 {
			placements = [][]int{{0, 1, 2}, {6, 7, 8}, {0, 4, 8}, {2, 5, 7}}
		}
		for seed := range uint64(2) {
			// One key ring per seed, as Run would derive it, shared so that
			// its caches spare re-verifying the same chains in every run.
			keys := newKeyring(seed, c.n)
			for _, ids := range placements {
				for _, st := range Strategies() {
					for _, order := range []Value{Attack, Retreat} {
						cfg := Config{Algorithm: SM, Generals: c.n, M: c.m, Traitors: ids, Order: order, Strategy: st, Seed: seed}
						if err := cfg.Validate(); err != nil {
							t.Fatal(err)
						}
						res := runStrategy(cfg, traitorSet(c.n, ids), keys)
						if !res.IC1 || !res.IC2 {
							t.Fatalf("SM(%d) n=%d traitors=%v %s order=%s seed=%d: %+v", c.m, c.n, ids, st, order, seed, res)
						}
					}
				}
			}
		}
	}
}

// With more traitors than m, SM(m) can fail, and the exhaustive search must
// find it: otherwise it would prove nothing when it finds no violation.
func TestSMExhaustiveFindsViolationWithTooManyTraitors(t *testing.T) {
	s, err := Exhaust(Config{Algorithm: SM, Generals: 4, M: 1, Traitors: []int{0, 2}, Order: Attack}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.IC1Violations == 0 {
		t.Fatalf("SM(1) with 2 traitors of 4: no IC1 violation in %d cases", s.Cases)
	}
	// SM(0) with a splitting commander: no relays, no agreement.
	res, _ := Run(Config{Algorithm: SM, Generals: 3, M: 0, Traitors: []int{0}, Order: Attack, Strategy: Split})
	if res.IC1 {
		t.Fatalf("SM(0) with a splitting commander agreed: %+v", res)
	}
}

func TestSMDiscardsTamperedOrders(t *testing.T) {
	res, err := Run(Config{Algorithm: SM, Generals: 4, M: 1, Traitors: []int{3}, Order: Attack, Strategy: Flip, Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IC1 || !res.IC2 || res.Decisions[1] != Attack || res.Decisions[2] != Attack {
		t.Fatalf("flipping traitor changed the outcome: %+v", res)
	}
	trace := strings.Join(res.Trace, "\n")
	for _, want := range []string{
		"SM C -> L1: attack:C (L1 adds attack, V = {attack})",
		"SM L3 [traitor] -> L1: retreat:C:L3 (discarded: the signature of C does not verify)",
		"L1: V = {attack} -> attack",
	} {
		if !strings.Contains(trace, want) {
			t.Errorf("trace lacks %q:\n%s", want, trace)
		}
	}
	// A traitor commander that splits leaves every loyal lieutenant with
	// both orders, so all retreat.
	res, _ = Run(Config{Algorithm: SM, Generals: 5, M: 1, Traitors: []int{0}, Order: Attack, Strategy: Split, Trace: true})
	for id, d := range res.Decisions {
		if d != Retreat {
			t.Errorf("L%d decided %s with V holding both orders", id, d)
		}
	}
	if !strings.Contains(strings.Join(res.Trace, "\n"), "V = {attack, retreat} -> retreat") {
		t.Errorf("trace does not show the ambiguous set: %v", res.Trace)
	}
}

func TestSMLoyalMessageCount(t *testing.T) {
	for n := 2; n <= 8; n++ {
		for m := 0; m <= 3; m++ {
			res, err := Run(Config{Algorithm: SM, Generals: n, M: m, Order: Attack})
			if err != nil {
				t.Fatal(err)
			}
			want := n - 1
			if m > 0 {
				want += (n - 1) * (n - 2) // each lieutenant relays the order once
			}
			if res.Messages != want {
				t.Errorf("SM(%d) n=%d loyal: %d messages, want %d", m, n, res.Messages, want)
			}
		}
	}
}

func TestSignatureChecks(t *testing.T) {
	keys := newKeyring(1, 4)
	o := signedOrder{value: Attack, signers: []int{0}, sigs: [][]byte{nil}}
	o.sigs[0] = keys.signLink(o.value, o.signers, o.sigs, 0)
	relayed := keys.extend(o, 2)
	if bad := keys.check(o, 1, 0); bad != "" {
		t.Fatalf("valid order refused: %s", bad)
	}
	if bad := keys.check(relayed, 2, 2); bad != "" {
		t.Fatalf("valid relay refused: %s", bad)
	}
	traitors := traitorSet(4, []int{2})
	co := newCoalition(keys, traitors, Attack)
	tampered := co.relay(co.retag(o, Retreat), 2)
	twice := keys.extend(relayed, 2)
	forged := relayed
	forged.sigs = [][]byte{relayed.sigs[1], relayed.sigs[1]}
	for _, tc := range []struct {
		name   string
		o      signedOrder
		round  int
		sender int
		want   string
	}{
		{"too early", relayed, 1, 2, "2 signatures in round 1"},
		{"wrong sender", relayed, 2, 3, "not the sender's"},
		{"tampered value", tampered, 2, 2, "signature of C does not verify"},
		{"repeated signer", twice, 3, 2, "repeated"},
		{"swapped signature", forged, 2, 2, "signature of C does not verify"},
		{"not from the commander", keys.extend(signedOrder{value: Attack, signers: []int{1}, sigs: [][]byte{relayed.sigs[1]}}, 2), 2, 2, "not the commander's"},
	} {
		if bad := keys.check(tc.o, tc.round, tc.sender); !strings.Contains(bad, tc.want) {
			t.Errorf("%s: check = %q, want %q", tc.name, bad, tc.want)
		}
	}
	// The coalition of L2 cannot make the loyal commander's order for the
	// other value, nor any order before holding one.
	if _, ok := co.commanderOrder(Retreat); ok {
		t.Fatal("coalition signed for a loyal commander")
	}
	if _, ok := co.build(Attack, 2); ok {
		t.Fatal("coalition built an order it never received")
	}
	co.receive(2, 1, o)
	if got, ok := co.build(Attack, 2); !ok || keys.check(got, 2, 2) != "" {
		t.Fatalf("coalition could not relay a held order: %v %v", got, ok)
	}
	if _, ok := co.build(Retreat, 2); ok {
		t.Fatal("coalition built an order for a value never signed")
	}
	if _, ok := co.build(Attack, 3); ok {
		t.Fatal("coalition of one lieutenant built a chain of 3 signatures")
	}
}
