package light

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/strategos/strategos/internal/chain"
)

// MaxCertificateBytes bounds a certificate's JSON form. At about 150
// bytes per vote and 550 per header, it fits MaxCertHeaders headers for 23
// validators and the usual four for some 340. Build refuses to make a
// larger one and decoding to read one, so the memory a decoder spends is
// a fixed multiple of this.
const MaxCertificateBytes = 256 << 10

// MaxCertVotes bounds the votes of one QC and the failed leaders of one
// header in the JSON form, as internal/wire bounds signatures; Verify then
// holds them to the validator set's size.
const MaxCertVotes = 10_000

// The JSON form: hashes, roots and signatures as lower-case hex, numbers as
// JSON numbers (uint64 heights and rounds are exact in encoding/json; a
// JavaScript client must read them as big integers past 2^53).
type certJSON struct {
	ChainID string       `json:"chain_id"`
	Headers []headerJSON `json:"headers"`
	QC      *qcJSON      `json:"qc"`
}

type headerJSON struct {
	Height        uint64   `json:"height"`
	Round         uint64   `json:"round"`
	Parent        string   `json:"parent"`
	QC            *qcJSON  `json:"qc"`
	PayloadHash   string   `json:"payload_hash"`
	EvidenceHash  string   `json:"evidence_hash"`
	Proposer      uint32   `json:"proposer"`
	Time          int64    `json:"time"`
	ExecHeight    uint64   `json:"exec_height"`
	StateRoot     string   `json:"state_root"`
	FailedLeaders []uint32 `json:"failed_leaders"`
}

type qcJSON struct {
	Round     uint64     `json:"round"`
	BlockHash string     `json:"block_hash"`
	Votes     []voteJSON `json:"votes"`
}

type voteJSON struct {
	Signer uint32 `json:"signer"`
	Sig    string `json:"sig"`
}

// MarshalJSON encodes c in its JSON form.
func (c Certificate) MarshalJSON() ([]byte, error) {
	j := certJSON{ChainID: c.ChainID, Headers: make([]headerJSON, len(c.Headers)), QC: qcToJSON(c.QC)}
	for i := range c.Headers {
		h := &c.Headers[i]
		j.Headers[i] = headerJSON{
			Height: h.Height, Round: h.Round, Parent: h.Parent.String(), QC: qcToJSON(h.QC),
			PayloadHash: h.PayloadHash.String(), EvidenceHash: h.EvidenceHash.String(),
			Proposer: h.Proposer, Time: h.Time, ExecHeight: h.ExecHeight,
			StateRoot: hex.EncodeToString(h.StateRoot),
			// An empty list rather than null: one form for clients.
			FailedLeaders: append(make([]uint32, 0, len(h.FailedLeaders)), h.FailedLeaders...),
		}
	}
	return json.Marshal(j)
}

func qcToJSON(q *chain.QC) *qcJSON {
	if q == nil {
		return nil
	}
	j := &qcJSON{Round: q.Round, BlockHash: q.BlockHash.String(), Votes: make([]voteJSON, len(q.Votes))}
	for i, v := range q.Votes {
		j.Votes[i] = voteJSON{Signer: v.Signer, Sig: hex.EncodeToString(v.Sig)}
	}
	return j
}

// UnmarshalJSON decodes c from its JSON form. It refuses input longer than
// MaxCertificateBytes, more than MaxCertHeaders headers, more than
// MaxCertVotes votes or failed leaders, and hex fields longer than their
// type allows; it checks nothing else (Verify does). Callers that read from
// a network bound the read first (see DecodeCertificate): by the time
// UnmarshalJSON runs, encoding/json holds the whole input.
func (c *Certificate) UnmarshalJSON(data []byte) error {
	if len(data) > MaxCertificateBytes {
		return fmt.Errorf("light: certificate of %d bytes, at most %d", len(data), MaxCertificateBytes)
	}
	var j certJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("light: certificate: %w", err)
	}
	if len(j.Headers) > MaxCertHeaders {
		return fmt.Errorf("light: certificate with %d headers, at most %d", len(j.Headers), MaxCertHeaders)
	}
	out := Certificate{ChainID: j.ChainID, Headers: make([]chain.Header, len(j.Headers))}
	for i := range j.Headers {
		if err := headerFromJSON(&j.Headers[i], &out.Headers[i]); err != nil {
			return fmt.Errorf("light: certificate header %d: %w", i, err)
		}
	}
	if j.QC != nil {
		q, err := qcFromJSON(j.QC)
		if err != nil {
			return fmt.Errorf("light: certificate QC: %w", err)
		}
		out.QC = q
	}
	*c = out
	return nil
}

