package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report is the result of a run; its JSON form is what `strategos bench
// --json` prints. Rates and latencies are over the window; see the
// package comment for what each count means.
type Report struct {
	Nodes        int     `json:"nodes"` // validators of the network
	App          string  `json:"app"`
	OfferedTPS   float64 `json:"offered_tps"`
	CommittedTPS float64 `json:"committed_tps"`
	Latency      Latency `json:"latency_ms"`
	DurationS    float64 `json:"duration_s"` // the window
	Blocks       int     `json:"blocks"`     // blocks seen committed during the window
	Byzantine    int     `json:"byzantine"`  // own network: validators that misbehaved (the highest), not loaded
	Behavior     string  `json:"behavior"`   // ... their behaviour; "honest" with none

	AcceptedTPS    float64   `json:"accepted_tps"`
	Mode           string    `json:"mode"` // "open" (--rate) or "closed"
	Rate           float64   `json:"rate"` // the offered rate asked for; 0 in closed loop
	WarmupS        float64   `json:"warmup_s"`
	Submitted      int64     `json:"submitted"`      // lines sent during the window, re-offers included
	Accepted       int64     `json:"accepted"`       // ... that the node accepted
	RefusedBusy    int64     `json:"refused_busy"`   // ... that it refused as busy (429, 503 or a busy line)
	Rejected       int64     `json:"rejected"`       // ... that it refused for another reason
	RequestErrors  int64     `json:"request_errors"` // ... in batches that got no answer
	Committed      int64     `json:"committed"`      // the run's transactions seen committed during the window
	LatencySamples int       `json:"latency_samples"`
	Dropped        int64     `json:"dropped"`              // accepted, then rejected by the node with a reason
	PendingAtEnd   int64     `json:"pending_at_end"`       // accepted, still pending after the drain
	Lost           int64     `json:"lost"`                 // accepted, and unknown to the node that accepted them
	LostChecked    int       `json:"lost_checked"`         // transactions looked up for the three counts above
	Expired        int64     `json:"expired,omitempty"`    // --rpc: submitted, given up after 30 s unseen in a block
	RPCWindow      int       `json:"window,omitempty"`     // --rpc: bound on transactions submitted and not seen committed
	PollMS         float64   `json:"poll_ms"`              // the commit follower's poll interval: the observation lag
	LoadgenCPU     float64   `json:"loadgen_cpu_s"`        // the load generator's CPU time during the window
	NodesCPU       *float64  `json:"nodes_cpu_s"`          // the validators' CPU time during the window; null for targets
	NodeCPU        []float64 `json:"node_cpu_s,omitempty"` // ... per validator
	Cores          int       `json:"cores"`
	Generated      int       `json:"generated"` // transactions prepared before the load
	Exhausted      bool      `json:"exhausted"` // the load ran out of them before the window ended
	Foreign        int64     `json:"foreign_txs"`
	Height         uint64    `json:"height"` // the last height seen
	OwnNetwork     bool      `json:"own_network"`
	Targets        []string  `json:"targets"`
	FirstError     string    `json:"first_error,omitempty"`
	Interrupted    bool      `json:"interrupted,omitempty"`
}

