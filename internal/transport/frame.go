package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// headerLen is the size of a frame header: a 4-byte big-endian payload
// length and a class byte.
const headerLen = 5

var (
	errOversize = errors.New("transport: frame larger than MaxFrame")
	errBadClass = errors.New("transport: unknown frame class")
)

// readFrame reads one frame from r. It checks the announced length against
// max and the class byte before allocating the payload, so whatever a peer
// sends, it allocates at most max bytes. io.EOF means that r ended cleanly
// between frames.
func readFrame(r io.Reader, max int) (Class, []byte, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n, c := binary.BigEndian.Uint32(h[:4]), Class(h[4])
	if uint64(n) > uint64(max) {
		return c, nil, fmt.Errorf("%w: %d > %d bytes", errOversize, n, max)
	}
	if !c.valid() {
		return c, nil, fmt.Errorf("%w %d", errBadClass, uint8(c))
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return c, nil, err
	}
	return c, data, nil
}

// writeFrame appends one frame to w. The caller has checked that the
// payload fits in MaxFrame (and so in 32 bits).
func writeFrame(w *bufio.Writer, c Class, payload []byte) error {
	h := binary.BigEndian.AppendUint32(w.AvailableBuffer(), uint32(len(payload)))
	if _, err := w.Write(append(h, byte(c))); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}
