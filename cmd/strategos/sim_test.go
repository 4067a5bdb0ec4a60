package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestSimJSON(t *testing.T) {
	out, err := runCLI(t, "sim", "--seeds", "4", "--heights", "5", "--json")
	if err != nil {
		t.Fatalf("sim failed: %v\n%s", err, out)
	}
	if strings.Count(out, "\n") != 1 {
		t.Fatalf("--json printed %q, want one line", out)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"runs", "violations", "stalled", "min_height", "first_violation_seed"} {
		if _, ok := got[k]; !ok {
			t.Errorf("missing key %q in %s", k, out)
		}
	}
	if got["runs"] != 4.0 || got["violations"] != 0.0 || got["min_height"].(float64) < 5 || got["first_violation_seed"] != nil {
		t.Errorf("unexpected summary %s", out)
	}
	again, _ := runCLI(t, "sim", "--seeds", "4", "--heights", "5", "--json")
	if again != out {
		t.Errorf("same arguments, different output:\n%s\n%s", out, again)
	}
}

func TestSimFindsViolationsWithTooManyTraitors(t *testing.T) {
	out, err := runCLI(t, "sim", "--byzantine", "2", "--behavior", "equivocate", "--seeds", "40", "--json")
	if err == nil {
		t.Fatalf("2 equivocators of 4: sim exited 0:\n%s", out)
	}
	var got struct {
		Violations int     `json:"violations"`
		First      *uint64 `json:"first_violation_seed"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Violations == 0 || got.First == nil {
		t.Fatalf("no violation reported: %s", out)
	}
}

func TestSimBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"sim", "--nodes", "four"},
		{"sim", "--byzantine", "1", "--behavior", "nosuch"},
		{"sim", "--nodes", "0"},
		{"sim", "--seeds", "0"},
		{"sim", "--byzantine", "4"},
		{"sim", "extra-arg"},
	} {
		if out, err := runCLI(t, args...); err == nil {
			t.Errorf("%v succeeded:\n%s", args, out)
		}
	}
}
