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

// readResponse reads and decodes one response of at most max bytes.
func readResponse(r *bufio.Reader, max int) (*abcitypes.Response, error) {
	b, err := readFrame(r, max)
	if err != nil {
		return nil, err
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
