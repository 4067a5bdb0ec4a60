package smttest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strategos/strategos/internal/smt"
)

// The oracle and package smt agree, from the empty tree to many keys.
func TestOracleAgrees(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 300} {
		state := map[string][]byte{}
		var keys, values [][]byte
		for i := range n {
			k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i*i)
			state[k] = []byte(v)
			keys, values = append(keys, []byte(k)), append(values, []byte(v))
		}
		tr, err := smt.Build(keys, values)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(tr.Root(), Root(state)) {
			t.Fatalf("%d keys: smt %x, oracle %x", n, tr.Root(), Root(state))
		}
	}
}
