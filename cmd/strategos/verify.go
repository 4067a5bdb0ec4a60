package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/light"
)

// verifyFlags are the light client's flags, shared by its subcommands.
type verifyFlags struct {
	node      string
	genesis   string
	witnesses []string
	height    uint64
	maxAge    time.Duration
	jsonOut   bool
}

func (f *verifyFlags) client() (*light.Client, error) {
	if f.genesis == "" {
		return nil, errors.New("--genesis FILE is required: the light client trusts only the genesis file")
	}
	g, err := config.LoadGenesis(f.genesis)
	if err != nil {
		return nil, err
	}
	c, err := light.NewClient(g, f.node, f.witnesses)
	if err != nil {
		return nil, err
	}
	c.MaxAge = f.maxAge
	return c, nil
}

func newVerifyCmd() *cobra.Command {
	f := &verifyFlags{}
	cmd := &cobra.Command{
		Use:   "verify kv KEY | account ADDRESS | tx HASH | block H --node URL --genesis FILE",
		Short: "Fetch from one node and print only what its commit certificate and proofs prove",
		Long: `verify is a light client: it trusts only the genesis file. It fetches the
answer and a commit certificate from --node, checks the certificate's
signatures against the genesis validators and the answer's proof against
the certified root, and prints the answer only then. With --witness it
also checks that the witnesses certify the same block at that height: two
certified blocks at one height are a fork, reported with both
certificates. Any failed check is an error naming it (exit status 1).`,
		Args: cobra.NoArgs,
	}
	p := cmd.PersistentFlags()
	p.StringVar(&f.node, "node", defaultNode, "the node's API URL")
	p.StringVar(&f.genesis, "genesis", "", "the chain's genesis file (required)")
	p.StringSliceVar(&f.witnesses, "witness", nil, "other nodes' API URLs, to compare certified blocks with")
	p.Uint64Var(&f.height, "height", 0, "the height whose state to prove (kv, account; 0: the latest certified)")
	p.DurationVar(&f.maxAge, "max-age", light.DefaultMaxAge, "refuse a latest state whose block is older (0: no check)")
	p.BoolVar(&f.jsonOut, "json", false, "print one JSON object")
	cmd.AddCommand(verifyKV(f), verifyAccount(f), verifyTx(f), verifyBlock(f))
	return cmd
}

func verifyKV(f *verifyFlags) *cobra.Command {
	return &cobra.Command{
		Use: "kv KEY", Short: "A key's value (kv app), or its absence", Args: argsNamed("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			v, err := c.KV(cmd.Context(), args[0], f.height)
			if err != nil {
				return err
			}
			out := map[string]any{"verified": true, "height": v.Height, "key": args[0], "exists": v.Value != nil,
				"value": string(v.Value), "root": hex.EncodeToString(v.Root), "block_hash": v.Commit.BlockHash.String()}
			text := fmt.Sprintf("%s=%s (verified at height %d)", args[0], v.Value, v.Height)
			if v.Value == nil {
				text = fmt.Sprintf("%s is absent (verified at height %d)", args[0], v.Height)
			}
			return f.print(cmd.OutOrStdout(), out, text)
		},
	}
}

func verifyAccount(f *verifyFlags) *cobra.Command {
	return &cobra.Command{
		Use: "account ADDRESS", Short: "An account's balance and nonce (bank app)", Args: argsNamed("ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := parseAddressArg("address", args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			v, err := c.Account(cmd.Context(), a, f.height)
			if err != nil {
				return err
			}
			bal, nonce, err := bank.DecodeAccount(v.Value)
			if err != nil {
				return err
			}
			out := map[string]any{"verified": true, "height": v.Height, "address": a.String(), "balance": bal, "nonce": nonce,
				"root": hex.EncodeToString(v.Root), "block_hash": v.Commit.BlockHash.String()}
			return f.print(cmd.OutOrStdout(), out, fmt.Sprintf("%s balance %d nonce %d (verified at height %d)", a, bal, nonce, v.Height))
		},
	}
}

func verifyTx(f *verifyFlags) *cobra.Command {
	return &cobra.Command{
		Use: "tx HASH", Short: "That a transaction is in a committed block", Args: argsNamed("HASH"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := parseHashArg(args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			in, err := c.Tx(cmd.Context(), h)
			if err != nil {
				return err
			}
			out := map[string]any{"verified": true, "height": in.Height, "hash": h.String(), "index": in.Index,
				"block_hash": in.Commit.BlockHash.String()}
			return f.print(cmd.OutOrStdout(), out, fmt.Sprintf("%s is transaction %d of block %d (verified)", h, in.Index, in.Height))
		},
	}
}

func verifyBlock(f *verifyFlags) *cobra.Command {
	return &cobra.Command{
		Use: "block H", Short: "That block H is committed, and the state root its execution leaves", Args: argsNamed("H"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := parseUintArg("height", args[0])
			if err == nil && h == 0 {
				err = errors.New("height must be at least 1")
			}
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			v, err := c.Commit(cmd.Context(), h)
			if err != nil {
				return err
			}
			out := map[string]any{"verified": true, "height": h, "block_hash": v.BlockHash.String(),
				"state_root": hex.EncodeToString(v.StateRoot), "payload_hash": v.Header.PayloadHash.String(), "time": v.Header.Time}
			return f.print(cmd.OutOrStdout(), out, fmt.Sprintf("block %d %s is committed; state root %x (verified)", h, v.BlockHash, v.StateRoot))
		},
	}
}

func (f *verifyFlags) print(w io.Writer, out map[string]any, text string) error {
	if !f.jsonOut {
		_, err := fmt.Fprintln(w, text)
		return err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// verified answers `query account|kv --verify`: the light client's answer
// in the shape of the API's, with "verified" and "height".
func verified(cmd *cobra.Command, f *verifyFlags, use string, args []string) error {
	switch use {
	case "account ADDRESS":
		return verifyAccount(f).RunE(cmd, args)
	case "kv KEY":
		return verifyKV(f).RunE(cmd, args)
	}
	return fmt.Errorf("--verify works with query account and query kv, not query %s", use)
}
