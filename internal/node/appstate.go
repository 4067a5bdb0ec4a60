package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/strategos/strategos/internal/config"
	"sync/atomic"
	"time"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
)

// The node and its application agree on what is committed through the
// handshake: the application reports the last block it made durable
// (Info), the node gives it InitChain if it has none, then finalizes and
// commits every committed block above that, in height order. Blocks whose
// outcome the node had recorded are replayed (the application must reach
// the recorded app hash); the others are executed and recorded.
//
// When the application cannot answer (app.ErrUnavailable: unreachable,
// stalled, out of protocol), the node neither votes nor executes: it keeps
// committing blocks the network certifies, says why in its log and its
// status (app_error), and runs the handshake again every appRetry until
// the application is back and caught up.

// appRetry is how often a node whose application failed tries it again.
const appRetry = time.Second

// appCallTime bounds each call the node makes to its application on the
// consensus loop, on top of the application's own deadlines.
const appCallTime = 30 * time.Second

// appState is the health of the node's link to its application.
type appState struct {
	err       atomic.Pointer[string] // why the application is unusable; nil when it is fine
	diverged  atomic.Pointer[string] // set for good when the certified chain contradicts our execution
	nextRetry time.Time              // consensus goroutine only
}

// appError returns why the application is unusable, or "".
func (n *Node) appError() string {
	if p := n.appSt.diverged.Load(); p != nil {
		return *p
	}
	if p := n.appSt.err.Load(); p != nil {
		return *p
	}
	return ""
}

// diverged records that a committed block carries a state root that
// contradicts this validator's execution. A quorum certified that root, so
// at least one honest validator reached it: this validator's application
// (or its store) diverged. It stops voting and executing for good, and
// says so; an operator must repair its state (restore or resync it).
func (n *Node) diverged(b *chain.Block, err error) {
	msg := fmt.Sprintf("state diverged from the certified chain at block %d: %v", b.Height, err)
	if n.appSt.diverged.CompareAndSwap(nil, &msg) {
		n.metrics.divergence.Inc()
		n.log.Error("STATE DIVERGENCE: the certified chain contradicts our execution; not voting or executing until repaired",
			"height", b.Height, "err", err)
	}
}

// appFailed records that the application could not answer: from now on
// the node neither votes nor executes until the handshake succeeds.
func (n *Node) appFailed(err error) {
	msg := err.Error()
	if old := n.appSt.err.Swap(&msg); old == nil {
		n.log.Error("application failed: not voting or executing until it is back", "err", err)
		n.metrics.appErrors.Inc()
	}
	n.appSt.nextRetry = time.Now().Add(appRetry)
}

// appContext bounds a call to the application made on the consensus loop.
func appContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), appCallTime)
}

// handshake brings the application to the node's committed height, at
// most limit blocks at a time (0: all of them), and reports whether it got
// there. An error that does not wrap app.ErrUnavailable means the node
// must stop (its store or the application's state contradicts the chain).
func (n *Node) handshake(limit uint64) (bool, error) {
	ctx, cancel := appContext()
	defer cancel()
	info, err := n.app.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("node: application info: %w", err)
	}
	committed := n.store.CommittedHeight()
	recorded, _ := n.store.AppState()
	switch {
	case info.Height > committed:
		return false, fmt.Errorf("node: the application is at height %d, beyond the chain's committed height %d: it holds another chain's state", info.Height, committed)
	case info.Height > recorded:
		return false, fmt.Errorf("node: the application committed height %d, but the node recorded outcomes only to height %d", info.Height, recorded)
	}
	if info.Height == 0 {
		root, err := n.app.InitChain(ctx, n.appGenesis())
		if err != nil {
			return false, fmt.Errorf("node: init chain: %w", err)
		}
		// Blocks proposed before the first is executed carry it, as
		// CometBFT's first block carries InitChain's app hash.
		if len(root) > chain.MaxStateRoot {
			return false, fmt.Errorf("node: init chain: %w: app hash of %d bytes, at most %d", app.ErrUnavailable, len(root), chain.MaxStateRoot)
		}
		// An application restarted empty gets InitChain again while the
		// node has executed further: its genesis hash is recorded already.
		if recorded == 0 {
			if err := n.store.AppPut(map[string][]byte{rootKey(0): root}, nil); err != nil {
				return false, err
			}
			if err := n.store.AppGenesis(root); err != nil {
				return false, err
			}
		}
	}
	to := committed
	if limit > 0 && to > info.Height+limit {
		to = info.Height + limit
	}
	for h := info.Height + 1; h <= to; h++ {
		if err := n.catchUpOne(h, h <= recorded); err != nil {
			return false, err
		}
	}
	if to < committed {
		return false, nil
	}
	if n.appSt.err.Swap(nil) != nil {
		n.log.Info("application back: voting and executing again", "height", committed)
	}
	return true, nil
}

// catchUpOne brings the application one block further: it replays a block
// whose outcome the node recorded, or executes one it did not.
func (n *Node) catchUpOne(h uint64, replay bool) error {
	b, hash, _, ok := n.store.CommittedBlock(h)
	if !ok {
		return errors.Join(fmt.Errorf("node: committed block %d missing from the store", h), n.store.Err())
	}
	ctx, cancel := appContext()
	defer cancel()
	if replay {
		return n.replay(ctx, b)
	}
	ex, err := n.execute(ctx, b, nil)
	if err != nil {
		return err
	}
	if n.acceptLog != nil { // the node is running: its pool may hold the block's transactions
		n.settle(b, hash, ex)
	}
	return nil
}

// appGenesis is what InitChain gives the application.
func (n *Node) appGenesis() app.Genesis { return appGenesisOf(n.home, n.vals) }

func appGenesisOf(h *config.Home, vals *chain.ValidatorSet) app.Genesis {
	g := h.Genesis
	state := g.AppState
	if len(state) == 0 && len(g.Accounts) > 0 {
		state, _ = json.Marshal(g.Accounts)
	}
	return app.Genesis{
		ChainID: g.ChainID, Time: g.Time.UnixNano(), Validators: vals,
		AppState: state, InitialHeight: 1,
	}
}

// retryApp runs the handshake again when the application failed and the
// retry interval has passed, catching up at most catchUpStep blocks per
// call so that the consensus loop stays responsive. It returns an error
// only when the node must stop.
func (n *Node) retryApp() error {
	if n.appSt.diverged.Load() != nil || n.appError() == "" || time.Now().Before(n.appSt.nextRetry) {
		return nil
	}
	n.admitMu.Lock()
	done, err := n.handshake(catchUpStep)
	n.admitMu.Unlock()
	switch {
	case errors.Is(err, app.ErrUnavailable):
		n.appFailed(err)
		return nil
	case err != nil:
		return err
	case !done:
		return nil // more to catch up: at the next flush, without waiting
	}
	n.readmitDeferred()
	n.publish()
	return nil
}

// catchUpStep bounds the blocks one retry catches up.
const catchUpStep = 64
