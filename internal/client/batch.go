package client

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
)

// BatchResult is the answer for one line of POST /v1/txs/batch: Hash and
// Status "pending" for a line the node accepted, Error (and an empty
// Status) for a line it refused.
type BatchResult struct {
	Hash   string `json:"hash,omitempty"`
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Accepted reports whether the node accepted the line.
func (r BatchResult) Accepted() bool { return r.Error == "" && r.Status == StatusPending }

// BatchLines counts the transactions of a batch body the way the node
// does: lines ending at "\n" or "\r\n", trailing newlines ignored.
func BatchLines(body []byte) int {
	for {
		b, ok := bytes.CutSuffix(body, []byte("\n"))
		if !ok {
			break
		}
		body, _ = bytes.CutSuffix(b, []byte("\r"))
	}
	if len(body) == 0 {
		return 1 // the node answers an empty body with one refused line
	}
	return bytes.Count(body, []byte("\n")) + 1
}

// SubmitBatch posts newline-separated transactions to POST /v1/txs/batch
// and returns one result per line, in order. A refused line is a result,
// not an error; the error is for the batch as a whole (ErrBusy when the
// node answers 429 or 503, ErrRefused for 400 or 413, ErrUnreachable, or
// ErrBadAnswer when the answer does not hold one result per line).
func (c *Client) SubmitBatch(ctx context.Context, body []byte) ([]BatchResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/txs/batch", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain")
	var ans struct {
		Results []BatchResult `json:"results"`
	}
	if err := c.do(req, &ans); err != nil {
		return nil, err
	}
	if want := BatchLines(body); len(ans.Results) != want {
		return ans.Results, failure(ErrBadAnswer, "node %s answered %d results to a batch of %d transactions", c.base, len(ans.Results), want)
	}
	return ans.Results, nil
}

// Block is a committed block as GET /v1/blocks answers it; Txs holds the
// hex hashes of its transactions.
type Block struct {
	Height     uint64   `json:"height"`
	Hash       string   `json:"hash"`
	ParentHash string   `json:"parent_hash"`
	Round      uint64   `json:"round"`
	Proposer   uint32   `json:"proposer"`
	Time       string   `json:"time"`
	Txs        []string `json:"txs"`
	StateRoot  string   `json:"state_root"`
}

// Blocks fetches the committed blocks from..to (GET /v1/blocks), in height
// order. The node answers at most 100 blocks and 4 MiB of them per call
// (but at least block from, once committed), and stops at the first
// height it has not committed yet, so fewer blocks than asked (none at
// all) is a normal answer: ask again from the height after the last.
func (c *Client) Blocks(ctx context.Context, from, to uint64) ([]Block, error) {
	var ans struct {
		Blocks []Block `json:"blocks"`
	}
	path := "/v1/blocks?from=" + strconv.FormatUint(from, 10) + "&to=" + strconv.FormatUint(to, 10)
	if err := c.getJSON(ctx, path, &ans); err != nil {
		return nil, err
	}
	return ans.Blocks, nil
}
