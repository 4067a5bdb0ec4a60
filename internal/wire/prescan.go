package wire

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/strategos/strategos/internal/chain"
)

// Limits bound what one envelope from a peer may hold. They are checked by
// a scan of the raw bytes before protobuf allocates anything, so a frame
// that describes a million empty entries costs its sender the bytes and
// the receiver one pass over them, not a million allocations.
type Limits struct {
	Validators  int // signatures in one QC or TC
	BlockTxs    int // transactions in one block's payload
	BatchTxs    int // transactions in one gossiped batch
	TxBytes     int // bytes of one transaction
	Blocks      int // blocks in one block or sync response
	VoteBytes   int // largest encoded vote envelope
	SmallBytes  int // largest block or sync request envelope
	CertBytes   int // largest timeout or evidence envelope: certificates for Validators signers
	FrameBytes  int // largest envelope of any kind (the transport's frame)
	maxMessages int // nested messages in one envelope, derived
}

// Sizes the limits are derived from: generous bounds on what an honest
// encoder produces, so that only an attacker's frame is refused.
const (
	voteEnvelopeBytes  = 1 << 10 // a vote is ~120 bytes
	smallEnvelopeBytes = 256     // a request is under 50
	sigEntryBytes      = 128     // one signer index and 64-byte signature, with tags
	certFixedBytes     = 4 << 10 // everything in a timeout or evidence but signatures
)

// NewLimits derives the limits for a network of n validators whose blocks
// hold at most blockTxs transactions, whose gossip batches hold at most
// batchTxs, and whose frames are at most frameBytes.
func NewLimits(n, blockTxs, batchTxs, frameBytes int) Limits {
	// A timeout carries a QC and a TC (itself a QC plus n timeout
	// signatures); double-proposal evidence two headers with their QCs.
	cert := certFixedBytes + 4*n*sigEntryBytes
	return Limits{
		Validators: n, BlockTxs: blockTxs, BatchTxs: batchTxs, TxBytes: frameBytes,
		Blocks: MaxBlocks, VoteBytes: voteEnvelopeBytes, SmallBytes: smallEnvelopeBytes,
		CertBytes: min(cert, frameBytes), FrameBytes: frameBytes,
	}
}

// DefaultLimits are the widest the wire format allows; the node narrows
// them to its network with NewLimits.
var DefaultLimits = NewLimits(MaxSignatures, MaxTxs, MaxTxs, 64<<20)

// limitError is a frame refused by the pre-scan for breaking a Limit.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

func overLimit(format string, args ...any) error {
	return &limitError{fmt.Sprintf(format, args...)}
}

// field describes one field of a message for the scan: a nested message
// (msg set), or bytes of at most maxLen; max is how often it may occur.
type field struct {
	num    protowire.Number
	name   string
	msg    *schema
	maxLen func(*Limits) int
	max    func(*Limits) int
}

type schema struct {
	name   string
	fields map[protowire.Number]field
}

func once(*Limits) int      { return 1 }
func never(*Limits) int     { return 0 }
func signers(l *Limits) int { return l.Validators }

// The schemas mirror proto/strategos/wire/v1/wire.proto for the fields
// through which a frame can make the decoder allocate in proportion to a
// count: repeated fields and the messages that hold them. Other fields
// are skipped; a field that occurs once costs at most its own bytes, and
// its exact shape is checked after decoding.
var (
	qcSchema      = msg("qc", fm(3, "signatures", msg("signature"), signers))
	tcSchema      = msg("tc", fm(2, "high qc", qcSchema, once), fm(3, "signatures", msg("timeout signature"), signers))
	voteSchema    = msg("vote")
	timeoutSchema = msg("timeout", fm(2, "high qc", qcSchema, once), fm(3, "last tc", tcSchema, once))
	// failedLeaders is packed (one run of varints) or, as proto3 also
	// allows, one varint per entry: either way at most
	// chain.MaxFailedLeaders entries.
	failedLeaders = field{num: 10, name: "failed leaders",
		maxLen: func(l *Limits) int { return 10 * chain.MaxFailedLeaders(l.Validators) },
		max:    func(l *Limits) int { return chain.MaxFailedLeaders(l.Validators) }}
	headerSchema       = msg("header", fm(4, "qc", qcSchema, once), failedLeaders)
	signedHeaderSchema = msg("signed header", fm(1, "header", headerSchema, once))
	// blockEvidence is a proof in a block: the compact form only, so the
	// legacy whole proposals (which would nest blocks) are refused at once.
	blockEvidence = msg("evidence",
		fm(5, "proposal a", msg("proposal"), never), fm(6, "proposal b", msg("proposal"), never),
		fm(7, "vote a", voteSchema, once), fm(8, "vote b", voteSchema, once),
		fm(9, "header a", signedHeaderSchema, once), fm(10, "header b", signedHeaderSchema, once))
	blockSchema = msg("block", fm(4, "qc", qcSchema, once),
		field{num: 5, name: "transactions", maxLen: func(l *Limits) int { return l.TxBytes }, max: func(l *Limits) int { return l.BlockTxs }},
		failedLeaders,
		fm(11, "proofs of misbehaviour", blockEvidence, func(*Limits) int { return chain.MaxBlockEvidence }))
	proposalSchema = msg("proposal", fm(1, "block", blockSchema, once), fm(2, "tc", tcSchema, once))
	blocksField    = fm(1, "blocks", blockSchema, func(l *Limits) int { return l.Blocks })
	evidenceSchema = msg("evidence",
		fm(5, "proposal a", proposalSchema, once), fm(6, "proposal b", proposalSchema, once),
		fm(7, "vote a", voteSchema, once), fm(8, "vote b", voteSchema, once),
		fm(9, "header a", signedHeaderSchema, once), fm(10, "header b", signedHeaderSchema, once))
)

