package testbin

import (
	"path/filepath"

	"github.com/strategos/strategos/internal/config"
)

// OneValidator lays out a single-validator network of app ("bank" or
// "kv") in dir and returns its validator's home; dir/keys holds the demo
// accounts. The API and peer addresses are placeholders: a test that runs
// the node binds its own.
func OneValidator(dir, app string) (*config.Home, error) {
	if err := config.Init(config.InitOptions{Nodes: 1, Out: dir, App: app, APIPort: 1, P2PPort: 1}); err != nil {
		return nil, err
	}
	return config.Load(filepath.Join(dir, "node0"))
}
