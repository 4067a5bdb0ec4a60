// Package config defines the files that describe a Strategos network and
// one node of it: the genesis document shared by all validators, and each
// node's own configuration. It also lays out a whole local network on disk
// (Init), which `strategos init` and `strategos testnet` use.
//
// Layout of a network directory:
//
//	DIR/node<i>/config.json     this node's addresses, peers and tuning
//	DIR/node<i>/genesis.json    the chain's genesis (identical for all nodes)
//	DIR/node<i>/validator.key   this node's validator key (mode 0600)
//	DIR/node<i>/data/           the node's store
//	DIR/keys/account<k>.key     demo account keys, funded in genesis
package config

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

// File names inside a node's home directory.
const (
	ConfigFile  = "config.json"
	GenesisFile = "genesis.json"
	KeyFile     = "validator.key"
	DataDir     = "data"
)

// Genesis is the chain's starting point, identical on every validator.
type Genesis struct {
	ChainID    string             `json:"chain_id"`
	Time       time.Time          `json:"genesis_time"`
	App        string             `json:"app"`
	Validators []GenesisValidator `json:"validators"`
	Accounts   []GenesisAccount   `json:"accounts,omitempty"`
	// AppState is given to the application at InitChain (an ABCI
	// application's app_state_bytes); for the bank, Accounts is.
	AppState json.RawMessage `json:"app_state,omitempty"`
}