// maxSchemaField bounds the field numbers a schema may list: scanMessage
// counts them in an array of this size.
const maxSchemaField = 32

func msg(name string, fs ...field) *schema {
	s := &schema{name: name, fields: make(map[protowire.Number]field, len(fs))}
	for _, f := range fs {
		if f.num <= 0 || f.num >= maxSchemaField {
			// A schema is a program constant, checked at init: never input.
			panic(fmt.Sprintf("wire: schema %s lists field %d, outside 1..%d", name, f.num, maxSchemaField-1))
		}
		s.fields[f.num] = f
	}
	return s
}

// fm is a nested message field that may occur max times.
func fm(num protowire.Number, name string, s *schema, max func(*Limits) int) field {
	return field{num: num, name: name, msg: s, max: max}
}

// envelopeKind is the schema of each envelope payload and the largest
// envelope of that kind.
type envelopeKind struct {
	schema *schema
	bytes  func(*Limits) int
}

var envelopeKinds = map[protowire.Number]envelopeKind{
	1: {proposalSchema, func(l *Limits) int { return l.FrameBytes }},
	2: {voteSchema, func(l *Limits) int { return l.VoteBytes }},
	3: {timeoutSchema, func(l *Limits) int { return l.CertBytes }},
	4: {msg("block request"), func(l *Limits) int { return l.SmallBytes }},
	5: {msg("block response", blocksField), func(l *Limits) int { return l.FrameBytes }},
	6: {msg("sync request"), func(l *Limits) int { return l.SmallBytes }},
	7: {msg("sync response", blocksField, fm(2, "qc", qcSchema, once)), func(l *Limits) int { return l.FrameBytes }},
	8: {qcSchema, func(l *Limits) int { return l.CertBytes }},
	10: {msg("tx batch", field{num: 1, name: "transactions", maxLen: func(l *Limits) int { return l.TxBytes },
		max: func(l *Limits) int { return l.BatchTxs }}), func(l *Limits) int { return l.FrameBytes }},
	11: {evidenceSchema, func(l *Limits) int { return l.CertBytes }},
	12: {msg("snapshot request"), func(l *Limits) int { return l.SmallBytes }},
	13: {msg("snapshot response",
		field{num: 2, name: "snapshot metas", maxLen: func(*Limits) int { return MaxSnapshotMetaBytes }, max: func(*Limits) int { return MaxSnapshotOffers }},
		fm(3, "high qc", qcSchema, once), fm(4, "high tc", tcSchema, once),
		field{num: 7, name: "data", maxLen: func(*Limits) int { return MaxSnapshotData }, max: once},
		fm(8, "block", blockSchema, once)), func(l *Limits) int { return l.FrameBytes }},
}

// prescan checks an envelope's size for its kind and every count and
// length inside it against l, without allocating in proportion to the
// input. It returns the payload's field number.
func prescan(b []byte, l *Limits) (protowire.Number, error) {
	num, err := onlyField(b)
	if err != nil {
		return 0, err
	}
	k, ok := envelopeKinds[num]
	if !ok {
		return num, nil // Decode reports it as unknown
	}
	if max := k.bytes(l); len(b) > max {
		return num, fmt.Errorf("%s: %w", k.schema.name, overLimit("envelope of %d bytes, want at most %d", len(b), max))
	}
	_, typ, tagLen := protowire.ConsumeTag(b)
	v, n := protowire.ConsumeBytes(b[tagLen:])
	if typ != protowire.BytesType || n < 0 {
		return num, nil // not a message: protobuf reports it
	}
	if err := scanMessage(v, k.schema, l); err != nil {
		return num, fmt.Errorf("%s: %w", k.schema.name, err)
	}
	return num, nil
}

// scanMessage walks one encoded message of schema s. It refuses a field at
// its first occurrence past the limit: a 4 MiB frame of empty entries is
// then refused after limit+1 of them, not after walking (and, for nested
// messages, descending into) all two million.
func scanMessage(b []byte, s *schema, l *Limits) error {
	var counts [maxSchemaField]int
	for len(b) > 0 {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return protowire.ParseError(tagLen)
		}
		n := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if n < 0 {
			return protowire.ParseError(n)
		}
		f, known := s.fields[num]
		v := b[tagLen : tagLen+n]
		b = b[tagLen+n:]
		if !known || (typ != protowire.BytesType && typ != protowire.VarintType) {
			continue
		}
		counts[num]++
		if max := f.max(l); counts[num] > max {
			return overLimit("more than %d %s", max, f.name)
		}
		if typ == protowire.VarintType {
			continue // one unpacked entry of a repeated scalar
		}
		v, _ = protowire.ConsumeBytes(v)
		if f.msg != nil {
			if err := scanMessage(v, f.msg, l); err != nil {
				return fmt.Errorf("%s: %w", f.name, err)
			}
		} else if max := f.maxLen(l); len(v) > max {
			return overLimit("%s: an entry of %d bytes, want at most %d", f.name, len(v), max)
		}
	}
	return nil
}
