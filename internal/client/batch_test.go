package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func TestBatchLines(t *testing.T) {
	for body, want := range map[string]int{"": 1, "a=1": 1, "a=1\n": 1, "a=1\nb=2": 2, "a=1\nb=2\n\n": 2, "a=1\r\n": 1} {
		if got := BatchLines([]byte(body)); got != want {
			t.Errorf("BatchLines(%q) = %d, want %d", body, got, want)
		}
	}
}

func TestSubmitBatch(t *testing.T) {
	var short bool
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/v1/txs/batch" {
			answer(w, 404, map[string]string{"error": "no route"})
			return
		}
		body, _ := io.ReadAll(r.Body)
		var res []map[string]string
		for _, line := range bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n")) {
			switch {
			case string(line) == "busy=1":
				res = append(res, map[string]string{"error": "busy: mempool: full"})
			case bytes.Contains(line, []byte("=")):
				res = append(res, map[string]string{"hash": chain.TxHash(line).String(), "status": "pending"})
			default:
				res = append(res, map[string]string{"error": "kv: transaction must be key=value"})
			}
		}
		if short {
			res = res[1:]
		}
		answer(w, 200, map[string]any{"results": res})
	})
	ctx := context.Background()
	res, err := c.SubmitBatch(ctx, []byte("a=1\nbad\nbusy=1\n"))
	if err != nil || len(res) != 3 {
		t.Fatalf("SubmitBatch = %+v, %v", res, err)
	}
	if !res[0].Accepted() || res[0].Hash != chain.TxHash([]byte("a=1")).String() {
		t.Errorf("line 0: %+v", res[0])
	}
	if res[1].Accepted() || res[1].Error == "" || res[2].Accepted() || res[2].Error != "busy: mempool: full" {
		t.Errorf("lines 1, 2: %+v %+v", res[1], res[2])
	}
	short = true
	if _, err := c.SubmitBatch(ctx, []byte("a=1\nb=2")); !errors.Is(err, ErrBadAnswer) {
		t.Errorf("an answer short of a result: %v, want ErrBadAnswer", err)
	}
}

func TestSubmitBatchBusy(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusTooManyRequests, map[string]string{"error": "slow down"})
	})
	if _, err := c.SubmitBatch(context.Background(), []byte("a=1")); !errors.Is(err, ErrBusy) {
		t.Errorf("429: %v, want ErrBusy", err)
	}
}

func TestBlocks(t *testing.T) {
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/blocks" || r.URL.Query().Get("from") != "3" || r.URL.Query().Get("to") != "102" {
			answer(w, 400, map[string]string{"error": "unexpected " + r.URL.String()})
			return
		}
		answer(w, 200, map[string]any{"blocks": []map[string]any{
			{"height": 3, "hash": "aa", "txs": []string{"01", "02"}, "qc": map[string]any{"round": 4}},
			{"height": 4, "hash": "bb", "txs": []string{}},
		}})
	})
	bs, err := c.Blocks(context.Background(), 3, 102)
	if err != nil || len(bs) != 2 || bs[0].Height != 3 || len(bs[0].Txs) != 2 || bs[1].Hash != "bb" {
		t.Fatalf("Blocks = %+v, %v", bs, err)
	}
}
