package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "strategos",
		Short: "Strategos: a Byzantine-fault-tolerant ledger",
		Long: `Strategos is a Byzantine-fault-tolerant distributed ledger: n = 3f+1 validators
agree on one chain of blocks with chained two-phase HotStuff, even when f of
them lie, equivocate or crash.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%s: %w", c.CommandPath(), err)
	})
	root.AddCommand(newSimCmd(), newGeneralsCmd(), newInitCmd(), newNodeCmd(), newTestnetCmd())
	root.AddCommand(walletCmds()...)
	root.AddCommand(newBenchCmd(), newVerifyCmd())
	return root
}

// printJSON writes v as exactly one JSON object on one line, as the
// contract requires of every --json output.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
