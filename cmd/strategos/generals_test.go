package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// runGenerals runs `strategos generals ARGS` and returns its stdout.
func runGenerals(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newGeneralsCmd()
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// oneJSON checks that out is exactly one JSON object on one line and
// returns it.
func oneJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("want exactly one line, got %q", out)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not a JSON object: %v: %q", err, out)
	}
	return v
}

func requireKeys(t *testing.T, v map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := v[k]; !ok {
			t.Errorf("JSON lacks %q: %v", k, v)
		}
	}
}

var contractKeys = []string{"algorithm", "generals", "m", "traitors", "order", "decisions", "ic1", "ic2", "messages"}

func TestGeneralsJSON(t *testing.T) {
	out, err := runGenerals(t, "--algorithm", "om", "--generals", "4", "--traitors", "1", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	requireKeys(t, v, contractKeys...)
	if v["algorithm"] != "om" || v["generals"] != 4.0 || v["m"] != 1.0 || v["order"] != "attack" || v["messages"] != 9.0 {
		t.Errorf("unexpected values: %v", v)
	}
	if v["ic1"] != true || v["ic2"] != true {
		t.Errorf("OM(1) with 4 generals and 1 traitor must agree: %v", v)
	}
	traitors, _ := v["traitors"].([]any)
	decisions, _ := v["decisions"].(map[string]any)
	if len(traitors) != 1 {
		t.Fatalf("traitors = %v, want one id", v["traitors"])
	}
	traitor := int(traitors[0].(float64))
	wantDecisions := 3
	if traitor != 0 {
		wantDecisions = 2
	}
	if len(decisions) != wantDecisions {
		t.Errorf("decisions %v should cover the %d loyal lieutenants", decisions, wantDecisions)
	}
	for id, d := range decisions {
		if id == "0" || d != "attack" && d != "retreat" {
			t.Errorf("bad decision %s: %v", id, d)
		}
	}
	if _, ok := v["cases"]; ok {
		t.Error("a single run should not report cases")
	}
}

func TestGeneralsExhaustiveJSON(t *testing.T) {
	out, err := runGenerals(t, "--algorithm", "om", "--generals", "3", "--traitor-ids", "2", "--exhaustive", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	requireKeys(t, v, append(contractKeys, "cases", "violations")...)
	if v["cases"] != 2.0 || v["violations"] != 1.0 || v["ic1"] != true || v["ic2"] != false || v["m"] != 1.0 {
		t.Errorf("OM(1), 3 generals, traitor L2: %v", v)
	}
	if d := v["decisions"].(map[string]any); d["1"] != "retreat" {
		t.Errorf("the violating case should have L1 retreat: %v", d)
	}

	out, err = runGenerals(t, "--algorithm", "sm", "--generals", "3", "--traitors", "1", "--exhaustive", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v = oneJSON(t, out)
	if v["violations"] != 0.0 || v["ic1"] != true || v["ic2"] != true || v["algorithm"] != "sm" {
		t.Errorf("SM(1) with 3 generals must hold in every case: %v", v)
	}
}

func TestGeneralsTextAndTrace(t *testing.T) {
	out, err := runGenerals(t, "--algorithm", "om", "--generals", "3", "--traitor-ids", "2", "--order", "attack", "--strategy", "flip", "--trace")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"OM(1) with 3 generals: the commander C is loyal and orders attack; traitors: L2",
		"round 1: OM(1)",
		"OM(1) C -> L1: attack (the order)",
		"OM(0) L2 -> L1: retreat (relaying the commander's order) [traitor: it holds attack]",
		"L1 holds [C attack, L2 retreat] -> decides retreat (tie)",
		"IC2 (loyal lieutenants obey a loyal commander):  BROKEN",
		"messages sent: 4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = runGenerals(t, "--algorithm", "sm", "--generals", "4", "--traitor-ids", "3", "--strategy", "flip", "--trace", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	trace, _ := v["trace"].([]any)
	if len(trace) == 0 || !strings.Contains(out, "does not verify") {
		t.Errorf("SM trace should show the forged relay being discarded: %v", v["trace"])
	}
}

func TestGeneralsErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--generals", "1"}, "at least 2"},
		{[]string{"--generals", "0", "--traitors", "0"}, "at least 2"},
		{[]string{"--generals", "4", "--traitors", "5"}, "more traitors (5) than generals (4)"},
		{[]string{"--traitors", "-1"}, "at least 0"},
		{[]string{"--algorithm", "pbft"}, `unknown algorithm "pbft" (valid: om, sm)`},
		{[]string{"--strategy", "lie"}, `unknown strategy "lie" (valid: flip, split, random, silent)`},
		{[]string{"--order", "charge"}, "valid: attack, retreat"},
		{[]string{"--traitor-ids", "0,9"}, "id 9 out of range 0..3"},
		{[]string{"--traitor-ids", "1,1"}, "listed twice"},
		{[]string{"--traitor-ids", "x"}, "not a general id"},
		{[]string{"--traitors", "2", "--traitor-ids", "1"}, "does not match"},
		{[]string{"--m", "-1"}, "--m must be at least 0"},
		{[]string{"--generals", "6", "--m", "2", "--traitor-ids", "4,5", "--exhaustive"}, "2^24 cases"},
		{[]string{"--generals", "40", "--m", "8"}, "messages"},
		{[]string{"bogus"}, "unknown command"},
		{[]string{"table", "--max-m", "4"}, "--max-m must be 1, 2 or 3"},
		{[]string{"table", "--trials", "-1"}, "--trials must be at least 0"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := runGenerals(t, append(tt.args, "--json")...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if out != "" {
				t.Errorf("printed %q on stdout despite failing", out)
			}
		})
	}
}

func TestGeneralsTable(t *testing.T) {
	out, err := runGenerals(t, "table", "--max-m", "2", "--trials", "50", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v := oneJSON(t, out)
	requireKeys(t, v, "rows", "matches_paper")
	rows, _ := v["rows"].([]any)
	if len(rows) != 12 {
		t.Fatalf("%d rows, want 12", len(rows))
	}
	for _, r := range rows {
		row := r.(map[string]any)
		requireKeys(t, row, "algorithm", "m", "generals", "traitors", "violation_found", "ic1_broken", "ic2_broken", "search", "messages")
		n, m := row["generals"].(float64), row["m"].(float64)
		wantFound := row["algorithm"] == "om" && n <= 3*m
		if row["violation_found"] != wantFound {
			t.Errorf("row %v: violation_found should be %v", row, wantFound)
		}
		search := row["search"].(string)
		if !strings.HasPrefix(search, "exhaustive(") && !strings.HasPrefix(search, "random(") {
			t.Errorf("row %v: search %q says neither exhaustive nor random", row, search)
		}
	}
	if v["matches_paper"] != true {
		t.Errorf("table does not match the paper: %s", out)
	}

	out, err = runGenerals(t, "table", "--max-m", "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"exhaustive(12 cases)", "OM(1), n=3: traitors L2, order attack", "as the paper says"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
