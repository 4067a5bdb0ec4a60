package generals

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func checkTable(t *testing.T, rows []Row, maxM int) {
	t.Helper()
	if len(rows) != 2*3*maxM {
		t.Fatalf("%d rows, want %d", len(rows), 2*3*maxM)
	}
	for _, r := range rows {
		name := fmt.Sprintf("%s(%d) n=%d", r.Algorithm.Name(), r.M, r.Generals)
		if r.Generals < 3*r.M || r.Generals > 3*r.M+2 || r.Traitors != r.M {
			t.Errorf("%s: unexpected row shape %+v", name, r)
		}
		if r.BoundHolds != (r.Generals > 3*r.M) {
			t.Errorf("%s: BoundHolds = %v", name, r.BoundHolds)
		}
		switch r.Algorithm {
		case OM:
			if r.Found() == r.BoundHolds {
				t.Errorf("%s: adversary found = %v, but the paper says OM(m) fails exactly when n <= 3m (search %s)", name, r.Found(), r.Search())
			}
			if want := closedForm(r.Generals, r.M); r.Messages != want {
				t.Errorf("%s: %d messages, want M(n,m) = %d", name, r.Messages, want)
			}
		case SM:
			if r.Found() {
				t.Errorf("%s: SM(m) broken by %s", name, r.Witness)
			}
			if want := (r.Generals - 1) * (r.Generals - 1); r.Messages != want {
				t.Errorf("%s: %d messages, want (n-1) + (n-1)(n-2) = %d", name, r.Messages, want)
			}
		}
		if r.Found() != (r.Witness != nil) || r.Found() != (r.IC1Broken || r.IC2Broken) {
			t.Errorf("%s: found=%v witness=%v ic1=%v ic2=%v disagree", name, r.Found(), r.Witness, r.IC1Broken, r.IC2Broken)
		}
		if r.Cases+r.Trials == 0 {
			t.Errorf("%s: nothing searched", name)
		}
		if r.M == 1 && (r.Trials != 0 || !strings.HasPrefix(r.Search(), "exhaustive(")) {
			t.Errorf("%s: m=1 should be searched exhaustively, got %s", name, r.Search())
		}
		if r.Cases == 0 && !strings.HasPrefix(r.Search(), "random(") {
			t.Errorf("%s: search label %q", name, r.Search())
		}
	}
	// The three-general row is the paper's first example: a traitor
	// lieutenant makes the other disobey a loyal commander.
	if r := rows[0]; r.Algorithm != OM || r.Generals != 3 || !r.IC2Broken {
		t.Errorf("OM(1) n=3 should break IC2: %+v", r)
	}
}

func TestTableReproducesThePaper(t *testing.T) {
	opts := TableOptions{MaxM: 2, Trials: 100, Seed: 1}
	rows, err := Table(opts)
	if err != nil {
		t.Fatal(err)
	}
	checkTable(t, rows, 2)
	again, _ := Table(opts)
	if !reflect.DeepEqual(rows, again) {
		t.Fatal("the table is not deterministic")
	}
}

func TestTableFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("the full table takes a few seconds")
	}
	rows, err := Table(TableOptions{Trials: 40})
	if err != nil {
		t.Fatal(err)
	}
	checkTable(t, rows, 3)
}

func TestTableRefusesBadOptions(t *testing.T) {
	if _, err := Table(TableOptions{MaxM: -1}); err == nil {
		t.Fatal("MaxM -1 accepted")
	}
	if _, err := Table(TableOptions{Trials: -5}); err == nil {
		t.Fatal("negative trials accepted")
	}
}