// WriteText writes the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	where := "running nodes " + strings.Join(r.Targets, ", ")
	if r.App == "rpc" {
		where = fmt.Sprintf("JSON-RPC endpoints %s (broadcast_tx_async, batches of %d, at most %d waiting)", strings.Join(r.Targets, ", "), rpcBatch, r.RPCWindow)
	}
	if r.OwnNetwork {
		where = "its own network on 127.0.0.1"
	}
	fmt.Fprintf(&b, "strategos bench: %d validators, app %s, %s\n", r.Nodes, r.App, where)
	if r.Byzantine > 0 {
		fmt.Fprintf(&b, "byzantine   the %d highest validators ran %s; the load went to the %d others\n", r.Byzantine, r.Behavior, r.Nodes-r.Byzantine)
	}
	load := "closed loop (as fast as the network accepts)"
	if r.Mode == "open" {
		load = fmt.Sprintf("open loop at %g tx/s", r.Rate)
	}
	fmt.Fprintf(&b, "window      %.1f s after %.1f s of warm-up; load %s\n", r.DurationS, r.WarmupS, load)
	fmt.Fprintf(&b, "offered     %9.1f tx/s  (%d lines sent, re-offers included)\n", r.OfferedTPS, r.Submitted)
	fmt.Fprintf(&b, "accepted    %9.1f tx/s  (%d; refused busy %d, rejected %d, failed requests %d)\n",
		r.AcceptedTPS, r.Accepted, r.RefusedBusy, r.Rejected, r.RequestErrors)
	perBlock := 0.0
	if r.Blocks > 0 {
		perBlock = float64(r.Committed) / float64(r.Blocks)
	}
	fmt.Fprintf(&b, "committed   %9.1f tx/s  (%d in %d blocks, %.1f blocks/s, %.0f tx/block)\n",
		r.CommittedTPS, r.Committed, r.Blocks, float64(r.Blocks)/max(r.DurationS, 1e-9), perBlock)
	l := r.Latency
	fmt.Fprintf(&b, "latency     p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  mean %.1f ms\n", l.P50, l.P95, l.P99, l.Max, l.Mean)
	fmt.Fprintf(&b, "            (%d transactions sent in the window; submit to commit seen on %s, polled every %g ms)\n",
		r.LatencySamples, firstOr(r.Targets, "node 0"), r.PollMS)
	if r.App == "rpc" {
		fmt.Fprintf(&b, "after drain %d submitted not seen committed, %d given up unseen after 30 s (over RPC transactions are not looked up)\n",
			r.PendingAtEnd, r.Expired)
	} else {
		fmt.Fprintf(&b, "after drain lost %d, dropped with a reason %d, still pending %d (of %d looked up)\n",
			r.Lost, r.Dropped, r.PendingAtEnd, r.LostChecked)
	}
	cpu := fmt.Sprintf("load generator %.2f s (%.0f%% of one core", r.LoadgenCPU, 100*r.LoadgenCPU/max(r.DurationS, 1e-9))
	if r.Committed > 0 {
		cpu += fmt.Sprintf(", %.1f µs per committed tx", 1e6*r.LoadgenCPU/float64(r.Committed))
	}
	cpu += ")"
	if r.NodesCPU != nil {
		cpu += fmt.Sprintf(", validators %.2f s (%.0f%% of one core)", *r.NodesCPU, 100**r.NodesCPU/max(r.DurationS, 1e-9))
	}
	fmt.Fprintf(&b, "CPU         %s, %d cores\n", cpu, r.Cores)
	if r.Exhausted {
		fmt.Fprintf(&b, "note        the load ran out of its %d prepared transactions before the window ended\n", r.Generated)
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, "first error %s\n", r.FirstError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// progress shows a status line about once a second until ctx ends:
// redrawn in place on a terminal, one line per second otherwise.
func (r *run) progress(ctx context.Context) {
	out := r.o.Progress
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSent, lastAcc, lastCom int64
	var avg float64 // commits per second, smoothed
	last := r.now()
	drew := false
	for {
		select {
		case <-ctx.Done():
			if drew && r.o.Terminal {
				fmt.Fprintln(out)
			}
			return
		case <-t.C:
		}
		now := r.now()
		dt := (now - last).Seconds()
		sent, acc, com := r.cnt.sent.Load(), r.cnt.accepted.Load(), r.follow.committed.Load()
		rate := float64(com-lastCom) / dt
		avg = smooth(avg, rate, !drew)
		r.recent.Store(int64(avg))
		line := fmt.Sprintf("%5.0fs %-9s offered %6.0f/s accepted %6.0f/s committed %6.0f/s height %d p50 %.0fms waiting %d",
			(now - r.win.start + r.o.Warmup).Seconds(), r.phase(now), float64(sent-lastSent)/dt, float64(acc-lastAcc)/dt, rate,
			r.follow.height.Load(), ms(r.follow.p50()), r.outstanding())
		lastSent, lastAcc, lastCom, last = sent, acc, com, now
		if r.o.Terminal {
			fmt.Fprintf(out, "\r\x1b[2K%s", line)
		} else {
			fmt.Fprintln(out, line)
		}
		drew = true
	}
}

func (r *run) phase(now time.Duration) string {
	switch {
	case r.draining.Load():
		return "drain"
	case now < r.win.start:
		return "warm-up"
	case now < r.win.end:
		return "measuring"
	}
	return "cool-down"
}
