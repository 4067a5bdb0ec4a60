package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/app/kv"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/client"
	"github.com/strategos/strategos/internal/keys"
	"github.com/strategos/strategos/internal/light"
)

// defaultNode is the API of node 0 of a default local testnet.
const defaultNode = "http://127.0.0.1:8080"

// waitPollInterval is the first interval between two polls of --wait.
const waitPollInterval = 100 * time.Millisecond

// walletCmds returns the commands of users and scripts: keys, tx, kv and
// query.
func walletCmds() []*cobra.Command {
	return []*cobra.Command{newKeysCmd(), newTxCmd(), newKVCmd(), newQueryCmd()}
}

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create and inspect account key files",
		Args:  cobra.NoArgs,
	}
	var out string
	var jsonOut bool
	newCmd := &cobra.Command{
		Use:   "new --out FILE",
		Short: "Write a new account key file (readable by its owner only) and print its address",
		Long: `new writes a fresh ed25519 key to FILE with mode 0600 and prints the account's
address (the hex of the first 20 bytes of SHA-256 of the public key) on a line
of its own. It never overwrites an existing file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := keys.New()
			if err != nil {
				return err
			}
			if err := keys.Write(out, key); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return fmt.Errorf("key file %s already exists; not overwriting it", out)
				}
				return err
			}
			addr := keyAddress(key)
			if jsonOut {
				return printJSON(cmd.OutOrStdout(), map[string]string{"address": addr.String(), "file": out})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), addr)
			return err
		},
	}
	newCmd.Flags().StringVar(&out, "out", "", "the key file to write (required)")
	newCmd.Flags().BoolVar(&jsonOut, "json", false, `print {"address","file"} as one JSON object`)
	newCmd.MarkFlagRequired("out")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show FILE",
		Short: "Print the address of a key file",
		Args:  argsNamed("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := readKeyFile(args[0])
			if err != nil {
				return err
			}
			addr := keyAddress(key)
			if showJSON {
				pub := key.Public().(ed25519.PublicKey)
				return printJSON(cmd.OutOrStdout(), map[string]string{"address": addr.String(), "pub_key": hex.EncodeToString(pub)})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), addr)
			return err
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, `print {"address","pub_key"} as one JSON object`)
	cmd.AddCommand(newCmd, show)
	return cmd
}

func newTxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Sign and submit transfers (bank app)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newTxSignCmd(), newTxTransferCmd())
	return cmd
}

// transferFlags are the flags shared by tx sign and tx transfer.
type transferFlags struct {
	key, to, amount, nonce, chainID, node string
	fileChain                             string // the chain id the key file records, if any
}

func (f *transferFlags) register(cmd *cobra.Command, nonceHelp string) {
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "the sender's key file (required)")
	fl.StringVar(&f.to, "to", "", "the recipient's address, 40 hex digits (required)")
	fl.StringVar(&f.amount, "amount", "", "units to transfer, a positive integer (required)")
	fl.StringVar(&f.nonce, "nonce", "", nonceHelp)
	fl.StringVar(&f.chainID, "chain-id", "", "the chain to sign for (default: the chain id of --node)")
	fl.StringVar(&f.node, "node", defaultNode, "the node's API URL")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("to")
	cmd.MarkFlagRequired("amount")
}

// parse checks the local inputs (address, amount, nonce if given, key)
// before anything reaches the network.
func (f *transferFlags) parse() (key ed25519.PrivateKey, to chain.Address, amount uint64, err error) {
	if to, err = parseAddressArg("--to", f.to); err != nil {
		return
	}
	if amount, err = parseUintArg("--amount", f.amount); err != nil {
		return
	}
	if amount == 0 {
		err = errors.New("--amount must be positive")
		return
	}
	if f.nonce != "" {
		if _, err = parseUintArg("--nonce", f.nonce); err != nil {
			return
		}
	}
	if key, f.fileChain, err = readKeyFileFor(f.key); err != nil {
		return
	}
	if to == keyAddress(key) {
		err = errors.New("--to is the sender's own address; a transfer must go to another account")
	}
	return
}

// chain returns --chain-id, or else the chain id that --node reports.
func (f *transferFlags) chain(ctx context.Context, c *client.Client) (string, error) {
	if f.chainID != "" {
		return f.chainID, nil
	}
	id, err := c.ChainID(ctx)
	if err != nil {
		return "", fmt.Errorf("a chain id is needed: pass --chain-id ID, or --node URL of a running node (%v)", err)
	}
	return id, nil
}

func newTxSignCmd() *cobra.Command {
	var f transferFlags
	cmd := &cobra.Command{
		Use:   "sign --key FILE --to ADDRESS --amount N --nonce N [--chain-id ID | --node URL]",
		Short: "Print a signed transfer on one line, without sending it",
		Long: `sign prints the signed transfer on one line: the body that POST /v1/txs takes,
and one line of a batch for POST /v1/txs/batch. The chain id comes from
--chain-id, else from the key file (demo accounts written by init and testnet
record their chain), else from GET /v1/status of --node (default ` + defaultNode + `).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, to, amount, err := f.parse()
			if err != nil {
				return err
			}
			nonce, err := parseUintArg("--nonce", f.nonce)
			if err != nil {
				return err
			}
			chainID := f.chainID
			if chainID == "" {
				chainID = f.fileChain
			}
			if chainID == "" {
				c, err := client.New(f.node, nil)
				if err != nil {
					return err
				}
				if chainID, err = f.chain(cmd.Context(), c); err != nil {
					return err
				}
			}
			body, err := bank.Sign(key, chainID, to, amount, nonce)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", body)
			return err
		},
	}
	f.register(cmd, "the sender's next nonce, from 0 (required)")
	cmd.MarkFlagRequired("nonce")
	return cmd
}

