package generals

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateRefusesImpossibleArguments(t *testing.T) {
	ok := Config{Algorithm: OM, Generals: 4, M: 1, Traitors: []int{3}, Order: Attack}
	tests := []struct {
		name string
		edit func(*Config)
		want error
		msg  string
	}{
		{"fewer than 2 generals", func(c *Config) { c.Generals, c.Traitors = 1, nil }, ErrInvalid, "at least 2 generals"},
		{"no generals", func(c *Config) { c.Generals, c.Traitors = 0, nil }, ErrInvalid, "at least 2 generals"},
		{"more traitors than generals", func(c *Config) { c.Traitors = []int{0, 1, 2, 3, 4} }, ErrInvalid, "more traitors (5) than generals (4)"},
		{"traitor id out of range", func(c *Config) { c.Traitors = []int{4} }, ErrInvalid, "out of range"},
		{"negative traitor id", func(c *Config) { c.Traitors = []int{-1} }, ErrInvalid, "out of range"},
		{"duplicate traitor", func(c *Config) { c.Traitors = []int{2, 2} }, ErrInvalid, "listed twice"},
		{"negative m", func(c *Config) { c.M = -1 }, ErrInvalid, "m must be at least 0"},
		{"unknown algorithm", func(c *Config) { c.Algorithm = 7 }, ErrInvalid, "valid: om, sm"},
		{"unknown strategy", func(c *Config) { c.Strategy = 9 }, ErrInvalid, "valid: flip, split, random, silent"},
		{"unknown order", func(c *Config) { c.Order = 5 }, ErrInvalid, "valid: attack, retreat"},
		{"too many generals", func(c *Config) { c.Generals = MaxGenerals + 1 }, ErrTooLarge, "at most"},
		{"OM too many messages", func(c *Config) { c.Generals, c.M = 30, 10 }, ErrTooLarge, "more than"},
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Validate() = %v, want %v containing %q", err, tt.want, tt.msg)
			}
			if _, err := Run(c); err == nil {
				t.Fatal("Run accepted what Validate refused")
			}
			if _, err := Exhaust(c, 0); err == nil {
				t.Fatal("Exhaust accepted what Validate refused")
			}
		})
	}
}

func TestParseNames(t *testing.T) {
	for _, s := range []string{"om", "SM"} {
		if _, err := ParseAlgorithm(s); err != nil {
			t.Errorf("ParseAlgorithm(%q): %v", s, err)
		}
	}
	for _, st := range Strategies() {
		got, err := ParseStrategy(st.String())
		if err != nil || got != st {
			t.Errorf("ParseStrategy(%q) = %v, %v", st, got, err)
		}
	}
	for _, v := range []Value{Attack, Retreat} {
		got, err := ParseValue(v.String())
		if err != nil || got != v {
			t.Errorf("ParseValue(%q) = %v, %v", v, got, err)
		}
	}
	bad := []struct {
		err  error
		want string
	}{
		{func() error { _, err := ParseAlgorithm("pbft"); return err }(), "valid: om, sm"},
		{func() error { _, err := ParseStrategy("lie"); return err }(), "valid: flip, split, random, silent"},
		{func() error { _, err := ParseValue("charge"); return err }(), "valid: attack, retreat"},
	}
	for _, b := range bad {
		if b.err == nil || !strings.Contains(b.err.Error(), b.want) {
			t.Errorf("error %v should list %q", b.err, b.want)
		}
	}
}

func TestPickTraitors(t *testing.T) {
	a, err := PickTraitors(10, 3, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := PickTraitors(10, 3, 42)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed, different traitors: %v vs %v", a, b)
	}
	if len(a) != 3 || !slices.IsSorted(a) || len(slices.Compact(slices.Clone(a))) != 3 {
		t.Fatalf("want 3 distinct sorted ids, got %v", a)
	}
	for _, id := range a {
		if id < 0 || id >= 10 {
			t.Fatalf("id %d out of range", id)
		}
	}
	differ := false
	for seed := range uint64(20) {
		c, _ := PickTraitors(10, 3, seed)
		differ = differ || !slices.Equal(a, c)
	}
	if !differ {
		t.Fatal("the seed does not change the choice of traitors")
	}
	if all, _ := PickTraitors(4, 4, 1); !slices.Equal(all, []int{0, 1, 2, 3}) {
		t.Fatalf("4 of 4: %v", all)
	}
	for _, tc := range [][2]int{{4, 5}, {4, -1}, {1, 0}} {
		if _, err := PickTraitors(tc[0], tc[1], 1); !errors.Is(err, ErrInvalid) {
			t.Errorf("PickTraitors(%d, %d) = %v, want ErrInvalid", tc[0], tc[1], err)
		}
	}
}