// GenesisValidator is one member of the validator set.
type GenesisValidator struct {
	Index   uint32 `json:"index"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	Power   uint64 `json:"power"`
}

// GenesisAccount is an account funded at genesis (bank app).
type GenesisAccount struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
}

// ValidatorSet returns the genesis validators as a chain.ValidatorSet.
func (g *Genesis) ValidatorSet() (*chain.ValidatorSet, error) {
	vals := make([]chain.Validator, len(g.Validators))
	for i, v := range g.Validators {
		if v.Index != uint32(i) {
			return nil, fmt.Errorf("config: genesis validator %d has index %d", i, v.Index)
		}
		pub, err := keys.ParsePubKey(v.PubKey)
		if err != nil {
			return nil, fmt.Errorf("config: genesis validator %d: %w", i, err)
		}
		vals[i] = chain.Validator{PubKey: pub, Power: v.Power}
	}
	return chain.NewValidatorSet(vals)
}

// Node is one node's configuration file.
type Node struct {
	Index     uint32 `json:"index"`
	P2PListen string `json:"p2p_listen"` // host:port for validator connections
	APIListen string `json:"api_listen"` // host:port for the HTTP API
	// RPCListen is host:port for the CometBFT-compatible JSON-RPC (see
	// docs/rpc.md); "" for none.
	RPCListen string `json:"rpc_listen"`
	Peers     []Peer `json:"peers"`     // every validator, self included
	LogLevel  string `json:"log_level"` // debug, info, warn, error
	// ABCI is the address of the validator's application when the
	// genesis names the abci app: tcp://HOST:PORT or unix:///PATH.
	ABCI string `json:"abci,omitempty"`

	// BlockIntervalMillis is the one timing knob: how often an idle
	// network commits a block (default 200). A leader with nothing to
	// propose waits this long before an empty block; round timeouts adapt
	// to observed round times by themselves (see consensus.Config).
	BlockIntervalMillis int `json:"block_interval_ms"`

	// Advanced overrides, derived when zero: the clock's resolution (10
	// ms), and, in ticks, the empty-block wait (the block interval) and
	// the initial and largest round timeouts (consensus's defaults).
	TickMillis      int `json:"tick_ms,omitempty"`
	EmptyBlockTicks int `json:"empty_block_ticks,omitempty"`
	BaseTimeout     int `json:"base_timeout_ticks,omitempty"`
	MaxTimeout      int `json:"max_timeout_ticks,omitempty"`

	// MempoolMaxTxs bounds the transactions a validator holds pending
	// (default 50,000: a few seconds of saturated throughput). Beyond it
	// the node answers busy (429/503) rather than queueing without end,
	// so that what it accepts commits within a bounded time.
	MempoolMaxTxs int `json:"mempool_max_txs,omitempty"`
	// MempoolMaxWaiting bounds the transactions that wait for a block
	// (none carries them yet) beyond which a client's new transactions
	// are answered busy (default 10,000: one full block).
	MempoolMaxWaiting int `json:"mempool_max_waiting,omitempty"`

	// RetainBlocks keeps the latest N committed blocks, their outcomes
	// and index entries, and deletes older ones in the background (0,
	// the default, keeps everything; at least 4,096 are kept, which the
	// leader rule reads). A validator that falls further behind than its
	// peers keep cannot catch up by blocks.
	RetainBlocks uint64 `json:"retain_blocks,omitempty"`
	// SnapshotInterval is how many heights apart the node takes a
	// snapshot of its application's state, which peers starting with
	// --state-sync fetch (0: the default, 100; negative: none).
	SnapshotInterval int `json:"snapshot_interval,omitempty"`
	// StateSyncBehind: a running validator this many heights behind the
	// highest certified height it has heard of restores a peer's
	// snapshot in place of its store, rather than replaying every block
	// it lacks (0: the default, 2,000 on a node that prunes and never on
	// one that keeps every block, whose history a jump would cut;
	// negative: never). A validator whose peers have pruned the blocks
	// it lacks jumps whatever this says, unless it is negative.
	StateSyncBehind int `json:"state_sync_behind,omitempty"`
}

// Peer is where a validator listens for its peers.
type Peer struct {
	Index uint32 `json:"index"`
	Addr  string `json:"addr"`
}

// Defaults fills unset tuning fields.
func (n *Node) Defaults() {
	if n.BlockIntervalMillis <= 0 {
		n.BlockIntervalMillis = 200 // idle chains still commit several blocks a second
	}
	if n.LogLevel == "" {
		n.LogLevel = "info"
	}
}

// Timing returns the consensus clock: the tick, and in ticks the
// empty-block wait and the initial and largest round timeouts (0 leaves
// them to consensus's defaults, which follow from the empty-block wait).
func (n *Node) Timing() (tick time.Duration, emptyBlock, base, maxTimeout int) {
	ms := n.TickMillis
	if ms <= 0 {
		ms = 10
	}
	emptyBlock = n.EmptyBlockTicks
	if emptyBlock <= 0 {
		emptyBlock = max(1, n.BlockIntervalMillis/ms)
	}
	return time.Duration(ms) * time.Millisecond, emptyBlock, n.BaseTimeout, n.MaxTimeout
}

// Home is a node's home directory with its files loaded.
type Home struct {
	Dir     string
	Node    Node
	Genesis Genesis
	Key     ed25519.PrivateKey
}

// Load reads a node's home directory and checks that its parts agree.
func Load(dir string) (*Home, error) {
	h := &Home{Dir: dir}
	if err := readJSON(filepath.Join(dir, ConfigFile), &h.Node); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, GenesisFile), &h.Genesis); err != nil {
		return nil, err
	}
	key, err := keys.Read(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	h.Key = key
	h.Node.Defaults()
	g := &h.Genesis
	if g.ChainID == "" {
		return nil, errors.New("config: genesis has no chain_id")
	}
	if int(h.Node.Index) >= len(g.Validators) {
		return nil, fmt.Errorf("config: node index %d, but genesis has %d validators", h.Node.Index, len(g.Validators))
	}
	want := g.Validators[h.Node.Index].PubKey
	if got := hex.EncodeToString(key.Public().(ed25519.PublicKey)); got != want {
		return nil, fmt.Errorf("config: %s does not hold the key of validator %d in genesis", KeyFile, h.Node.Index)
	}
	if len(h.Node.Peers) != len(g.Validators) {
		return nil, fmt.Errorf("config: %d peers configured, genesis has %d validators", len(h.Node.Peers), len(g.Validators))
	}
	return h, nil
}

// DataPath returns the node's data directory.
func (h *Home) DataPath() string { return filepath.Join(h.Dir, DataDir) }

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("config: encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), mode); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// LoadGenesis reads a genesis file: all a light client trusts.
func LoadGenesis(path string) (*Genesis, error) {
	var g Genesis
	if err := readJSON(path, &g); err != nil {
		return nil, err
	}
	if _, err := g.ValidatorSet(); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return &g, nil
}
