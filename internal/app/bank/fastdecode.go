package bank

import (
	"bytes"
	"crypto/ed25519"
)

// decodeFast parses b when it is, byte for byte, the canonical body of a
// valid transfer, which is what every client that signs with Sign sends:
//
//	{"chain_id":"C","from":"<64 hex>","to":"<40 hex>","amount":N,"nonce":N,"sig":"<128 hex>"}
//
// It reports false for anything else, and Decode then takes the strict
// path, which explains what is wrong. Accepting only bytes that the
// canonical encoder would write (a chain id that needs no escaping,
// lowercase hex, numbers without leading zeros) makes the two paths agree
// exactly; FuzzDecodeFast checks that. It exists because every validator
// decodes every transfer several times (admission, verification,
// execution), and encoding/json was a quarter of a node's time.
func decodeFast(b []byte) (Tx, bool) {
	var t Tx
	p := parser{b: b}
	if !p.lit(`{"chain_id":"`) {
		return t, false
	}
	id, ok := p.chainID()
	pub := make([]byte, ed25519.PublicKeySize+ed25519.SignatureSize)
	ok = ok && p.lit(`","from":"`) && p.hex(pub[:ed25519.PublicKeySize]) &&
		p.lit(`","to":"`) && p.hex(t.To[:]) &&
		p.lit(`","amount":`) && p.uint(&t.Amount) &&
		p.lit(`,"nonce":`) && p.uint(&t.Nonce) &&
		p.lit(`,"sig":"`) && p.hex(pub[ed25519.PublicKeySize:]) &&
		p.lit(`"}`) && len(p.b) == 0
	if !ok {
		return Tx{}, false
	}
	t.ChainID = id
	t.PubKey = pub[:ed25519.PublicKeySize:ed25519.PublicKeySize]
	t.Sig = pub[ed25519.PublicKeySize:]
	if t.Amount == 0 || t.To == t.From() {
		return Tx{}, false // invalid: the strict path says why
	}
	return t, true // Hash is left to the caller, which may have it
}

// parser consumes a canonical body from the front.
type parser struct{ b []byte }

func (p *parser) lit(s string) bool {
	if len(p.b) < len(s) || string(p.b[:len(s)]) != s {
		return false
	}
	p.b = p.b[len(s):]
	return true
}

// chainID takes a chain id up to the closing quote: printable ASCII that
// JSON encoding leaves as it is (no quote, backslash or HTML character).
func (p *parser) chainID() (string, bool) {
	i := bytes.IndexByte(p.b, '"')
	if i < 1 || i > MaxChainID {
		return "", false
	}
	for _, c := range p.b[:i] {
		if c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&' {
			return "", false
		}
	}
	id := string(p.b[:i])
	p.b = p.b[i:]
	return id, true
}

// hex fills dst from lowercase hex digits.
func (p *parser) hex(dst []byte) bool {
	if len(p.b) < 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := nibble(p.b[2*i])
		lo, ok2 := nibble(p.b[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	p.b = p.b[2*len(dst):]
	return true
}

func nibble(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// uint takes a decimal number as JSON encodes a uint64: no sign, no
// leading zero, no overflow.
func (p *parser) uint(v *uint64) bool {
	n := 0
	var x uint64
	for n < len(p.b) && '0' <= p.b[n] && p.b[n] <= '9' {
		d := uint64(p.b[n] - '0')
		if x > (1<<64-1-d)/10 {
			return false
		}
		x = x*10 + d
		n++
	}
	if n == 0 || (n > 1 && p.b[0] == '0') {
		return false
	}
	*v = x
	p.b = p.b[n:]
	return true
}
