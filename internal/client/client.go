// Package client is a thin typed client of a node's HTTP API (see the
// project's contract): status, accounts, submitting transactions and
// following them until they commit. It is what the wallet commands of the
// strategos binary use; scripts and tests in Go may use it too.
//
// Every error is one line meant for a user: a node that cannot be reached
// reads "cannot reach node URL: connection refused", a transaction the node
// refuses reads "node refused the transaction: <the node's reason>". Errors
// wrap ErrUnreachable, ErrRefused, ErrNotFound or ErrBusy for callers that
// test them with errors.Is.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/strategos/strategos/internal/chain"
)

// Errors that callers test with errors.Is.
var (
	ErrUnreachable = errors.New("client: node unreachable")
	ErrRefused     = errors.New("client: refused by the node")       // 400, 413
	ErrNotFound    = errors.New("client: not found")                 // 404
	ErrBusy        = errors.New("client: node busy")                 // 429, 503
	ErrBadAnswer   = errors.New("client: unexpected answer")         // anything else
	errPending     = errors.New("client: transaction still pending") // ends a Wait on ctx
)

// Error is an error of this package: a message for users that wraps one
// of the sentinel errors above without repeating its text.
type Error struct {
	// Code is the HTTP status of the node's answer, 0 if there was none.
	Code int
	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.kind }

func failure(kind error, format string, args ...any) *Error {
	return &Error{msg: fmt.Sprintf(format, args...), kind: kind}
}

// Transaction statuses of GET /v1/txs/{hash}.
const (
	StatusPending   = "pending"
	StatusCommitted = "committed"
	StatusRejected  = "rejected"
)

// DefaultTimeout bounds one request when New is given no HTTP client.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds the body of an answer read into memory.
const maxAnswer = 64 << 20

