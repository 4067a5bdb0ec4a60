package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/strategos/strategos/internal/chain"
)

// A record on disk: length (4 bytes) and CRC-32C (4 bytes) of the body,
// then the body: kind (1 byte), sequence number (8 bytes), payload. An
// accept's payload is the transaction; a rejection's is the transaction's
// hash then the reason. The sequence number orders records across
// segments (compaction moves old records forward, keeping theirs).
const (
	headerSize = 8
	bodyPrefix = 1 + 8
	// maxBody refuses absurd lengths when reading, which only corruption
	// produces: nothing larger than a transaction is ever written.
	maxBody = 16 << 20
	// maxReason bounds a rejection's reason on disk.
	maxReason = 512
)

const (
	kindAccept byte = 'A'
	kindReject byte = 'R'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errTorn marks the end of a segment's readable records: a write that a
// crash cut short, or a corrupt tail.
var errTorn = errors.New("journal: torn or corrupt record")

// appendRecord appends one encoded record to buf.
func appendRecord(buf []byte, kind byte, seq uint64, payload ...[]byte) []byte {
	n := bodyPrefix
	for _, p := range payload {
		n += len(p)
	}
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, 0, 0, 0, 0) // CRC, filled below
	buf = append(buf, kind)
	buf = binary.BigEndian.AppendUint64(buf, seq)
	for _, p := range payload {
		buf = append(buf, p...)
	}
	binary.BigEndian.PutUint32(buf[start+4:], crc32.Checksum(buf[start+headerSize:], castagnoli))
	return buf
}

func acceptRecord(buf []byte, seq uint64, tx []byte) []byte {
	return appendRecord(buf, kindAccept, seq, tx)
}

func rejectRecord(buf []byte, seq uint64, h chain.Hash, reason string) []byte {
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	return appendRecord(buf, kindReject, seq, h[:], []byte(reason))
}

// record is one decoded record; its slices alias the segment's bytes.
type record struct {
	kind    byte
	seq     uint64
	hash    chain.Hash
	tx      []byte // accepts
	reason  string // rejections
	encoded []byte // the whole record, header included
}

// nextRecord decodes the record at the start of data and returns it with
// its encoded size, or errTorn.
func nextRecord(data []byte) (record, int, error) {
	if len(data) < headerSize {
		return record{}, 0, errTorn
	}
	n := int(binary.BigEndian.Uint32(data))
	if n < bodyPrefix || n > maxBody || len(data)-headerSize < n {
		return record{}, 0, errTorn
	}
	body := data[headerSize : headerSize+n]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(data[4:]) {
		return record{}, 0, errTorn
	}
	r := record{kind: body[0], seq: binary.BigEndian.Uint64(body[1:]), encoded: data[:headerSize+n]}
	payload := body[bodyPrefix:]
	switch r.kind {
	case kindAccept:
		r.tx = payload
		r.hash = chain.TxHash(payload)
	case kindReject:
		if len(payload) < len(r.hash) {
			return record{}, 0, errTorn
		}
		copy(r.hash[:], payload)
		r.reason = string(payload[len(r.hash):])
	default:
		return record{}, 0, errTorn
	}
	return r, headerSize + n, nil
}

// readSegment returns the readable records of a segment file and whether
// it ended in a torn or corrupt record.
func readSegment(path string) (recs []record, torn bool, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	for len(data) > 0 {
		r, n, err := nextRecord(data)
		if err != nil {
			return recs, true, nil
		}
		recs = append(recs, r)
		data = data[n:]
	}
	return recs, false, nil
}

const segPrefix, segSuffix = "accepted-", ".log"

func segName(id uint64) string { return fmt.Sprintf("%s%016d%s", segPrefix, id, segSuffix) }

// listSegments returns the ids of the segment files in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var ids []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// syncDir makes a file's creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func segPath(dir string, id uint64) string { return filepath.Join(dir, segName(id)) }
