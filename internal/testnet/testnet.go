// Package testnet runs a whole local network in one process: it lays out
// (or reuses) a network directory, starts every validator on loopback with
// real TCP and real storage, writes the testnet.json manifest once every
// API answers, and shows a live status until it is stopped.
package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strategos/strategos/internal/byzantine"
	"github.com/strategos/strategos/internal/config"
	"github.com/strategos/strategos/internal/consensus/quorum"
	"github.com/strategos/strategos/internal/daemon"
)

// Options describe the network to run.
type Options struct {
	Nodes     int
	Byzantine int
	Behavior  string
	Home      string // "" for a new temporary directory
	APIPort   int
	P2PPort   int
	RPCPort   int // node i serves its CometBFT-compatible RPC on 127.0.0.1:RPCPort+i; 0: config.DefaultRPCPort
	App       string
	ABCI      string // validator 0's application address, for the abci app
	LogLevel  slog.Level
	Out       io.Writer // the status display
	Terminal  bool      // redraw in place, rather than print lines
}

// Manifest is the testnet.json file.
type Manifest struct {
	Nodes   []ManifestNode `json:"nodes"`
	KeysDir string         `json:"keys_dir"`
	ChainID string         `json:"chain_id"`
}

// ManifestNode is one validator in the manifest.
type ManifestNode struct {
	Index    int    `json:"index"`
	API      string `json:"api"`
	RPC      string `json:"rpc,omitempty"` // the CometBFT-compatible RPC; absent when the node serves none
	Behavior string `json:"behavior"`
	Home     string `json:"home"`
}

func (o *Options) check() error {
	switch {
	case o.Nodes < 1 || o.Nodes > 100:
		return fmt.Errorf("testnet: --nodes must be between 1 and 100, got %d", o.Nodes)
	case o.Byzantine < 0 || o.Byzantine > o.Nodes:
		return fmt.Errorf("testnet: --byzantine must be between 0 and %d, got %d", o.Nodes, o.Byzantine)
	case !byzantine.Valid(o.Behavior) || o.Behavior == byzantine.Honest && o.Byzantine > 0:
		return fmt.Errorf("testnet: unknown Byzantine behaviour %q", o.Behavior)
	case o.App != "" && !slices.Contains(config.Apps, o.App):
		return fmt.Errorf("testnet: unknown app %q (known: %s)", o.App, strings.Join(config.Apps, ", "))
	}
	// The ports as config.Init checks them (0 is its default), so that a
	// bad one is refused before anything is created.
	for _, p := range []struct {
		flag string
		port int
	}{{"--api-port", o.APIPort}, {"--p2p-port", o.P2PPort}, {"--rpc-port", o.RPCPort}} {
		if p.port < 0 || p.port > 0 && p.port+o.Nodes-1 > 65535 {
			return fmt.Errorf("testnet: %s %d: ports %d..%d are not all valid TCP ports", p.flag, p.port, p.port, p.port+o.Nodes-1)
		}
	}
	return nil
}

// Run runs the network until ctx is done, then stops every node. Options
// are checked before anything is created; if the network never comes up,
// the directory Run created for it (a temporary one, or a --home that did
// not exist) is removed again, so that a failed or interrupted start
// leaves nothing behind. Once the network has come up, its home stays: it is the
// record of the run and can be started again.
func Run(ctx context.Context, o Options) (err error) {
	if err := o.check(); err != nil {
		return err
	}
	created := ""
	if o.Home == "" {
		dir, err := os.MkdirTemp("", "strategos-testnet-")
		if err != nil {
			return fmt.Errorf("testnet: %w", err)
		}
		o.Home, created = dir, dir
	} else if _, err := os.Stat(o.Home); errors.Is(err, fs.ErrNotExist) {
		created = o.Home
	}
	up := false
	defer func() {
		if !up && created != "" { // never announced: nobody will look for it
			if rmErr := os.RemoveAll(created); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("testnet: removing %s: %w", created, rmErr))
			}
		}
	}()
	if err := prepare(o); err != nil {
		return err
	}
	vals := make([]*daemon.Validator, 0, o.Nodes)
	run := make([]func(context.Context) error, 0, o.Nodes) // each validator, run until ctx is done
	closeAll := func() {
		for _, v := range vals {
			v.Close()
		}
	}
	man := Manifest{KeysDir: filepath.Join(o.Home, "keys")}
	for i := range o.Nodes {
		dir := filepath.Join(o.Home, fmt.Sprintf("node%d", i))
		home, err := config.Load(dir)
		if err != nil {
			closeAll()
			return err
		}
		behavior := byzantine.Honest
		if i >= o.Nodes-o.Byzantine {
			behavior = o.Behavior
		}
		logf, err := os.OpenFile(filepath.Join(dir, "node.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			closeAll()
			return fmt.Errorf("testnet: %w", err)
		}
		defer logf.Close()
		opts := daemon.Options{Behavior: behavior, Logger: daemon.NewLogger(logf, o.LogLevel)}
		v, err := daemon.Open(home, opts)
		if err != nil {
			closeAll()
			return fmt.Errorf("testnet: node %d: %w", i, err)
		}
		vals = append(vals, v)
		run = append(run, func(ctx context.Context) error { return daemon.Run(ctx, v, home, opts) })
		man.ChainID = home.Genesis.ChainID
		mn := ManifestNode{Index: i, API: "http://" + home.Node.APIListen, Behavior: behavior, Home: dir}
		if home.Node.RPCListen != "" {
			mn.RPC = "http://" + home.Node.RPCListen
		}
		man.Nodes = append(man.Nodes, mn)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(vals))
	for i := range run {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = run[i](ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	if err := waitAPIs(ctx, man); err == nil {
		if err := writeManifest(o.Home, man); err != nil {
			cancel()
			errs = append(errs, err)
		} else {
			up = true
			fmt.Fprintf(o.Out, "testnet: %d validators (f = %d) on 127.0.0.1, home %s\n", o.Nodes, quorum.MaxFaulty(o.Nodes), o.Home)
			fmt.Fprintf(o.Out, "web view: %s/\n", man.Nodes[0].API)
			if r := man.Nodes[0].RPC; r != "" {
				fmt.Fprintf(o.Out, "CometBFT RPC: %s (node 0; node i at the port plus i)\n", r)
			}
			display(ctx, o, vals)
		}
	}
	cancel()
	wg.Wait()
	return errors.Join(errs...)
}

// prepare lays out the network, unless the home already holds one.
func prepare(o Options) error {
	if _, err := os.Stat(filepath.Join(o.Home, "node0", config.ConfigFile)); err == nil {
		return nil // restart from disk
	}
	return config.Init(config.InitOptions{Nodes: o.Nodes, Out: o.Home, APIPort: o.APIPort, P2PPort: o.P2PPort, RPCPort: o.RPCPort,
		App: o.App, ABCI: o.ABCI})
}

func waitAPIs(ctx context.Context, m Manifest) error {
	client := &http.Client{Timeout: time.Second}
	for _, n := range m.Nodes {
		for {
			resp, err := client.Get(n.API + "/v1/status")
			if err == nil {
				resp.Body.Close()
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func writeManifest(home string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(home, "testnet.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("testnet: %w", err)
	}
	return os.Rename(tmp, filepath.Join(home, "testnet.json"))
}
