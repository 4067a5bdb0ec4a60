package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

// Demo accounts written by Init.
const (
	DemoAccounts = 10
	DemoBalance  = 1_000_000_000
)

// InitOptions describe a network to lay out.
type InitOptions struct {
	Nodes   int
	Out     string
	Hosts   []string // host of node i; default 127.0.0.1 for all
	APIPort int      // node i serves its API on 127.0.0.1:APIPort+i
	RPCPort int      // node i serves its CometBFT-compatible RPC on 127.0.0.1:RPCPort+i
	P2PPort int      // node i listens on Hosts[i]:P2PPort+i
	App     string   // bank, kv or abci
	// ABCI is, for the abci app, the address of validator 0's application
	// (tcp://HOST:P or unix:///PATH); validator i's is at port P+i (or
	// PATH.i).
	ABCI    string
	ChainID string // default: a random one
	// RetainBlocks is every node's retain_blocks (0: keep every block).
	RetainBlocks uint64
	// SnapshotInterval is every node's snapshot_interval (0: the default).
	SnapshotInterval int
}

// DefaultRPCPort is CometBFT's RPC port: node i serves its
// CometBFT-compatible RPC on 127.0.0.1:DefaultRPCPort+i unless told
// otherwise.
const DefaultRPCPort = 26657

// Apps lists the applications a network can run.
var Apps = []string{"bank", "kv", "abci"}

// ABCIAddr returns validator i's application address given validator 0's:
// tcp://HOST:P becomes tcp://HOST:P+i, unix:///PATH becomes PATH.i.
func ABCIAddr(base string, i int) (string, error) {
	switch {
	case strings.HasPrefix(base, "unix://"):
		if i == 0 {
			return base, nil
		}
		return fmt.Sprintf("%s.%d", base, i), nil
	case strings.HasPrefix(base, "tcp://"):
		host, port, err := net.SplitHostPort(strings.TrimPrefix(base, "tcp://"))
		if err != nil {
			return "", fmt.Errorf("config: --abci %q: %w", base, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p+i > 65535 {
			return "", fmt.Errorf("config: --abci %q: bad port", base)
		}
		return "tcp://" + net.JoinHostPort(host, strconv.Itoa(p+i)), nil
	}
	return "", fmt.Errorf("config: --abci %q must be tcp://HOST:PORT or unix:///PATH", base)
}

func validApp(a string) bool {
	for _, x := range Apps {
		if a == x {
			return true
		}
	}
	return false
}

// Init writes the configuration of a whole network under o.Out: one home
// directory per validator and the demo account keys. It refuses to write
// into a directory that already holds a network.
func Init(o InitOptions) error {
	if o.Nodes < 1 || o.Nodes > 1000 {
		return fmt.Errorf("config: --nodes must be between 1 and 1000, got %d", o.Nodes)
	}
	if o.Out == "" {
		return errors.New("config: no output directory")
	}
	if o.App == "" {
		o.App = "bank"
	}
	if !validApp(o.App) {
		return fmt.Errorf("config: unknown app %q (known: bank, kv, abci)", o.App)
	}
	if (o.App == "abci") != (o.ABCI != "") {
		return errors.New("config: --abci ADDRESS goes with --app abci, and only with it")
	}
	if o.ABCI != "" {
		if _, err := ABCIAddr(o.ABCI, o.Nodes-1); err != nil {
			return err
		}
	}
	if o.APIPort == 0 {
		o.APIPort = 8080
	}
	if o.P2PPort == 0 {
		o.P2PPort = 26600
	}
	if o.RPCPort == 0 {
		o.RPCPort = DefaultRPCPort
	}
	for _, p := range []int{o.APIPort, o.P2PPort, o.RPCPort} {
		if p < 1 || p+o.Nodes-1 > 65535 {
			return fmt.Errorf("config: port range %d..%d is not valid", p, p+o.Nodes-1)
		}
	}
	if len(o.Hosts) != 0 && len(o.Hosts) != o.Nodes {
		return fmt.Errorf("config: %d hosts given for %d nodes", len(o.Hosts), o.Nodes)
	}
	for _, h := range o.Hosts {
		if h == "" {
			return errors.New("config: empty host in --hosts")
		}
	}
	if _, err := os.Stat(filepath.Join(o.Out, "node0", ConfigFile)); err == nil {
		return fmt.Errorf("config: %s already holds a network", o.Out)
	}
	if o.ChainID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("config: chain id: %w", err)
		}
		o.ChainID = "strategos-" + hex.EncodeToString(b[:])
	}
	g := Genesis{ChainID: o.ChainID, Time: time.Now().UTC().Truncate(time.Second), App: o.App}
	var vkeys []ed25519.PrivateKey
	var peers []Peer
	for i := range o.Nodes {
		k, err := keys.New()
		if err != nil {
			return err
		}
		vkeys = append(vkeys, k)
		pub := k.Public().(ed25519.PublicKey)
		g.Validators = append(g.Validators, GenesisValidator{
			Index: uint32(i), Address: chain.AddressOf(pub).String(), PubKey: hex.EncodeToString(pub), Power: 1,
		})
		host := "127.0.0.1"
		if len(o.Hosts) > 0 {
			host = o.Hosts[i]
		}
		peers = append(peers, Peer{Index: uint32(i), Addr: net.JoinHostPort(host, strconv.Itoa(o.P2PPort+i))})
	}
	keysDir := filepath.Join(o.Out, "keys")
	if err := os.MkdirAll(keysDir, 0o700); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	for k := range DemoAccounts {
		key, err := keys.New()
		if err != nil {
			return err
		}
		if err := keys.WriteFor(filepath.Join(keysDir, fmt.Sprintf("account%d.key", k)), key, o.ChainID); err != nil {
			return err
		}
		g.Accounts = append(g.Accounts, GenesisAccount{
			Address: chain.AddressOf(key.Public().(ed25519.PublicKey)).String(), Balance: DemoBalance,
		})
	}
	for i := range o.Nodes {
		home := filepath.Join(o.Out, fmt.Sprintf("node%d", i))
		if err := os.MkdirAll(filepath.Join(home, DataDir), 0o700); err != nil {
			return fmt.Errorf("config: %w", err)
		}
		n := Node{
			Index:        uint32(i),
			P2PListen:    peers[i].Addr,
			APIListen:    net.JoinHostPort("127.0.0.1", strconv.Itoa(o.APIPort+i)),
			RPCListen:    net.JoinHostPort("127.0.0.1", strconv.Itoa(o.RPCPort+i)),
			Peers:        peers,
			RetainBlocks: o.RetainBlocks, SnapshotInterval: o.SnapshotInterval,
		}
		if o.ABCI != "" {
			n.ABCI, _ = ABCIAddr(o.ABCI, i) // checked above
		}
		n.Defaults()
		if err := writeJSON(filepath.Join(home, ConfigFile), n, 0o644); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(home, GenesisFile), g, 0o644); err != nil {
			return err
		}
		if err := keys.Write(filepath.Join(home, KeyFile), vkeys[i]); err != nil {
			return err
		}
	}
	return nil
}
