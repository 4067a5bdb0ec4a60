package bank

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/chain"
)

func TestSignDecodeVerify(t *testing.T) {
	key, to := testKey(0), addrOf(testKey(1))
	b, err := Sign(key, testChain, to, 1234, 7)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsAny(b, "\n\r \t") {
		t.Fatalf("body is not one compact line: %q", b)
	}
	tx, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	pub := key.Public().(ed25519.PublicKey)
	if tx.ChainID != testChain || !pub.Equal(tx.PubKey) || tx.To != to || tx.Amount != 1234 || tx.Nonce != 7 {
		t.Fatalf("decoded %+v", tx)
	}
	if tx.From() != chain.AddressOf(pub) || tx.Hash != chain.TxHash(b) {
		t.Fatal("wrong sender address or hash")
	}
	if err := tx.Verify(testChain); err != nil {
		t.Fatal(err)
	}
	if err := tx.Verify("other-chain"); !errors.Is(err, ErrWrongChain) {
		t.Fatalf("verify on another chain: %v", err)
	}
}

// TestGolden freezes the signed encoding and the body format: a change to
// either breaks every signed transaction in the wild, so it must be a
// deliberate, versioned one.
func TestGolden(t *testing.T) {
	key := testKey(0)
	pub := key.Public().(ed25519.PublicKey)
	sb := SignBytes("c", pub, addrOf(testKey(1)), 5, 0)
	if sb[0] != signVersion || !bytes.Contains(sb, []byte(domainTransfer)) || len(sb) != 1+8+len(domainTransfer)+8+1+32+20+16 {
		t.Fatalf("sign bytes layout: %x", sb)
	}
	const wantSignBytes = "010000000000000017737472617465676f732f62616e6b2f7472616e736665720000000000000001639c821e48e92f85fd4e8e8980b3e1e68d75e7df525392267fdd3de58fe7e75af8cf92535602b943d183bd259092a73a854282461a00000000000000050000000000000000"
	if got := hex.EncodeToString(sb); got != wantSignBytes {
		t.Errorf("sign bytes\n got %s\nwant %s", got, wantSignBytes)
	}
	b, err := Sign(key, "c", addrOf(testKey(1)), 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	const wantBody = `{"chain_id":"c","from":"9c821e48e92f85fd4e8e8980b3e1e68d75e7df525392267fdd3de58fe7e75af8","to":"cf92535602b943d183bd259092a73a854282461a","amount":5,"nonce":0,"sig":"2613524c89d6d9aba1e547b890cacc6fbb6ea8a69226931228a6119de97477afb85461cc2913b2a64c6ce5629fb62dc4093674a5e1f38a55ff7bf511e4fcdb05"}`
	if string(b) != wantBody {
		t.Errorf("body\n got %s\nwant %s", b, wantBody)
	}
}

// reencode decodes b into its JSON form, lets edit change it, and encodes
// it again canonically (so Decode accepts it).
func reencode(t *testing.T, b []byte, edit func(*body)) []byte {
	t.Helper()
	var w body
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	edit(&w)
	out, err := encode(w)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTamperedSignatureFails(t *testing.T) {
	b, err := Sign(testKey(0), testChain, addrOf(testKey(1)), 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	other := hex.EncodeToString(testKey(2).Public().(ed25519.PublicKey))
	cases := map[string]func(*body){
		"amount":   func(w *body) { w.Amount++ },
		"nonce":    func(w *body) { w.Nonce++ },
		"to":       func(w *body) { w.To = addrOf(testKey(3)).String() },
		"from":     func(w *body) { w.From = other },
		"chain id": func(w *body) { w.ChainID = "other-chain" },
		"sig": func(w *body) {
			s := []byte(w.Sig)
			s[10] = "01"[boolInt(s[10] == '0')]
			w.Sig = string(s)
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			tx, err := Decode(reencode(t, b, edit))
			if err != nil {
				t.Fatal(err)
			}
			if err := tx.Verify(tx.ChainID); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered %s: verify = %v, want bad signature", name, err)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDecodeRejects(t *testing.T) {
	good, err := Sign(testKey(0), testChain, addrOf(testKey(1)), 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	self, err := Sign(testKey(0), testChain, addrOf(testKey(1)), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	selfBody := reencode(t, self, func(w *body) { w.To = addrOf(testKey(0)).String() })
	cases := map[string]string{
		"empty":                "",
		"not json":             "hello",
		"truncated":            s[:len(s)-5],
		"null":                 "null",
		"array":                "[" + s + "]",
		"trailing garbage":     s + "x",
		"second object":        s + s,
		"trailing newline":     s + "\n",
		"leading space":        " " + s,
		"pretty":               strings.ReplaceAll(s, ",", ", "),
		"unknown field":        strings.Replace(s, `{`, `{"memo":"x",`, 1),
		"unknown field at end": s[:len(s)-1] + `,"fee":1}`,
		"duplicate key":        strings.Replace(s, `"nonce":3`, `"nonce":3,"nonce":3`, 1),
		"key order":            string(reencodeRaw(t, good)),
		"uppercase hex":        strings.Replace(s, `"to":"`+addrOf(testKey(1)).String(), `"to":"`+strings.ToUpper(addrOf(testKey(1)).String()), 1),
		"capitalised key":      strings.Replace(s, `"amount"`, `"Amount"`, 1),
		"missing nonce":        strings.Replace(s, `,"nonce":3`, ``, 1),
		"amount string":        strings.Replace(s, `"amount":100`, `"amount":"100"`, 1),
		"negative amount":      strings.Replace(s, `"amount":100`, `"amount":-100`, 1),
		"float amount":         strings.Replace(s, `"amount":100`, `"amount":1e2`, 1),
		"amount overflow":      strings.Replace(s, `"amount":100`, `"amount":18446744073709551616`, 1),
		"zero amount":          string(reencode(t, good, func(w *body) { w.Amount = 0 })),
		"empty chain id":       string(reencode(t, good, func(w *body) { w.ChainID = "" })),
		"long chain id":        string(reencode(t, good, func(w *body) { w.ChainID = strings.Repeat("c", MaxChainID+1) })),
		"bad hex from":         string(reencode(t, good, func(w *body) { w.From = "zz" + w.From[2:] })),
		"short from":           string(reencode(t, good, func(w *body) { w.From = w.From[2:] })),
		"short to":             string(reencode(t, good, func(w *body) { w.To = w.To[2:] })),
		"long to":              string(reencode(t, good, func(w *body) { w.To += "00" })),
		"odd sig":              string(reencode(t, good, func(w *body) { w.Sig = w.Sig[1:] })),
		"short sig":            string(reencode(t, good, func(w *body) { w.Sig = w.Sig[2:] })),
		"to self":              string(selfBody),
		"oversized":            strings.Replace(s, `{`, `{"pad":"`+strings.Repeat("x", MaxTx)+`",`, 1),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Decode(%.80q) = %v, want ErrMalformed", in, err)
			}
			if !strings.HasPrefix(err.Error(), "bank: ") {
				t.Fatalf("error %q lacks its origin", err)
			}
		})
	}
}

// reencodeRaw swaps two keys, keeping the content.
func reencodeRaw(t *testing.T, b []byte) []byte {
	var w body
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(struct {
		From    string `json:"from"`
		ChainID string `json:"chain_id"`
		To      string `json:"to"`
		Amount  uint64 `json:"amount"`
		Nonce   uint64 `json:"nonce"`
		Sig     string `json:"sig"`
	}{w.From, w.ChainID, w.To, w.Amount, w.Nonce, w.Sig})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignRejects(t *testing.T) {
	key, to := testKey(0), addrOf(testKey(1))
	if _, err := Sign(key, testChain, to, 0, 0); err == nil {
		t.Error("zero amount signed")
	}
	if _, err := Sign(key, testChain, addrOf(key), 1, 0); err == nil {
		t.Error("transfer to self signed")
	}
	if _, err := Sign(key, "", to, 1, 0); err == nil {
		t.Error("empty chain id signed")
	}
	if _, err := Sign(key[:10], testChain, to, 1, 0); err == nil {
		t.Error("short key signed")
	}
	// The largest body, with the longest chain id and 20-digit numbers,
	// fits the limit.
	b, err := Sign(key, strings.Repeat("c", MaxChainID), to, ^uint64(0), ^uint64(0))
	if err != nil || len(b) > MaxTx {
		t.Fatalf("largest transfer: %d bytes, %v", len(b), err)
	}
}

func TestParseAddress(t *testing.T) {
	a := addrOf(testKey(0))
	if got, err := ParseAddress(a.String()); err != nil || got != a {
		t.Fatalf("ParseAddress(%s) = %s, %v", a, got, err)
	}
	if got, err := ParseAddress(strings.ToUpper(a.String())); err != nil || got != a {
		t.Fatalf("upper case: %s, %v", got, err)
	}
	for _, bad := range []string{"", "00", a.String() + "00", "zz" + a.String()[2:], strings.Repeat("x", 1000)} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%.50q) accepted", bad)
		}
	}
}

// FuzzDecode checks that Decode never panics and accepts only canonical
// bodies.
func FuzzDecode(f *testing.F) {
	b, _ := Sign(testKey(0), testChain, addrOf(testKey(1)), 9, 1)
	f.Add(b)
	f.Add([]byte(`{"chain_id":"c"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		tx, err := Decode(in)
		if err != nil {
			return
		}
		canon, err := tx.canonical()
		if err != nil || !bytes.Equal(canon, in) {
			t.Fatalf("accepted a non-canonical body %q", in)
		}
		if tx.Hash != sha256.Sum256(in) {
			t.Fatal("hash is not of the body")
		}
	})
}

func TestDecodeErrorsAreSpecific(t *testing.T) {
	good, err := Sign(testKey(0), testChain, addrOf(testKey(1)), 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := string(good)
	for in, want := range map[string]string{
		s + "x":  "trailing data",
		s + "\n": "canonical form",
		strings.Replace(s, `{`, `{"memo":"x",`, 1):          `unknown field "memo"`,
		strings.Replace(s, `"amount":100`, `"amount":0`, 1): "amount must be positive",
		"[1]": "not a valid transfer",
	} {
		if _, err := Decode([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Decode(%.60q) = %v, want it to mention %q", in, err, want)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	body, err := Sign(testKey(0), testChain, addrOf(testKey(1)), 100, 3)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecodeFast checks that the fast path accepts a body only if the
// strict path accepts it too, with the same transfer, and that every
// body Sign makes takes the fast path.
func FuzzDecodeFast(f *testing.F) {
	for i := range 4 {
		b, _ := Sign(testKey(i), fmt.Sprintf("chain-%d <&>", i), addrOf(testKey(i+1)), uint64(1+i*1000), uint64(i*7))
		f.Add(b)
	}
	b, _ := Sign(testKey(0), testChain, addrOf(testKey(1)), 1<<64-1, 0)
	f.Add(b)
	f.Add([]byte(`{"chain_id":"c","from":"00","to":"11","amount":01,"nonce":1,"sig":"22"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		fast, ok := decodeFast(in)
		fast.Hash = chain.TxHash(in)
		strict, err := decodeStrict(in)
		if ok && (err != nil || !reflect.DeepEqual(fast, strict)) {
			t.Fatalf("fast path accepted %q: strict says %v\nfast   %+v\nstrict %+v", in, err, fast, strict)
		}
		if err == nil && plainASCII(strict.ChainID) && !ok {
			t.Fatalf("a canonical body %q missed the fast path", in)
		}
	})
}

func TestSignedBodiesTakeTheFastPath(t *testing.T) {
	for i := range 50 {
		b, err := Sign(testKey(i), testChain, addrOf(testKey(i+1)), uint64(i+1)*12345, uint64(i)*1000003)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeFast(b); !ok {
			t.Fatalf("fast path refused %s", b)
		}
		d, err := Decode(b)
		dh, errh := DecodeHashed(b, chain.TxHash(b))
		if err != nil || errh != nil || !reflect.DeepEqual(d, dh) || d.Hash != sha256.Sum256(b) {
			t.Fatalf("Decode and DecodeHashed disagree: %+v %v / %+v %v", d, err, dh, errh)
		}
	}
}

func plainASCII(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e || strings.IndexByte(`"\\<>&`, c) >= 0 {
			return false
		}
	}
	return true
}
