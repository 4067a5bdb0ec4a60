package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on the default mux
	"os"
)

// startProfiler serves Go's profiler on STRATEGOS_PPROF (for example
// 127.0.0.1:6060) when that variable is set: the way docs/performance.md
// profiles a running node or testnet. It is off by default.
func startProfiler() {
	addr := os.Getenv("STRATEGOS_PPROF")
	if addr == "" {
		return
	}
	go func() {
		if err := http.ListenAndServe(addr, nil); err != nil {
			fmt.Fprintf(os.Stderr, "pprof: %v\n", err)
		}
	}()
}
