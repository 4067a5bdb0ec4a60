package bank

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/strategos/strategos/internal/chain"
)

// MaxTx is the largest transaction body the application accepts.
const MaxTx = 1 << 10

// MaxChainID bounds the chain id carried by a transfer.
const MaxChainID = 128

// signVersion is the first byte of SignBytes; bump it whenever the signed
// encoding changes, so old and new encodings never collide.
const signVersion = 1

// domainTransfer separates transfer signatures from every other signed
// message of the system (blocks, votes, ... use "strategos/<kind>").
const domainTransfer = "strategos/bank/transfer"

// Errors that callers test with errors.Is. The error values returned carry
// a more specific message and wrap one of these.
var (
	ErrMalformed         = errors.New("bank: malformed transaction")
	ErrWrongChain        = errors.New("bank: wrong chain id")
	ErrBadSignature      = errors.New("bank: bad signature")
	ErrUnknownAccount    = errors.New("bank: unknown account")
	ErrInsufficientFunds = errors.New("bank: insufficient funds")
	ErrNonceUsed         = errors.New("bank: nonce already used")
	ErrNonceGap          = errors.New("bank: nonce ahead of the next one")
)

// txError is an error with its own message that wraps a sentinel.
type txError struct {
	kind error
	msg  string
}

func (e *txError) Error() string { return e.msg }
func (e *txError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &txError{kind: kind, msg: "bank: " + fmt.Sprintf(format, args...)}
}

// Tx is a decoded transfer. Values come from Decode; Hash is the hash of
// the body it was decoded from.
type Tx struct {
	ChainID string
	PubKey  ed25519.PublicKey // the sender's public key
	To      chain.Address
	Amount  uint64
	Nonce   uint64
	Sig     []byte
	Hash    chain.Hash
}

// body is the JSON form; its field order is the canonical key order.
type body struct {
	ChainID string `json:"chain_id"`
	From    string `json:"from"`
	To      string `json:"to"`
	Amount  uint64 `json:"amount"`
	Nonce   uint64 `json:"nonce"`
	Sig     string `json:"sig"`
}

// From returns the sender's address.
func (t Tx) From() chain.Address { return chain.AddressOf(t.PubKey) }

// SignBytes returns the bytes a transfer's signature covers: a version
// byte, then length-prefixed domain tag and chain id, the 32-byte sender
// key, the 20-byte recipient, and big-endian amount and nonce.
func SignBytes(chainID string, from ed25519.PublicKey, to chain.Address, amount, nonce uint64) []byte {
	b := make([]byte, 0, 1+8+len(domainTransfer)+8+len(chainID)+len(from)+len(to)+16)
	b = append(b, signVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(len(domainTransfer)))
	b = append(b, domainTransfer...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(chainID)))
	b = append(b, chainID...)
	b = append(b, from...)
	b = append(b, to[:]...)
	b = binary.BigEndian.AppendUint64(b, amount)
	return binary.BigEndian.AppendUint64(b, nonce)
}

// SignBytes returns the bytes t's signature covers.
func (t Tx) SignBytes() []byte {
	return SignBytes(t.ChainID, t.PubKey, t.To, t.Amount, t.Nonce)
}

// Sign returns the body of a transfer of amount to to, from the account
// of key, with the given nonce, signed for chainID. The body is one line
// of JSON without a trailing newline.
func Sign(key ed25519.PrivateKey, chainID string, to chain.Address, amount, nonce uint64) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("bank: sign: invalid private key")
	}
	if err := checkChainID(chainID); err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	if amount == 0 {
		return nil, errorf(ErrMalformed, "amount must be positive")
	}
	if to == chain.AddressOf(pub) {
		return nil, errorf(ErrMalformed, "transfer to the sender's own address")
	}
	t := Tx{ChainID: chainID, PubKey: pub, To: to, Amount: amount, Nonce: nonce}
	t.Sig = ed25519.Sign(key, t.SignBytes())
	b, err := t.canonical()
	if err != nil {
		return nil, err
	}
	if len(b) > MaxTx {
		return nil, errorf(ErrMalformed, "transaction of %d bytes exceeds %d", len(b), MaxTx)
	}
	return b, nil
}

// canonical returns the one body of t: JSON with the keys in order, no
// whitespace, lowercase hex.
func (t Tx) canonical() ([]byte, error) {
	return encode(body{
		ChainID: t.ChainID,
		From:    hex.EncodeToString(t.PubKey),
		To:      t.To.String(),
		Amount:  t.Amount,
		Nonce:   t.Nonce,
		Sig:     hex.EncodeToString(t.Sig),
	})
}

func encode(b body) ([]byte, error) {
	out, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bank: encode: %w", err)
	}
	return out, nil
}

