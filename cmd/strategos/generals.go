package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// newGeneralsCmd is replaced by the Byzantine Generals work (issue 3).
func newGeneralsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "generals",
		Short:  "Run Lamport's Byzantine Generals algorithms (not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("generals: not built yet")
		},
	}
}
