package node

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	abciserver "github.com/cometbft/cometbft/abci/server"
	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/strategos/strategos/internal/config"
)

// snapApp is an ABCI application that takes its own snapshots, as
// CometBFT's applications do: a key/value store whose app hash is the
// SHA-256 of its sorted pairs, snapshotting every `every` heights into
// small chunks of JSON, and restoring from them only what hashes to the
// app hash it was offered.
type snapApp struct {
	abcitypes.BaseApplication
	every int64

	mu        sync.Mutex
	state     map[string]string
	pending   map[string]string
	height    int64
	hash      []byte
	snapshots map[uint64][][]byte // height -> chunks
	offered   *abcitypes.RequestOfferSnapshot
	got       [][]byte
}

func newSnapApp(every int64) *snapApp {
	return &snapApp{every: every, state: map[string]string{}, snapshots: map[uint64][][]byte{}}
}

const snapFormat = 7

func hashPairs(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(m[k]), m[k])
	}
	return h.Sum(nil)
}

func (a *snapApp) Info(context.Context, *abcitypes.RequestInfo) (*abcitypes.ResponseInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return &abcitypes.ResponseInfo{LastBlockHeight: a.height, LastBlockAppHash: a.hash}, nil
}

func (a *snapApp) InitChain(context.Context, *abcitypes.RequestInitChain) (*abcitypes.ResponseInitChain, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.hash = hashPairs(a.state)
	return &abcitypes.ResponseInitChain{AppHash: a.hash}, nil
}

func (a *snapApp) CheckTx(_ context.Context, r *abcitypes.RequestCheckTx) (*abcitypes.ResponseCheckTx, error) {
	if !bytes.Contains(r.Tx, []byte("=")) {
		return &abcitypes.ResponseCheckTx{Code: 1, Log: "want key=value"}, nil
	}
	return &abcitypes.ResponseCheckTx{}, nil
}

func (a *snapApp) FinalizeBlock(_ context.Context, r *abcitypes.RequestFinalizeBlock) (*abcitypes.ResponseFinalizeBlock, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = map[string]string{}
	for k, v := range a.state {
		a.pending[k] = v
	}
	res := make([]*abcitypes.ExecTxResult, len(r.Txs))
	for i, tx := range r.Txs {
		k, v, _ := strings.Cut(string(tx), "=")
		a.pending[k] = v
		res[i] = &abcitypes.ExecTxResult{}
	}
	a.height = r.Height
	a.hash = hashPairs(a.pending)
	return &abcitypes.ResponseFinalizeBlock{TxResults: res, AppHash: a.hash}, nil
}

func (a *snapApp) Commit(context.Context, *abcitypes.RequestCommit) (*abcitypes.ResponseCommit, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = a.pending
	if a.height%a.every == 0 {
		b, _ := json.Marshal(a.state)
		var chunks [][]byte
		for len(b) > 0 {
			n := min(len(b), 200)
			chunks, b = append(chunks, b[:n]), b[n:]
		}
		a.snapshots[uint64(a.height)] = chunks
	}
	return &abcitypes.ResponseCommit{}, nil
}

func (a *snapApp) Query(_ context.Context, r *abcitypes.RequestQuery) (*abcitypes.ResponseQuery, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.state[string(r.Data)]
	if !ok {
		return &abcitypes.ResponseQuery{Code: 1, Log: "absent"}, nil
	}
	return &abcitypes.ResponseQuery{Key: r.Data, Value: []byte(v), Height: a.height}, nil
}

func (a *snapApp) ListSnapshots(context.Context, *abcitypes.RequestListSnapshots) (*abcitypes.ResponseListSnapshots, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*abcitypes.Snapshot
	for h, cs := range a.snapshots {
		out = append(out, &abcitypes.Snapshot{Height: h, Format: snapFormat, Chunks: uint32(len(cs)), Hash: []byte("h" + strconv.FormatUint(h, 10))})
	}
	return &abcitypes.ResponseListSnapshots{Snapshots: out}, nil
}

