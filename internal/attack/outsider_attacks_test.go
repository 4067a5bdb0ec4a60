//go:build unix

package attack

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func outsider(last byte) Outsider { return Outsider{Source: net.IPv4(127, 0, 0, last)} }

// TestHandshakeSlots is finding 5: an outsider keeps 200 idle TCP
// connections open to an honest validator's peer port. A validator that
// (re)connects must still get through at once.
func TestHandshakeSlots(t *testing.T) {
	finding(t, 5)
	n := newNetwork(t, nil)
	target := n.att.Addr(0)
	var opened atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go outsider(2).HoldIdle(ctx, target, 200, func() { opened.Add(1) })
	for opened.Load() < 200 {
		time.Sleep(10 * time.Millisecond)
	}
	for try := range 3 {
		start := time.Now()
		var err error
		for time.Since(start) < 5*time.Second {
			var c *Conn
			if c, err = Dial(target, n.att.Key, n.att.Vals.Get(0).PubKey, 5*time.Second); err == nil {
				c.Close()
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("try %d: validator %d could not connect to node 0 within 5 s while an outsider holds idle connections (%d opened): %v",
				try, attacker, opened.Load(), err)
		}
		t.Logf("try %d: validator connected in %v (%d idle connections opened)", try, time.Since(start).Round(time.Millisecond), opened.Load())
		time.Sleep(time.Second)
	}
	n.advance(progressK, progressWait)
}

// TestLogFlood is finding 8: outsiders open connections to one honest
// validator and send garbage, or complete TLS handshakes under unknown
// keys, for 5 s. Its log must grow by less than 1 MB.
func TestLogFlood(t *testing.T) {
	finding(t, 8)
	n := newNetwork(t, nil)
	before := each(n.logSize)
	var tries atomic.Int64
	n.underAttack("connection flood (garbage and refused handshakes)", baseWindow, window(5*time.Second), progressK, progressWait,
		func(ctx context.Context) {
			var wg sync.WaitGroup
			addr := n.att.Addr(0)
			for w := range 16 {
				o := outsider(byte(2 + w%4))
				wg.Go(func() {
					for ctx.Err() == nil {
						if w%2 == 0 {
							o.Garbage(addr, 64)
						} else {
							o.Handshake(addr)
						}
						tries.Add(1)
					}
				})
			}
			wg.Wait()
		})
	after := each(n.logSize)
	t.Logf("%d connections; honest logs grew by %v bytes", tries.Load(), diff(after, before))
	for i := range after {
		if g := after[i] - before[i]; g > 1_000_000 {
			t.Errorf("node %d: log grew by %d bytes under a connection flood, budget 1 MB; it ends:\n%s", i, g, tail(n.logs[i], 5))
		}
	}
}

func diff(a, b []int64) []int64 {
	out := make([]int64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// TestEventSlots is finding 13: one client opens 100 /v1/events streams on
// an honest node and holds them. Another client must still subscribe.
func TestEventSlots(t *testing.T) {
	finding(t, 13)
	n := newNetwork(t, nil)
	hog := outsider(2).HTTPClient()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var held, refused atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for range 100 {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "GET", n.api(0)+"/v1/events", nil)
			resp, err := hog.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				refused.Add(1)
				return
			}
			held.Add(1)
			<-ctx.Done()
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for held.Load()+refused.Load() < 100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the hog holds %d streams, %d refused", held.Load(), refused.Load())
	other := outsider(3).HTTPClient()
	if err := firstEvent(ctx, other, n.api(0)+"/v1/events"); err != nil {
		t.Fatalf("another client could not subscribe while one client holds %d streams: %v", held.Load(), err)
	}
}

// firstEvent subscribes to url and waits (5 s at most) for its first line.
func firstEvent(ctx context.Context, c *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b := make([]byte, 200)
		k, _ := resp.Body.Read(b)
		return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(b[:k])))
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return err
	}
	if line == "" {
		return fmt.Errorf("empty stream")
	}
	return nil
}