// DecodeCertificate reads one certificate's JSON form from r, reading at
// most MaxCertificateBytes (plus one, to tell a longer input).
func DecodeCertificate(r io.Reader) (*Certificate, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCertificateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("light: read certificate: %w", err)
	}
	c := new(Certificate)
	if err := c.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return c, nil
}

func headerFromJSON(j *headerJSON, h *chain.Header) error {
	if len(j.FailedLeaders) > MaxCertVotes {
		return fmt.Errorf("%d failed leaders, at most %d", len(j.FailedLeaders), MaxCertVotes)
	}
	var err error
	h.Height, h.Round, h.Proposer, h.Time, h.ExecHeight = j.Height, j.Round, j.Proposer, j.Time, j.ExecHeight
	if h.Parent, err = parseHash("parent", j.Parent); err != nil {
		return err
	}
	if h.PayloadHash, err = parseHash("payload_hash", j.PayloadHash); err != nil {
		return err
	}
	if h.EvidenceHash, err = parseHash("evidence_hash", j.EvidenceHash); err != nil {
		return err
	}
	if h.StateRoot, err = parseHex("state_root", j.StateRoot, chain.MaxStateRoot); err != nil {
		return err
	}
	if len(j.FailedLeaders) > 0 {
		h.FailedLeaders = j.FailedLeaders
	}
	if j.QC != nil {
		if h.QC, err = qcFromJSON(j.QC); err != nil {
			return fmt.Errorf("qc: %w", err)
		}
	}
	return nil
}

func qcFromJSON(j *qcJSON) (*chain.QC, error) {
	if len(j.Votes) > MaxCertVotes {
		return nil, fmt.Errorf("%d votes, at most %d", len(j.Votes), MaxCertVotes)
	}
	h, err := parseHash("block_hash", j.BlockHash)
	if err != nil {
		return nil, err
	}
	q := &chain.QC{Round: j.Round, BlockHash: h}
	if len(j.Votes) > 0 {
		q.Votes = make([]chain.Signature, len(j.Votes))
	}
	for i, v := range j.Votes {
		sig, err := parseHex("sig", v.Sig, ed25519.SignatureSize)
		if err != nil {
			return nil, fmt.Errorf("vote %d: %w", i, err)
		}
		q.Votes[i] = chain.Signature{Signer: v.Signer, Sig: sig}
	}
	return q, nil
}

func parseHash(field, s string) (chain.Hash, error) {
	var h chain.Hash
	if len(s) != 2*len(h) {
		return h, fmt.Errorf("%s: %d hex digits, want %d", field, len(s), 2*len(h))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%s: %w", field, err)
	}
	return h, nil
}

// parseHex decodes at most max bytes of hex; the empty string is nil, as
// an absent root is.
func parseHex(field, s string, max int) ([]byte, error) {
	if len(s) > 2*max {
		return nil, fmt.Errorf("%s: %d hex digits, at most %d", field, len(s), 2*max)
	}
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return b, nil
}

var errNoCertificate = errors.New("light: response without a certificate")

// Response is the body of GET /v1/commits/{height}. BlockHash and
// StateRoot (lower-case hex) are the node's claim, for reading; only what
// Verify derives from Certificate is to be trusted, and Check compares the
// two.
type Response struct {
	Height      uint64       `json:"height"`
	BlockHash   string       `json:"block_hash"`
	StateRoot   string       `json:"state_root"`
	Certificate *Certificate `json:"certificate"`
}

// NewResponse returns the response that serves cm, the result of verifying
// (or of building and then verifying) c.
func NewResponse(cm Commit, c *Certificate) Response {
	return Response{Height: cm.Height, BlockHash: cm.BlockHash.String(), StateRoot: hex.EncodeToString(cm.StateRoot), Certificate: c}
}

// Check verifies r's certificate for height and that r's claims are what it
// proves.
func (r *Response) Check(chainID string, vals *chain.ValidatorSet, height uint64) (Commit, error) {
	if r.Certificate == nil {
		return Commit{}, errNoCertificate
	}
	cm, err := Verify(chainID, vals, height, r.Certificate)
	if err != nil {
		return Commit{}, err
	}
	if r.Height != cm.Height || r.BlockHash != cm.BlockHash.String() || r.StateRoot != hex.EncodeToString(cm.StateRoot) {
		return Commit{}, fmt.Errorf("%w: the response's height, block hash or state root is not what its certificate proves", ErrInvalid)
	}
	return cm, nil
}

// maxResponseBytes bounds a Response: its certificate and a few fields.
const maxResponseBytes = MaxCertificateBytes + 1<<10

// DecodeResponse reads one Response from r, reading at most a certificate's
// bound and a little more.
func DecodeResponse(r io.Reader) (*Response, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("light: read response: %w", err)
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("light: response of more than %d bytes", maxResponseBytes)
	}
	var resp Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("light: response: %w", err)
	}
	return &resp, nil
}