func (a *snapApp) LoadSnapshotChunk(_ context.Context, r *abcitypes.RequestLoadSnapshotChunk) (*abcitypes.ResponseLoadSnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cs := a.snapshots[r.Height]
	if r.Format != snapFormat || int(r.Chunk) >= len(cs) {
		return &abcitypes.ResponseLoadSnapshotChunk{}, nil
	}
	return &abcitypes.ResponseLoadSnapshotChunk{Chunk: cs[r.Chunk]}, nil
}

func (a *snapApp) OfferSnapshot(_ context.Context, r *abcitypes.RequestOfferSnapshot) (*abcitypes.ResponseOfferSnapshot, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Snapshot == nil || r.Snapshot.Format != snapFormat {
		return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_REJECT_FORMAT}, nil
	}
	a.offered, a.got = r, nil
	return &abcitypes.ResponseOfferSnapshot{Result: abcitypes.ResponseOfferSnapshot_ACCEPT}, nil
}

func (a *snapApp) ApplySnapshotChunk(_ context.Context, r *abcitypes.RequestApplySnapshotChunk) (*abcitypes.ResponseApplySnapshotChunk, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	reject := &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_REJECT_SNAPSHOT}
	if a.offered == nil || int(r.Index) != len(a.got) {
		return reject, nil
	}
	a.got = append(a.got, r.Chunk)
	if len(a.got) < int(a.offered.Snapshot.Chunks) {
		return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ACCEPT}, nil
	}
	var st map[string]string
	if err := json.Unmarshal(bytes.Join(a.got, nil), &st); err != nil || !bytes.Equal(hashPairs(st), a.offered.AppHash) {
		return reject, nil
	}
	a.state, a.height, a.hash = st, int64(a.offered.Snapshot.Height), a.offered.AppHash
	return &abcitypes.ResponseApplySnapshotChunk{Result: abcitypes.ResponseApplySnapshotChunk_ACCEPT}, nil
}

// serveSnapApp serves a at the unix socket path until the returned
// function is called.
func serveSnapApp(t *testing.T, path string, a *snapApp) func() {
	t.Helper()
	s := abciserver.NewSocketServer("unix://"+path, a)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { s.Stop() }) }
	t.Cleanup(stop)
	return stop
}

// TestStateSyncABCI restores a wiped validator whose application is an
// ABCI one that takes its own snapshots: the node copies them, serves
// them, and gives the fresh application a copy that matches the certified
// root, through OfferSnapshot and ApplySnapshotChunk.
func TestStateSyncABCI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a network")
	}
	sock := filepath.Join(t.TempDir(), "app")
	apps4 := make([]*snapApp, 4)
	stops := make([]func(), 4)
	for i := range apps4 {
		apps4[i] = newSnapApp(10)
		addr, err := config.ABCIAddr("unix://"+sock, i)
		if err != nil {
			t.Fatal(err)
		}
		stops[i] = serveSnapApp(t, strings.TrimPrefix(addr, "unix://"), apps4[i])
	}
	c := newClusterInit(t, config.InitOptions{Nodes: 4, App: "abci", ABCI: "unix://" + sock}, nil,
		func(h *config.Home) { h.Node.SnapshotInterval = 10 }, nil)
	c.submitKeys(30)
	c.waitHeight(25, 60*time.Second)
	c.stop(3)
	signedBefore := c.wipe(3)
	stops[3]()
	fresh := newSnapApp(10)
	serveSnapApp(t, sock+".3", fresh)

	res := c.stateSync(3)
	if res == nil || res.Height < 20 || res.Height%10 != 0 {
		t.Fatalf("state sync restored %+v; want an application snapshot of height 20 or more", res)
	}
	fresh.mu.Lock()
	height, hash := fresh.height, fresh.hash
	fresh.mu.Unlock()
	if height != int64(res.Height) || len(hash) == 0 {
		t.Fatalf("the fresh application is at height %d after a restore of height %d", height, res.Height)
	}
	c.start(3, nil)
	c.waitHeight(c.nodes[0].Status().Height+5, 60*time.Second)
	c.checkKeys(3, 30)
	c.checkSignsAbove(3, signedBefore)
}
