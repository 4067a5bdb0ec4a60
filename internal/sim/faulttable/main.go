// Command faulttable prints the simulator's table of throughput under
// faults as Markdown, or rewrites it in place in a document between the
// markers <!-- fault-table:begin --> and <!-- fault-table:end -->:
//
//	go run ./internal/sim/faulttable [-write docs/consensus.md]
//
// The output depends only on the flags: every run is seeded.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/strategos/strategos/internal/sim"
)

func main() {
	tc := sim.DefaultTable()
	write := flag.String("write", "", "rewrite the table in place in this Markdown file")
	seeds := flag.String("seeds", "1,2,3", "comma-separated seeds; every scenario runs once per seed")
	duration := flag.Int64("duration", tc.Duration, "virtual milliseconds per run")
	flag.Parse()
	tc.Duration = *duration
	tc.Seeds = nil
	for _, s := range strings.Split(*seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			fail(fmt.Errorf("bad seed %q", s))
		}
		tc.Seeds = append(tc.Seeds, v)
	}
	start := time.Now()
	rows, err := sim.FaultTable(tc)
	if err != nil {
		fail(err)
	}
	table := tc.Markdown(rows)
	fmt.Fprintf(os.Stderr, "faulttable: %d rows in %.1f s\n", len(rows), time.Since(start).Seconds())
	if *write == "" {
		fmt.Print(table)
		return
	}
	doc, err := os.ReadFile(*write)
	if err != nil {
		fail(err)
	}
	out, err := sim.SpliceTable(string(doc), table)
	if err != nil {
		fail(fmt.Errorf("%s: %w", *write, err))
	}
	if err := os.WriteFile(*write, []byte(out), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "faulttable:", err)
	os.Exit(1)
}
