package bench

// The --rpc mode's commit follower: it polls blocks and matches their
// transactions to what was submitted.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"
)

// follow follows the commits of the first endpoint from height next
// until ctx ends, and expires what waited too long.
func (r *rpcRun) follow(ctx context.Context, next int64) {
	url := r.urls[0]
	t := time.NewTimer(0)
	defer t.Stop()
	failSince := time.Duration(-1)
	lastSweep := r.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		t.Reset(r.o.Poll)
		if now := r.now(); now-lastSweep >= min(time.Second, r.o.expire/2) {
			r.sweep(now)
			lastSweep = now
		}
		err := r.poll(ctx, url, &next)
		if err == nil {
			failSince = -1
			continue
		}
		if ctx.Err() != nil {
			return
		}
		r.noteError(err)
		if now := r.now(); failSince < 0 {
			failSince = now
		} else if now-failSince > unreachableAfter {
			r.fail(fmt.Errorf("bench: cannot follow the blocks of %s for %v: %w", url, unreachableAfter, err))
			return
		}
	}
}

// poll books the blocks from *next up to the latest height.
func (r *rpcRun) poll(ctx context.Context, url string, next *int64) error {
	pctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	st, err := r.status(pctx, url)
	if err != nil {
		return err
	}
	for ; *next <= st.height; *next++ {
		var b rpcBlock
		if err := r.call(pctx, url, "block", fmt.Sprintf(`{"height":"%d"}`, *next), &b); err != nil {
			return err
		}
		if h := int64(b.Block.Header.Height); h != *next {
			err := fmt.Errorf("bench: %s answered block %d when asked for %d", url, h, *next)
			r.fail(err)
			return err
		}
		r.block(b.Block.Data.Txs, r.now())
		r.height.Store(*next)
	}
	return nil
}

// block books the transactions of one block seen committed at run time
// now.
func (r *rpcRun) block(txs [][]byte, now time.Duration) {
	inWin := r.win.contains(now)
	if inWin {
		r.blocks.Add(1)
	}
	var lat []time.Duration
	var winLat []time.Duration
	for _, tx := range txs {
		sent, ok := r.resolve(sha256.Sum256(tx))
		if !ok {
			r.foreign.Add(1) // not the run's, or given up already
			continue
		}
		r.committed.Add(1)
		r.lastCommit.Store(int64(now))
		if inWin {
			r.winCommit.Add(1)
		}
		lat = append(lat, now-sent)
		if r.win.contains(sent) {
			r.winDone.Add(1)
			winLat = append(winLat, now-sent)
		}
	}
	if len(lat) == 0 {
		return
	}
	r.smu.Lock()
	defer r.smu.Unlock()
	for _, d := range lat {
		r.all.add(d)
	}
	for _, d := range winLat {
		r.samples = append(r.samples, d)
		r.inWin.add(d)
	}
}

// sweep gives up the transactions submitted more than the expiry ago.
func (r *rpcRun) sweep(now time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for h, sent := range r.out {
		if now-sent < r.o.expire {
			continue
		}
		delete(r.out, h)
		n++
		r.expired.Add(1)
		if r.win.contains(sent) {
			r.winIn--
		}
	}
	if n > 0 {
		r.room.Broadcast()
	}
}
