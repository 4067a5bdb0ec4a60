package light

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestJSONRoundTrip(t *testing.T) {
	n := healthy(t)
	c := n.build(3)
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"chain_id":"light-test"`, `"headers":[`, `"payload_hash":"`, `"evidence_hash":"`,
		`"exec_height":3`, `"failed_leaders":[]`, `"votes":[{"signer":0,"sig":"`, `"block_hash":"` + n.hashes[5].String() + `"`} {
		if !bytes.Contains(data, []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	if bytes.ContainsAny(data, "ABCDEF") {
		t.Error("hex not lower case")
	}
	got, err := DecodeCertificate(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	cm, err := Verify(testChain, n.vals, 3, got)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Headers {
		if got.Headers[i].Hash(testChain) != c.Headers[i].Hash(testChain) {
			t.Errorf("header %d changed in the round trip", i)
		}
	}

	resp := NewResponse(cm, c)
	body, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeResponse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Check(testChain, n.vals, 3); err != nil {
		t.Fatal(err)
	}
	r.StateRoot = strings.Repeat("00", 32)
	if _, err := r.Check(testChain, n.vals, 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("a response claiming another root: %v", err)
	}
}

func TestJSONBounds(t *testing.T) {
	n := healthy(t)
	good, err := json.Marshal(n.build(3))
	if err != nil {
		t.Fatal(err)
	}
	header := `{"height":1,"round":1,"parent":"` + strings.Repeat("0", 64) + `","qc":null,"payload_hash":"` +
		strings.Repeat("0", 64) + `","evidence_hash":"` + strings.Repeat("0", 64) + `"}`
	tests := map[string]string{
		"oversize":         `{"chain_id":"` + strings.Repeat("x", MaxCertificateBytes) + `"}`,
		"too many headers": `{"headers":[` + strings.Repeat(header+",", MaxCertHeaders) + header + `]}`,
		"too many votes":   `{"qc":{"block_hash":"` + strings.Repeat("0", 64) + `","votes":[` + strings.Repeat(`{},`, MaxCertVotes) + `{}]}}`,
		"long hash":        strings.Replace(string(good), `"parent":"`, `"parent":"00`, 1),
		"long root":        strings.Replace(string(good), `"state_root":"`, `"state_root":"`+strings.Repeat("00", 65), 1),
		"long signature":   strings.Replace(string(good), `"sig":"`, `"sig":"00`, 1),
		"bad hex":          strings.Replace(string(good), `"sig":"`, `"sig":"zz`, 1),
		"not an object":    `[1,2,3]`,
	}
	for name, in := range tests {
		if _, err := DecodeCertificate(strings.NewReader(in)); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzCertificateJSON decodes arbitrary bytes and verifies what decodes:
// neither may panic, and decoding reads at most MaxCertificateBytes.
func FuzzCertificateJSON(f *testing.F) {
	n := newNet(f, testChain)
	n.grow(lagTwo, consecutive(1, 10)...)
	for _, h := range []uint64{1, 3, 7} {
		c, err := Build(n, testChain, h)
		if err != nil {
			f.Fatal(err)
		}
		data, err := json.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, h)
		f.Add(data[:len(data)/2], h)
	}
	f.Add([]byte(`{"headers":[{},{},{}],"qc":{}}`), uint64(1))
	f.Add([]byte(`{"chain_id":"light-test","headers":[{"qc":{"votes":[{"signer":4294967295}]}}]}`), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, height uint64) {
		c, err := DecodeCertificate(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(data) > MaxCertificateBytes {
			t.Fatalf("decoded %d bytes", len(data))
		}
		cm, err := Verify(testChain, n.vals, height, c)
		if err == nil && (cm.Height != height || cm.BlockHash != n.hashes[height-1]) {
			t.Fatalf("verified a commit the chain does not hold: %+v", cm)
		}
		// Whatever decodes encodes again and decodes to the same headers
		// (unless the canonical form is longer than the bound: "{}" is a
		// vote of 2 bytes that encodes in 22).
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) > MaxCertificateBytes {
			return
		}
		c2, err := DecodeCertificate(bytes.NewReader(again))
		if err != nil || len(c2.Headers) != len(c.Headers) {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		for i := range c.Headers {
			if c.Headers[i].Hash(testChain) != c2.Headers[i].Hash(testChain) {
				t.Fatalf("header %d changed on re-encoding", i)
			}
		}
	})
}
