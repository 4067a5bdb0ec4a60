package abci

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	abcitypes "github.com/cometbft/cometbft/abci/types"
)

// frameChunk is the most a frame's buffer grows by before the bytes that
// fill it have arrived.
const frameChunk = 64 << 10

// readFrame reads one uvarint-delimited frame of at most max bytes. A
// prefix over max fails before anything is allocated, and the buffer
// grows with the bytes received, so a short stream behind a large prefix
// costs at most twice what it sent plus frameChunk.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, fmt.Errorf("read length prefix: %w", err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("frame of %d bytes exceeds the bound of %d", n, max)
	}
	size := int(n)
	buf := make([]byte, 0, min(size, frameChunk))
	for len(buf) < size {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(size, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		k, err := r.Read(buf[len(buf):min(size, cap(buf))])
		buf = buf[:len(buf)+k]
		if err != nil && len(buf) < size {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read frame of %d bytes after %d: %w", size, len(buf), err)
		}
	}
	return buf, nil
}

// readResponse reads and decodes one response of at most max bytes whose
// decoding creates at most maxElements values (see elements).
func readResponse(r *bufio.Reader, max, maxElements int) (*abcitypes.Response, error) {
	b, err := readFrame(r, max)
	if err != nil {
		return nil, err
	}
	if len(b) > scanFrom {
		if err := checkElements(b, maxElements); err != nil {
			return nil, err
		}
	}
	resp := new(abcitypes.Response)
	if err := resp.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("decode response of %d bytes: %w", len(b), err)
	}
	if resp.Value == nil {
		return nil, fmt.Errorf("response of %d bytes holds no message", len(b))
	}
	return resp, nil
}

// Decoding protobuf into Go values allocates about 100 bytes for each
// repeated message, which takes only 2 bytes on the wire: a frame of
// empty transaction results or events would cost 50 to 100 times its
// size. A frame larger than scanFrom is therefore scanned first, and
// refused when it holds more than the client's element budget.
const (
	scanFrom  = 64 << 10
	scanDepth = 6 // Response, FinalizeBlock, ExecTxResult, Event, EventAttribute, and one spare
)

// checkElements refuses b when it holds more than max elements.
func checkElements(b []byte, max int) error {
	budget := max
	if !elements(b, scanDepth, &budget) && budget < 0 {
		return fmt.Errorf("response of %d bytes holds more than %d elements", len(b), max)
	}
	return nil // a malformed message is for the decoder to refuse
}

// elements walks b as a protobuf message, taking one from *budget for
// each length-delimited field (a nested message, a string or bytes: all
// that decoding allocates), and recurring into those that parse as
// messages, to depth levels: an upper bound on the values decoding b
// creates. It reports false when b is not a well-formed message or the
// budget ran out (*budget < 0).
func elements(b []byte, depth int, budget *int) bool {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 || tag>>3 == 0 {
			return false
		}
		b = b[n:]
		var skip int
		switch tag & 7 {
		case 0:
			if _, skip = binary.Uvarint(b); skip <= 0 {
				return false
			}
		case 1:
			skip = 8
		case 5:
			skip = 4
		case 2:
			l, k := binary.Uvarint(b)
			if k <= 0 || l > uint64(len(b)-k) {
				return false
			}
			if *budget--; *budget < 0 {
				return false
			}
			nested(b[k:k+int(l)], depth-1, budget)
			if *budget < 0 {
				return false
			}
			skip = k + int(l)
		default:
			return false // groups: not in ABCI
		}
		if skip > len(b) {
			return false
		}
		b = b[skip:]
	}
	return true
}

// nested counts the elements of b if it parses as a message; a string or
// bytes that does not costs nothing more.
func nested(b []byte, depth int, budget *int) {
	if depth <= 0 || len(b) == 0 {
		return
	}
	sub := *budget
	if elements(b, depth, &sub) || sub < 0 {
		*budget = sub
	}
}

// writeRequest writes req, uvarint-delimited, to w.
func writeRequest(w *bufio.Writer, req *abcitypes.Request) error {
	b, err := req.Marshal()
	if err != nil {
		return fmt.Errorf("encode %T: %w", req.Value, err)
	}
	var prefix [binary.MaxVarintLen64]byte
	if _, err := w.Write(prefix[:binary.PutUvarint(prefix[:], uint64(len(b)))]); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	return nil
}