// Client talks to one node.
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client of the node whose API is at base, for example
// "http://127.0.0.1:8080" (a missing scheme means http). hc may be nil for
// a client with DefaultTimeout per request.
func New(base string, hc *http.Client) (*Client, error) {
	base = strings.TrimSpace(base)
	if base == "" {
		return nil, errors.New("client: empty node URL")
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("client: node URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: node URL %q must be http://HOST:PORT", base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: strings.TrimRight(u.String(), "/"), hc: hc}, nil
}

// URL returns the node's base URL.
func (c *Client) URL() string { return c.base }

// Status is the answer of GET /v1/status.
type Status struct {
	Node          uint32 `json:"node"`
	ChainID       string `json:"chain_id"`
	Height        uint64 `json:"height"`
	Round         uint64 `json:"round"`
	Leader        uint32 `json:"leader"`
	LastBlockHash string `json:"last_block_hash"`
	Validators    int    `json:"validators"`
	Behavior      string `json:"behavior"`
	App           string `json:"app"`
}

// Account is the answer of GET /v1/accounts/{address}.
type Account struct {
	Address      string `json:"address"`
	Balance      uint64 `json:"balance"`
	Nonce        uint64 `json:"nonce"`
	PendingNonce uint64 `json:"pending_nonce"`
}

// Tx is the status of a transaction: the answer of POST /v1/txs and of
// GET /v1/txs/{hash}.
type Tx struct {
	Hash   string `json:"hash"`
	Status string `json:"status"`
	Height uint64 `json:"height,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Final reports whether the transaction has reached its final status.
func (t Tx) Final() bool { return t.Status == StatusCommitted || t.Status == StatusRejected }

// Status fetches the node's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.getJSON(ctx, "/v1/status", &s)
	return s, err
}

// ChainID fetches the node's chain id.
func (c *Client) ChainID(ctx context.Context) (string, error) {
	s, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	if s.ChainID == "" {
		return "", failure(ErrBadAnswer, "node %s reports no chain_id in /v1/status", c.base)
	}
	return s.ChainID, nil
}

// Account fetches an account (bank app).
func (c *Client) Account(ctx context.Context, addr chain.Address) (Account, error) {
	var a Account
	err := c.getJSON(ctx, "/v1/accounts/"+addr.String(), &a)
	return a, err
}

// Tx fetches the status of a transaction.
func (c *Client) Tx(ctx context.Context, hash chain.Hash) (Tx, error) {
	var t Tx
	err := c.getJSON(ctx, "/v1/txs/"+hash.String(), &t)
	return t, err
}

// Submit posts one transaction body. On success the answer carries the
// hash the node computed, which Submit checks against the body's own.
func (c *Client) Submit(ctx context.Context, body []byte) (Tx, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/txs", bytes.NewReader(body))
	if err != nil {
		return Tx{}, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var t Tx
	if err := c.do(req, &t); err != nil {
		return Tx{}, err
	}
	want := chain.TxHash(body).String()
	if t.Hash == "" {
		t.Hash = want
	}
	if t.Hash != want {
		return t, failure(ErrBadAnswer, "node %s answered hash %s for a transaction whose hash is %s", c.base, t.Hash, want)
	}
	if t.Status == "" {
		t.Status = StatusPending
	}
	return t, nil
}

// Wait polls the status of a transaction until it is committed or
// rejected, and returns that status (a rejection is a status, not an
// error). It polls every interval at first, slowing down to a few seconds.
// While the transaction is unknown (404) or the node cannot answer, it
// keeps polling. When ctx ends first it returns the last status seen and
// an error that says so.
func (c *Client) Wait(ctx context.Context, hash chain.Hash, interval time.Duration) (Tx, error) {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	last := Tx{Hash: hash.String(), Status: StatusPending}
	var lastErr error
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, failure(errPending, "transaction %s still pending (last answer: %v)", hash, lastErr)
			}
			return last, failure(errPending, "transaction %s still pending", hash)
		case <-timer.C:
		}
		t, err := c.Tx(ctx, hash)
		switch {
		case err == nil && t.Final():
			return t, nil
		case err == nil:
			last, lastErr = t, nil
		case ctx.Err() != nil:
			// The request was cut short by ctx; report at the top.
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnreachable), errors.Is(err, ErrBusy), errors.Is(err, ErrBadAnswer):
			lastErr = err
		default:
			return last, err
		}
		timer.Reset(interval)
		interval = min(interval*3/2, 2*time.Second)
	}
}

// IsPending reports whether err is Wait's error for a transaction that
// was still pending when its context ended.
func IsPending(err error) bool { return errors.Is(err, errPending) }

// Get fetches path (for example "/v1/blocks/3") and returns the JSON
// answer as received.
func (c *Client) Get(ctx context.Context, path string) (json.RawMessage, error) {
	return c.GetBounded(ctx, path, maxAnswer)
}

// GetBounded is Get for an answer of at most limit bytes: a larger one is
// an error wrapping ErrBadAnswer.
func (c *Client) GetBounded(ctx context.Context, path string, limit int) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var raw json.RawMessage
	err = c.doBounded(req, &raw, limit)
	return raw, err
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return c.do(req, v)
}

// do sends req and decodes a 2xx JSON answer into v, or turns any other
// answer into an error.
func (c *Client) do(req *http.Request, v any) error { return c.doBounded(req, v, maxAnswer) }

func (c *Client) doBounded(req *http.Request, v any, maxAnswer int) error {
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return failure(ErrUnreachable, "cannot reach node %s: %s", c.base, netReason(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(maxAnswer)+1))
	if err != nil {
		return failure(ErrUnreachable, "cannot read the answer of node %s: %s", c.base, netReason(err))
	}
	if len(body) > maxAnswer {
		return failure(ErrBadAnswer, "node %s answered more than %d bytes", c.base, maxAnswer)
	}
	if resp.StatusCode/100 != 2 {
		return answerError(req.Method, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return failure(ErrBadAnswer, "node %s answered %s %s with invalid JSON: %s", c.base, req.Method, req.URL.Path, oneLine(err.Error()))
	}
	return nil
}

// answerError describes a non-2xx answer, using its "error" field if any.
func answerError(method string, code int, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
	}
	if msg == "" {
		msg = http.StatusText(code)
	}
	msg = oneLine(msg)
	err := answerKind(method, code, msg)
	err.Code = code
	return err
}

func answerKind(method string, code int, msg string) *Error {
	switch {
	case (code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge) && method == http.MethodPost:
		return failure(ErrRefused, "node refused the transaction: %s", msg)
	case code == http.StatusBadRequest:
		return failure(ErrRefused, "node refused the request: %s", msg)
	case code == http.StatusNotFound:
		return failure(ErrNotFound, "not found: %s", msg)
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return failure(ErrBusy, "node is busy, try again later: %s", msg)
	default:
		return failure(ErrBadAnswer, "node answered %d %s: %s", code, http.StatusText(code), msg)
	}
}

// netReason names why a request failed, without the Go error chain's
// repetition ("Get \"http://...\": dial tcp ...: connect: ...").
func netReason(err error) string {
	var dns *net.DNSError
	var op *net.OpError
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &dns):
		return oneLine(dns.Error())
	case errors.As(err, &op):
		return oneLine(op.Err.Error())
	case errors.As(err, &ue):
		return oneLine(ue.Err.Error())
	}
	return oneLine(err.Error())
}

// oneLine makes text from a node fit on one short line of printable
// characters, so that it cannot break or garble the terminal.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	const max = 300
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "..."
	}
	return s
}
