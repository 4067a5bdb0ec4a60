package abci

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/strategos/strategos/internal/app"
)

// Concurrent CheckTx calls share exchanges: while one is in flight the
// others queue, and the next exchange carries all of them. Each caller
// gets its own transactions' answers.
func TestCheckTxCoalesced(t *testing.T) {
	const callers = 40
	held, release := make(chan int, 1), make(chan struct{})
	var exchanges atomic.Int32
	var first sync.Once
	addr := serveConns(t, func(nc net.Conn) { serveCounting(nc, held, release, &first, &exchanges) })
	c := newTestClient(t, addr, Options{})

	var wg sync.WaitGroup
	errs := make([][]error, callers)
	fails := make([]error, callers)
	call := func(i int) {
		wg.Go(func() {
			txs := app.NewTxs([][]byte{fmt.Appendf(nil, "k%d=v", i), fmt.Appendf(nil, "bad%d", i)})
			errs[i], fails[i] = c.CheckTx(testContext(t), app.CheckNew, txs)
		})
	}
	// The first caller's exchange is held by the server until all the
	// others have queued behind it.
	call(0)
	if inFirst := <-held / 2; inFirst != 1 {
		t.Fatalf("the first exchange carried %d callers, want 1", inFirst)
	}
	for i := 1; i < callers; i++ {
		call(i)
	}
	for {
		c.checks.mu.Lock()
		n := len(c.checks.queue)
		c.checks.mu.Unlock()
		if n == callers-1 {
			break
		}
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	for i := range callers {
		if fails[i] != nil {
			t.Fatalf("caller %d: %v", i, fails[i])
		}
		if errs[i][0] != nil || errs[i][1] == nil || !strings.Contains(errs[i][1].Error(), fmt.Sprintf("bad%d", i)) {
			t.Errorf("caller %d got %v", i, errs[i])
		}
	}
	if n := exchanges.Load(); n != 2 {
		t.Errorf("%d exchanges for %d concurrent callers, want 2: one for the first, one for all that queued behind it", n, callers)
	}
}

// serveCounting answers CheckTx with code 1 and the transaction as log
// for a transaction that starts "bad", counts exchanges (Flushes), and
// holds the first one's answer, after saying on held how many CheckTx
// it carried, until release is closed.
func serveCounting(nc net.Conn, held chan<- int, release chan struct{}, first *sync.Once, exchanges *atomic.Int32) {
	r, w := bufio.NewReader(nc), bufio.NewWriter(nc)
	checks := 0
	for {
		req := new(abcitypes.Request)
		if err := abcitypes.ReadMessage(r, req); err != nil {
			return
		}
		var resp *abcitypes.Response
		switch v := req.Value.(type) {
		case *abcitypes.Request_Flush:
			exchanges.Add(1)
			first.Do(func() { held <- checks; <-release })
			resp = abcitypes.ToResponseFlush()
		case *abcitypes.Request_CheckTx:
			checks++
			var code uint32
			if strings.HasPrefix(string(v.CheckTx.Tx), "bad") {
				code = 1
			}
			resp = abcitypes.ToResponseCheckTx(&abcitypes.ResponseCheckTx{Code: code, Log: string(v.CheckTx.Tx)})
		default:
			resp = abcitypes.ToResponseEcho("")
		}
		if abcitypes.WriteMessage(resp, w) != nil {
			return
		}
		if _, ok := req.Value.(*abcitypes.Request_Flush); ok && w.Flush() != nil {
			return
		}
	}
}
