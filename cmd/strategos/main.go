// Command strategos is the single binary of the Strategos ledger: it runs
// simulations of the consensus core, the Byzantine Generals reference
// algorithms and, in later releases, validator nodes and their tooling.
//
// This package only parses flags and prints results; every piece of logic
// lives in the internal packages it calls.
package main

import (
	"fmt"
	"os"
)

func main() {
	startProfiler()
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