// Decode parses a transfer body strictly: at most MaxTx bytes, exactly the
// known fields, nothing after the object, well-formed hex of the right
// lengths, a positive amount, a recipient other than the sender, and the
// canonical form that Sign produces. It does not verify the signature.
func Decode(b []byte) (Tx, error) { return decode(b, nil) }

// DecodeHashed is Decode for a body whose hash (chain.TxHash(b)) the
// caller computed already: admission hashes every transaction first.
func DecodeHashed(b []byte, h chain.Hash) (Tx, error) { return decode(b, &h) }

func decode(b []byte, h *chain.Hash) (Tx, error) {
	if len(b) > MaxTx {
		return Tx{}, errorf(ErrMalformed, "transaction of %d bytes exceeds %d", len(b), MaxTx)
	}
	if len(b) == 0 {
		return Tx{}, errorf(ErrMalformed, "empty transaction")
	}
	if t, ok := decodeFast(b); ok {
		if h != nil {
			t.Hash = *h
		} else {
			t.Hash = chain.TxHash(b)
		}
		return t, nil
	}
	return decodeStrict(b)
}

// decodeStrict is Decode through encoding/json: slower, and able to say
// what is wrong with a body.
func decodeStrict(b []byte) (Tx, error) {
	var w body
	if err := json.Unmarshal(b, &w); err != nil {
		return Tx{}, diagnose(b, err)
	}
	if err := checkChainID(w.ChainID); err != nil {
		return Tx{}, err
	}
	pub, err := decodeHex("from", w.From, ed25519.PublicKeySize)
	if err != nil {
		return Tx{}, err
	}
	to, err := decodeHex("to", w.To, len(chain.Address{}))
	if err != nil {
		return Tx{}, err
	}
	sig, err := decodeHex("sig", w.Sig, ed25519.SignatureSize)
	if err != nil {
		return Tx{}, err
	}
	t := Tx{ChainID: w.ChainID, PubKey: pub, Amount: w.Amount, Nonce: w.Nonce, Sig: sig, Hash: chain.TxHash(b)}
	copy(t.To[:], to)
	if t.Amount == 0 {
		return Tx{}, errorf(ErrMalformed, "amount must be positive")
	}
	if t.To == t.From() {
		return Tx{}, errorf(ErrMalformed, "transfer to the sender's own address")
	}
	// Re-encode from the decoded values, so that anything a second
	// spelling could vary (hex case, spacing, key order or case,
	// duplicates, escapes) makes the bodies differ.
	canon, err := t.canonical()
	if err != nil {
		return Tx{}, err
	}
	if !bytes.Equal(canon, b) {
		if err := diagnose(b, nil); err != nil {
			return Tx{}, err
		}
		return Tx{}, errorf(ErrMalformed, "transaction is not in canonical form (one line, keys in order, lowercase hex, no whitespace), as `strategos tx sign` prints it")
	}
	return t, nil
}

// diagnose explains why b is not a transfer body, for the slow path of
// Decode: a strict decoder names an unknown field or trailing data. It
// returns err (as ErrMalformed) when it finds nothing more specific, and
// nil if err is nil too.
func diagnose(b []byte, err error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w body
	if derr := dec.Decode(&w); derr != nil {
		return errorf(ErrMalformed, "transaction is not a valid transfer: %v", derr)
	}
	if _, terr := dec.Token(); terr != io.EOF {
		return errorf(ErrMalformed, "trailing data after the transaction")
	}
	if err != nil {
		return errorf(ErrMalformed, "transaction is not a valid transfer: %v", err)
	}
	return nil
}

// Verify checks that t was signed for chainID by the holder of its key.
func (t Tx) Verify(chainID string) error {
	if t.ChainID != chainID {
		return errorf(ErrWrongChain, "transaction is for chain %q, this is %q", t.ChainID, chainID)
	}
	if !verifySig(t.PubKey, t.SignBytes(), t.Sig) {
		return errorf(ErrBadSignature, "bad signature")
	}
	return nil
}

// ParseAddress parses an address: 40 hex digits.
func ParseAddress(s string) (chain.Address, error) {
	var a chain.Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(a) {
		return a, fmt.Errorf("bank: address %q must be %d hex digits", truncate(s), 2*len(a))
	}
	copy(a[:], b)
	return a, nil
}

func checkChainID(id string) error {
	if id == "" || len(id) > MaxChainID || !utf8.ValidString(id) {
		return errorf(ErrMalformed, "chain id must be 1 to %d bytes of UTF-8", MaxChainID)
	}
	return nil
}

func decodeHex(field, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, errorf(ErrMalformed, "%s is not hex", field)
	}
	if len(b) != n {
		return nil, errorf(ErrMalformed, "%s must be %d bytes (%d hex digits), got %d", field, n, 2*n, len(b))
	}
	return b, nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
