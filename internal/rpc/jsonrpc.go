package rpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// The JSON-RPC 2.0 envelope, as CometBFT's server reads and writes it:
// requests carry an id (a number or a string; without one a request is a
// notification, which is never answered), a method and params (an object
// by name or an array by position); answers echo the id, and carry
// either a result or an error {code, message, data}.

// JSON-RPC error codes, with the messages CometBFT gives them.
const (
	codeParse          = -32700
	codeInvalidRequest = -32600
	codeNoMethod       = -32601
	codeInvalidParams  = -32602
	codeInternal       = -32603
	codeServer         = -32000
)

var errMessages = map[int]string{
	codeParse:          "Parse error. Invalid JSON",
	codeInvalidRequest: "Invalid Request",
	codeNoMethod:       "Method not found",
	codeInvalidParams:  "Invalid params",
	codeInternal:       "Internal error",
	codeServer:         "Server error",
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data,omitempty"`
}

func newError(code int, data string) *rpcError {
	return &rpcError{Code: code, Message: errMessages[code], Data: data}
}

// request is one decoded call. ID is the id exactly as the client wrote
// it (a JSON number or string), nil for a notification.
type request struct {
	ID     json.RawMessage
	Method string
	Params json.RawMessage // an object or an array; nil when absent
}

// uriID is the id of answers to the URI form (GET /status), which has
// none: CometBFT answers it with -1.
var uriID = json.RawMessage("-1")

// response is one answer: Result is the result's JSON (cmtjson), or Err
// is set. A nil ID is written as null (the id of a request that could
// not be read).
type response struct {
	ID     json.RawMessage
	Result []byte
	Err    *rpcError
}

// appendJSON appends the answer's JSON, fields in CometBFT's order.
func (r response) appendJSON(b []byte) []byte {
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	if r.ID == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, r.ID...)
	}
	if r.Err != nil {
		e, _ := json.Marshal(r.Err) // plain strings and an int
		b = append(b, `,"error":`...)
		b = append(b, e...)
	} else {
		b = append(b, `,"result":`...)
		b = append(b, r.Result...)
	}
	return append(b, '}')
}

// appendResponses appends the answers to a POST: one object for one
// answer (as CometBFT does, even for a batch of one), else an array.
func appendResponses(b []byte, rs []response) []byte {
	if len(rs) == 1 {
		return rs[0].appendJSON(b)
	}
	b = append(b, '[')
	for i, r := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.appendJSON(b)
	}
	return append(b, ']')
}

// errBatchTooLarge refuses a batch of more than the allowed requests.
var errBatchTooLarge = errors.New("batch too large")

// decodeBody reads a POST body: one request, or a batch (a JSON array) of
// at most maxBatch. A batch is read element by element, so that a body
// of a million tiny elements is refused after maxBatch+1 of them rather
// than decoded whole; what is allocated stays within a small multiple of
// the body. An element that is not a request object is answered alone
// with an invalid-request error (reqErrs[i] set); only a body that is no
// JSON at all, or too many elements, fails the whole body.
func decodeBody(body []byte, maxBatch int) (reqs []request, reqErrs []*rpcError, err error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		r, rerr := decodeRequest(body)
		if rerr != nil && rerr.Code == codeParse {
			return nil, nil, errors.New(rerr.Data)
		}
		return []request{r}, []*rpcError{rerr}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, nil, err
	}
	for dec.More() {
		if len(reqs) == maxBatch {
			return nil, nil, fmt.Errorf("%w: batch request exceeds maximum (%d) allowed number of requests", errBatchTooLarge, maxBatch)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, err
		}
		r, rerr := decodeRequest(raw)
		reqs = append(reqs, r)
		reqErrs = append(reqErrs, rerr)
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return nil, nil, err
	}
	if dec.More() {
		return nil, nil, errors.New("data after the batch")
	}
	if len(reqs) == 0 {
		return nil, nil, errors.New("empty batch")
	}
	return reqs, reqErrs, nil
}

// decodeRequest reads one request object. A parse error means raw is no
// JSON value; an invalid request, a value that is not a request (its id
// is then unknown, nil).
func decodeRequest(raw []byte) (request, *rpcError) {
	var w struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if !json.Valid(raw) {
		return request{}, newError(codeParse, "error unmarshaling request: invalid JSON")
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return request{}, newError(codeInvalidRequest, "a request must be a JSON object")
	}
	var r request
	switch id := bytes.TrimSpace(w.ID); {
	case len(id) == 0 || string(id) == "null":
		// A notification: never answered.
	case id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9'):
		r.ID = id
	default:
		return request{}, newError(codeInvalidRequest, "id must be a string or a number")
	}
	if len(w.Method) > 0 {
		if err := json.Unmarshal(w.Method, &r.Method); err != nil {
			return request{ID: r.ID}, newError(codeInvalidRequest, "method must be a string")
		}
	}
	switch p := bytes.TrimSpace(w.Params); {
	case len(p) == 0 || string(p) == "null":
	case p[0] == '{' || p[0] == '[':
		r.Params = p
	default:
		return request{ID: r.ID}, newError(codeInvalidParams, "params must be an object or an array")
	}
	return r, nil
}
