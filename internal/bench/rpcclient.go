package bench

// The --rpc mode's JSON-RPC client: broadcasting in batches, and the
// few reads it needs (status, validators, blocks).

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *rpcError) Error() string {
	if e.Data != "" {
		return fmt.Sprintf("%s (%d): %s", e.Message, e.Code, e.Data)
	}
	return fmt.Sprintf("%s (%d)", e.Message, e.Code)
}

// isBusy tells a refusal for want of room (CometBFT: "mempool is full",
// Strategos: "busy") from one of the transaction.
func isBusy(e *rpcError) bool {
	s := strings.ToLower(e.Message + " " + e.Data)
	return strings.Contains(s, "full") || strings.Contains(s, "busy")
}

type rpcAnswer struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

// broadcast sends txs as one batch of broadcast_tx_async requests, ids
// 0 .. len(txs)-1, and returns each one's error (nil: accepted).
func (r *rpcRun) broadcast(ctx context.Context, url string, txs [][]byte) ([]*rpcError, error) {
	var body bytes.Buffer
	body.WriteByte('[')
	for i, tx := range txs {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"jsonrpc":"2.0","id":%d,"method":"broadcast_tx_async","params":{"tx":"`, i)
		enc := base64.NewEncoder(base64.StdEncoding, &body)
		enc.Write(tx)
		enc.Close()
		body.WriteString(`"}}`)
	}
	body.WriteByte(']')
	raw, code, err := r.post(ctx, url, body.Bytes())
	if err != nil {
		return nil, err
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		return nil, errRPCBusy
	}
	var answers []rpcAnswer
	if err := json.Unmarshal(raw, &answers); err != nil {
		var one rpcAnswer // an error for the whole batch
		if json.Unmarshal(raw, &one) == nil && one.Error != nil {
			if isBusy(one.Error) {
				return nil, errRPCBusy
			}
			return nil, fmt.Errorf("bench: %s refused a batch: %v", url, one.Error)
		}
		return nil, fmt.Errorf("bench: %s answered a batch with HTTP %d and no JSON-RPC answers: %.200q", url, code, raw)
	}
	out := make([]*rpcError, len(txs))
	seen := make([]bool, len(txs))
	for _, a := range answers {
		i, err := strconv.Atoi(string(a.ID))
		if err != nil || i < 0 || i >= len(txs) || seen[i] {
			return nil, fmt.Errorf("bench: %s answered a batch with an unknown id %s", url, a.ID)
		}
		seen[i] = true
		if a.Error != nil {
			out[i] = a.Error
		} else if len(a.Result) == 0 || string(a.Result) == "null" {
			out[i] = &rpcError{Message: "an answer without result or error"}
		}
	}
	for i, ok := range seen {
		if !ok {
			out[i] = &rpcError{Message: "no answer in the batch"}
		}
	}
	return out, nil
}

// post sends one JSON-RPC body and returns the answer's body and status.
func (r *rpcRun) post(ctx context.Context, url string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("bench: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: cannot reach %s: %w", url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, rpcMaxAnswer))
	if err != nil {
		return nil, 0, fmt.Errorf("bench: reading the answer of %s: %w", url, err)
	}
	return raw, resp.StatusCode, nil
}

// call makes one JSON-RPC request and decodes its result into v.
func (r *rpcRun) call(ctx context.Context, url, method, params string, v any) error {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params)
	raw, code, err := r.post(ctx, url, []byte(body))
	if err != nil {
		return err
	}
	var a rpcAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("bench: %s answered %s with HTTP %d and no JSON-RPC answer: %.200q", url, method, code, raw)
	}
	if a.Error != nil {
		return fmt.Errorf("bench: %s answered %s: %v", url, method, a.Error)
	}
	if err := json.Unmarshal(a.Result, v); err != nil {
		return fmt.Errorf("bench: %s answered %s with an unexpected result: %w", url, method, err)
	}
	return nil
}

// int64s decodes CometBFT's 64-bit numbers, which are JSON strings (a
// plain number is taken too).
type int64s int64

func (n *int64s) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = int64s(v)
	return nil
}

// endpointStatus is what the run takes from status.
type endpointStatus struct {
	network string
	height  int64
}

func (r *rpcRun) status(ctx context.Context, url string) (endpointStatus, error) {
	var res struct {
		NodeInfo struct {
			Network string `json:"network"`
		} `json:"node_info"`
		SyncInfo struct {
			LatestBlockHeight int64s `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	if err := r.call(ctx, url, "status", "{}", &res); err != nil {
		return endpointStatus{}, err
	}
	return endpointStatus{network: res.NodeInfo.Network, height: int64(res.SyncInfo.LatestBlockHeight)}, nil
}

func (r *rpcRun) validators(ctx context.Context, url string) (int, error) {
	var res struct {
		Total int64s `json:"total"`
	}
	if err := r.call(ctx, url, "validators", "{}", &res); err != nil {
		return 0, err
	}
	return int(res.Total), nil
}

type rpcBlock struct {
	Block struct {
		Header struct {
			Height int64s `json:"height"`
		} `json:"header"`
		Data struct {
			Txs [][]byte `json:"txs"` // base64 in JSON
		} `json:"data"`
	} `json:"block"`
}
