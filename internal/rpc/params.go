package rpc

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Parameters are decoded the way CometBFT's server decodes them into its
// handlers' Go types, with cmtjson: 64-bit integers as JSON strings,
// byte slices as base64, HexBytes as hex. It is a little more lenient
// where that costs nothing: integers may also be JSON numbers, and null
// is the same as absent. In the URI form (GET /block?height=5) an integer
// is bare digits, a byte slice or string 0x-prefixed hex or a "quoted"
// string, a boolean true or false, and a string must be quoted.

// kind is the Go type a parameter has in CometBFT's handlers.
type kind int

const (
	kindInt64 kind = iota // int64, *int64
	kindInt               // int, *int (page, per_page)
	kindBool
	kindString
	kindBytes    // []byte, types.Tx: base64 in JSON
	kindHexBytes // bytes.HexBytes: hex in JSON
	kindHash     // a 32-byte hash as []byte (base64) or HexBytes (hex)
)

func (k kind) String() string {
	return [...]string{"int64", "int", "bool", "string", "[]byte", "HexBytes", "hash"}[k]
}

// param is one named parameter of a method.
type param struct {
	name string
	kind kind
}

// params are a call's decoded parameters: int64, bool, string or []byte
// by name; an absent parameter has no entry.
type params map[string]any

func (p params) int64(name string) (int64, bool) {
	v, ok := p[name].(int64)
	return v, ok
}

func (p params) bool(name string) bool {
	v, _ := p[name].(bool)
	return v
}

func (p params) string(name string) string {
	v, _ := p[name].(string)
	return v
}

func (p params) bytes(name string) []byte {
	v, _ := p[name].([]byte)
	return v
}

// decodeJSONParams decodes params given as an object (by name) or an
// array (by position, at most one value per parameter).
func decodeJSONParams(spec []param, raw json.RawMessage) (params, error) {
	p := params{}
	if len(raw) == 0 {
		return p, nil
	}
	values := make(map[string]json.RawMessage, len(spec))
	if raw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, fmt.Errorf("unknown type for JSON params: %w", err)
		}
		if len(list) > len(spec) {
			return nil, fmt.Errorf("expected at most %d parameters (%s), got %d", len(spec), names(spec), len(list))
		}
		for i, v := range list {
			values[spec[i].name] = v
		}
	} else {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("unknown type for JSON params: %w", err)
		}
		for _, s := range spec {
			if v, ok := m[s.name]; ok {
				values[s.name] = v
			}
		}
	}
	for _, s := range spec {
		v := bytes.TrimSpace(values[s.name])
		if len(v) == 0 || string(v) == "null" {
			continue
		}
		x, err := decodeJSONValue(s.kind, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		p[s.name] = x
	}
	return p, nil
}

func names(spec []param) string {
	var n []string
	for _, s := range spec {
		n = append(n, s.name)
	}
	return strings.Join(n, ",")
}

func decodeJSONValue(k kind, v json.RawMessage) (any, error) {
	switch k {
	case kindInt64, kindInt:
		var s string
		if v[0] == '"' {
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
		} else {
			s = string(v)
		}
		return parseInt(k, s)
	case kindBool:
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return nil, fmt.Errorf("want true or false, got %s", clip(v))
		}
		return b, nil
	case kindString:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("want a string, got %s", clip(v))
		}
		return s, nil
	case kindBytes:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("want a base64 string, got %s", clip(v))
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("want base64: %w", err)
		}
		return b, nil
	case kindHexBytes:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("want a hex string, got %s", clip(v))
		}
		b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
		if err != nil {
			return nil, fmt.Errorf("want hex: %w", err)
		}
		return b, nil
	case kindHash:
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("want a base64 or hex string, got %s", clip(v))
		}
		return decodeHash(s)
	}
	return nil, fmt.Errorf("unknown kind %d", k)
}

// parseInt reads an integer of kind k: int64, or int (which is 64 bits
// on every platform Strategos builds for, but is checked anyway).
func parseInt(k kind, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %q", clipString(s))
	}
	if k == kindInt && int64(int(n)) != n {
		return 0, fmt.Errorf("%d is out of range", n)
	}
	return n, nil
}

var reInt = regexp.MustCompile(`^-?[0-9]+$`)

// decodeURIParams decodes the URI form's query (and, for a POST, form)
// values.
func decodeURIParams(spec []param, r *http.Request) (params, error) {
	p := params{}
	for _, s := range spec {
		arg := r.URL.Query().Get(s.name)
		if arg == "" {
			arg = r.FormValue(s.name)
		}
		if arg == "" {
			continue
		}
		x, err := decodeURIValue(s.kind, arg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		p[s.name] = x
	}
	return p, nil
}

func decodeURIValue(k kind, arg string) (any, error) {
	quoted := len(arg) >= 2 && arg[0] == '"' && arg[len(arg)-1] == '"'
	isHex := strings.HasPrefix(strings.ToLower(arg), "0x")
	switch k {
	case kindInt64, kindInt:
		if reInt.MatchString(arg) {
			return parseInt(k, arg)
		}
		if isHex {
			return nil, fmt.Errorf("got a hex string arg, but expected '%s'", k)
		}
	case kindHash:
		if isHex {
			return decodeHash(arg[2:])
		}
		if quoted {
			return decodeHash(arg[1 : len(arg)-1])
		}
		return decodeHash(arg)
	case kindString, kindBytes, kindHexBytes:
		if isHex {
			b, err := hex.DecodeString(arg[2:])
			if err != nil {
				return nil, err
			}
			if k == kindString {
				return string(b), nil
			}
			return b, nil
		}
		if quoted && k != kindString {
			var s string
			if err := json.Unmarshal([]byte(arg), &s); err != nil {
				return nil, err
			}
			return []byte(s), nil
		}
	case kindBool:
		if isHex {
			return nil, fmt.Errorf("got a hex string arg, but expected '%s'", k)
		}
	}
	// Otherwise the argument is JSON, as in a JSON-RPC call: a quoted
	// string, a quoted integer, true or false.
	if !json.Valid([]byte(arg)) {
		return nil, fmt.Errorf("invalid %s argument %q (strings are quoted, bytes 0x-prefixed hex)", k, clipString(arg))
	}
	return decodeJSONValue(k, json.RawMessage(arg))
}

// decodeHash reads a 32-byte hash written as 64 hex digits (as
// CometBFT's HexBytes, and its answers, write hashes) or in base64 (as
// cmtjson writes a []byte): the Go client sends tx and block_by_hash
// hashes in base64, header_by_hash in hex, and people paste hex.
func decodeHash(s string) ([]byte, error) {
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("want a 32-byte hash in hex or base64, got %q", clipString(s))
	}
	return b, nil
}

// hashParam returns the hash parameter name.
func hashParam(p params, name string) ([32]byte, error) {
	var h [32]byte
	b, ok := p[name].([]byte)
	if !ok {
		return h, fmt.Errorf("%s is required", name)
	}
	copy(h[:], b)
	return h, nil
}

func clip(b []byte) string { return clipString(string(b)) }

func clipString(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