// waitFlags are the flags of commands that submit a transaction.
type waitFlags struct {
	wait    bool
	timeout time.Duration
	json    bool
	verify  bool   // check the commit with the light client
	genesis string // the genesis file it trusts
}

func (w *waitFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.BoolVar(&w.wait, "wait", false, "wait until the transaction is committed (prints `committed at height H`) or rejected (fails with the reason)")
	fl.DurationVar(&w.timeout, "timeout", 60*time.Second, "with --wait, how long to wait")
	fl.BoolVar(&w.json, "json", false, `print {"hash","status",...} as one JSON object`)
	fl.BoolVar(&w.verify, "verify", false, "with --wait, also check with the light client that a committed block holds the transaction (needs --genesis)")
	fl.StringVar(&w.genesis, "genesis", "", "with --verify, the chain's genesis file")
}

func newTxTransferCmd() *cobra.Command {
	var f transferFlags
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "transfer --key FILE --to ADDRESS --amount N --node URL [--nonce N] [--wait]",
		Short: "Sign and submit a transfer, and print its hash",
		Long: `transfer signs a transfer, submits it to --node and prints the transaction
hash. Without --nonce it takes the account's pending_nonce from the node. With
--wait it then waits until the transaction is committed and prints
"committed at height H", or fails with the reason it was rejected.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := w.check(); err != nil {
				return err
			}
			key, to, amount, err := f.parse()
			if err != nil {
				return err
			}
			c, err := client.New(f.node, nil)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			chainID, err := f.chain(ctx, c)
			if err != nil {
				return err
			}
			from := keyAddress(key)
			var nonce uint64
			if f.nonce != "" {
				nonce, _ = parseUintArg("--nonce", f.nonce) // checked by parse
			} else {
				acct, err := c.Account(ctx, from)
				if err != nil {
					return fmt.Errorf("cannot get the nonce of %s (pass --nonce N): %w", from, err)
				}
				nonce = acct.PendingNonce
			}
			body, err := bank.Sign(key, chainID, to, amount, nonce)
			if err != nil {
				return err
			}
			res := submitResult{From: from.String(), To: to.String(), Amount: &amount, Nonce: &nonce}
			return submitTx(cmd, c, body, w, res)
		},
	}
	f.register(cmd, "the sender's nonce (default: the account's pending_nonce from the node)")
	w.register(cmd)
	return cmd
}

func newKVCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Submit key/value transactions (kv app)",
		Args:  cobra.NoArgs,
	}
	var node string
	var w waitFlags
	put := &cobra.Command{
		Use:   "put KEY VALUE --node URL [--wait]",
		Short: "Submit the transaction KEY=VALUE and print its hash",
		Long: fmt.Sprintf(`put submits the key/value transaction KEY=VALUE to --node and prints its hash.
KEY must be non-empty and contain no '='; KEY=VALUE must be printable text
without newlines, at most %d bytes. With --wait it then waits until the
transaction is committed and prints "committed at height H", or fails with
the reason it was rejected.`, kv.MaxTx),
		Args: argsNamed("KEY", "VALUE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			body, err := kvBody(args[0], args[1])
			if err != nil {
				return err
			}
			c, err := client.New(node, nil)
			if err != nil {
				return err
			}
			return submitTx(cmd, c, body, w, submitResult{Key: args[0]})
		},
	}
	put.Flags().StringVar(&node, "node", defaultNode, "the node's API URL")
	w.register(put)
	cmd.AddCommand(put)
	return cmd
}

// kvBody checks a key and value and returns the transaction KEY=VALUE.
func kvBody(key, value string) ([]byte, error) {
	if key == "" {
		return nil, errors.New("the key must not be empty")
	}
	if strings.Contains(key, "=") {
		return nil, fmt.Errorf("the key %q must not contain '='", quoteInput(key))
	}
	if n := len(key) + 1 + len(value); n > kv.MaxTx {
		return nil, fmt.Errorf("KEY=VALUE is %d bytes, over the limit of %d", n, kv.MaxTx)
	}
	for _, part := range []struct{ name, s string }{{"key", key}, {"value", value}} {
		if err := checkPrintable(part.s); err != nil {
			return nil, fmt.Errorf("the %s %w", part.name, err)
		}
	}
	body := []byte(key + "=" + value)
	if _, _, err := kv.Parse(body); err != nil {
		return nil, err
	}
	return body, nil
}

// printable checks that s is printable UTF-8 text without newlines.
func checkPrintable(s string) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			return errors.New("is not valid UTF-8")
		case r == '\n' || r == '\r':
			return errors.New("must not contain a newline")
		case r == utf8.RuneError || !unicode.IsPrint(r):
			return fmt.Errorf("must be printable text (found %U at byte %d)", r, i)
		}
	}
	return nil
}

// submitResult is the --json output of a command that submits a transaction.
type submitResult struct {
	Hash   string  `json:"hash"`
	Status string  `json:"status"`
	Height uint64  `json:"height,omitempty"`
	Error  string  `json:"error,omitempty"`
	From   string  `json:"from,omitempty"`
	To     string  `json:"to,omitempty"`
	Amount *uint64 `json:"amount,omitempty"`
	Nonce  *uint64 `json:"nonce,omitempty"`
	Key    string  `json:"key,omitempty"`
}

func (w *waitFlags) check() error {
	if w.verify && (!w.wait || w.genesis == "") {
		return errors.New("--verify needs --wait and --genesis FILE")
	}
	if w.wait && w.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s", w.timeout)
	}
	return nil
}

// submit posts body, prints its hash (or, with --json, one object) and,
// with --wait, waits for its final status.
func submitTx(cmd *cobra.Command, c *client.Client, body []byte, w waitFlags, res submitResult) error {
	out := cmd.OutOrStdout()
	ctx := cmd.Context()
	sub, err := c.Submit(ctx, body)
	if err != nil {
		return err
	}
	res.Hash, res.Status = sub.Hash, sub.Status
	if !w.wait {
		if w.json {
			return printJSON(out, res)
		}
		_, err := fmt.Fprintln(out, res.Hash)
		return err
	}
	if !w.json {
		// The hash first, so that a user who stops waiting still has it.
		if _, err := fmt.Fprintln(out, res.Hash); err != nil {
			return err
		}
	}
	hash := chain.TxHash(body)
	wctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	final, werr := c.Wait(wctx, hash, waitPollInterval)
	res.Status, res.Height, res.Error = final.Status, final.Height, final.Error
	switch {
	case werr != nil && client.IsPending(werr) && ctx.Err() == nil:
		werr = fmt.Errorf("transaction %s not final after %s (status %s); follow it with `strategos query tx %s`", res.Hash, w.timeout, res.Status, res.Hash)
	case werr != nil:
	case final.Status == client.StatusRejected:
		reason := final.Error
		if reason == "" {
			reason = "the node gave no reason"
		}
		werr = fmt.Errorf("transaction rejected: %s", reason)
	}
	if w.json {
		if err := printJSON(out, res); err != nil {
			return err
		}
	} else if werr == nil {
		if _, err := fmt.Fprintf(out, "committed at height %d\n", final.Height); err != nil {
			return err
		}
	}
	if werr == nil && w.verify {
		return verifyCommitted(ctx, out, w.genesis, c.URL(), hash, final.Height, w.json)
	}
	return werr
}

// certWait bounds the wait for a committed transaction's certificate.
const certWait = 30 * time.Second

// verifyCommitted checks with the light client that a committed block
// holds the transaction, at the height the node said.
func verifyCommitted(ctx context.Context, out io.Writer, genesis, node string, h chain.Hash, height uint64, jsonOut bool) error {
	f := verifyFlags{node: node, genesis: genesis}
	lc, err := f.client()
	if err != nil {
		return err
	}
	// The block's certificate exists once a later block carries its root
	// and that one is committed: a few blocks after the commit.
	wctx, cancel := context.WithTimeout(ctx, certWait)
	defer cancel()
	in, err := lc.Tx(wctx, h)
	for errors.Is(err, client.ErrNotFound) && wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-time.After(waitPollInterval):
		}
		in, err = lc.Tx(wctx, h)
	}
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if in.Height != height {
		return fmt.Errorf("verify: the node said height %d, its proof is of block %d", height, in.Height)
	}
	if jsonOut {
		return printJSON(out, map[string]any{"verified": true, "hash": h.String(), "height": in.Height, "block_hash": in.Commit.BlockHash.String()})
	}
	_, err = fmt.Fprintf(out, "verified: transaction %d of block %d, committed by a quorum of the genesis validators\n", in.Index, in.Height)
	return err
}

func newQueryCmd() *cobra.Command {
	var node string
	var jsonOut, verify bool
	cmd := &cobra.Command{
		Use:   "query status|block H|account ADDRESS|tx HASH --node URL",
		Short: "Print a node's answer (JSON, on one line)",
		Long: `query asks --node and prints its JSON answer compactly on one line:
  status           GET /v1/status
  block H          GET /v1/blocks/H
  account ADDRESS  GET /v1/accounts/ADDRESS (bank app)
  tx HASH          GET /v1/txs/HASH
  kv KEY           GET /v1/kv/KEY (kv app)
  validators       GET /v1/validators`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&node, "node", defaultNode, "the node's API URL")
	cmd.PersistentFlags().BoolVar(&jsonOut, "json", false, "accepted for uniformity: the output is always one JSON object")
	vf := &verifyFlags{maxAge: light.DefaultMaxAge, jsonOut: true}
	cmd.PersistentFlags().BoolVar(&verify, "verify", false, "account, kv: check the answer with the light client (needs --genesis), as `strategos verify` does")
	cmd.PersistentFlags().StringVar(&vf.genesis, "genesis", "", "with --verify, the chain's genesis file")

	// sub returns a query subcommand; path maps its arguments to the
	// API path, checking them first.
	sub := func(use, short string, argNames []string, path func(args []string) (string, error)) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  argsNamed(argNames...),
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := path(args)
				if err != nil {
					return err
				}
				if verify {
					vf.node = node
					return verified(cmd, vf, use, args)
				}
				c, err := client.New(node, nil)
				if err != nil {
					return err
				}
				raw, err := c.Get(cmd.Context(), p)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := json.Compact(&buf, raw); err != nil {
					return fmt.Errorf("node %s answered invalid JSON: %w", c.URL(), err)
				}
				buf.WriteByte('\n')
				_, err = io.Copy(cmd.OutOrStdout(), &buf)
				return err
			},
		}
	}
	cmd.AddCommand(
		sub("status", "The node's status", nil, func([]string) (string, error) {
			return "/v1/status", nil
		}),
		sub("block H", "A committed block", []string{"H"}, func(args []string) (string, error) {
			h, err := parseUintArg("height", args[0])
			if err == nil && h == 0 {
				err = errors.New("height must be at least 1 (heights start at 1)")
			}
			return fmt.Sprintf("/v1/blocks/%d", h), err
		}),
		sub("account ADDRESS", "An account's balance and nonces (bank app)", []string{"ADDRESS"}, func(args []string) (string, error) {
			a, err := parseAddressArg("address", args[0])
			return "/v1/accounts/" + a.String(), err
		}),
		sub("tx HASH", "A transaction's status", []string{"HASH"}, func(args []string) (string, error) {
			h, err := parseHashArg(args[0])
			return "/v1/txs/" + h.String(), err
		}),
		sub("kv KEY", "A key's value (kv app)", []string{"KEY"}, func(args []string) (string, error) {
			if args[0] == "" {
				return "", errors.New("the key must not be empty")
			}
			return "/v1/kv/" + url.PathEscape(args[0]), nil
		}),
		sub("validators", "The validator set", nil, func([]string) (string, error) {
			return "/v1/validators", nil
		}),
	)
	return cmd
}

// argsNamed accepts exactly the named positional arguments, with an error
// that names them.
func argsNamed(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(names) == 0 {
			return fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
		}
		return fmt.Errorf("%s takes %s, got %d argument(s)", cmd.CommandPath(), strings.Join(names, " "), len(args))
	}
}

// readKeyFile reads a key file, with a plain error for a missing file.
func readKeyFile(path string) (ed25519.PrivateKey, error) {
	k, _, err := readKeyFileFor(path)
	return k, err
}

// readKeyFileFor also returns the chain id the key file records (the demo
// accounts of init and testnet record theirs).
func readKeyFileFor(path string) (ed25519.PrivateKey, string, error) {
	if path == "" {
		return nil, "", errors.New("no key file given")
	}
	key, chainID, err := keys.ReadFor(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("key file %s does not exist", path)
	}
	return key, chainID, err
}

func keyAddress(key ed25519.PrivateKey) chain.Address {
	return chain.AddressOf(key.Public().(ed25519.PublicKey))
}

// parseUintArg parses an amount, nonce or height: an unsigned 64-bit integer.
func parseUintArg(name, s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err == nil {
		return v, nil
	}
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s %s is too large (the maximum is %d)", name, quoteInput(s), uint64(1<<64-1))
	}
	return 0, fmt.Errorf("%s must be a whole number (0 to %d), got %q", name, uint64(1<<64-1), quoteInput(s))
}

// parseAddress parses an account address: 40 hex digits.
func parseAddressArg(name, s string) (chain.Address, error) {
	a, err := bank.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return a, fmt.Errorf("%s must be an address of 40 hex digits, got %q", name, quoteInput(s))
	}
	return a, nil
}

// parseHashArg parses a transaction hash: 64 hex digits.
func parseHashArg(s string) (chain.Hash, error) {
	h, err := chain.ParseHash(strings.TrimSpace(s))
	if err != nil {
		return h, fmt.Errorf("a transaction hash is 64 hex digits, got %q", quoteInput(s))
	}
	return h, nil
}

// quoteInput shortens user input quoted in an error message.
func quoteInput(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
