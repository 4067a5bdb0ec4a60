package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime/metrics"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	frames := [][]byte{nil, {1}, bytes.Repeat([]byte("ab"), 5000)}
	for i, f := range frames {
		if err := writeFrame(w, Class(i), f); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	for i, want := range frames {
		c, got, err := readFrame(&buf, 10000)
		if err != nil || c != Class(i) || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: class %d, %d bytes, %v", i, c, len(got), err)
		}
	}
	if _, _, err := readFrame(&buf, 10000); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
}

func TestReadFrameRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		want error
	}{
		"oversize":          {[]byte{0xff, 0xff, 0xff, 0xff, 0, 'x'}, errOversize},
		"one byte too many": {[]byte{0, 0, 0, 11, 0}, errOversize},
		"unknown class":     {[]byte{0, 0, 0, 1, 3, 'x'}, errBadClass},
		"short header":      {[]byte{0, 0, 0}, io.ErrUnexpectedEOF},
		"short payload":     {[]byte{0, 0, 0, 4, 0, 'x'}, io.ErrUnexpectedEOF},
		"missing payload":   {[]byte{0, 0, 0, 4, 0}, io.ErrUnexpectedEOF},
	} {
		r := bytes.NewReader(tc.in)
		_, data, err := readFrame(r, 10)
		if !errors.Is(err, tc.want) || data != nil {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		if tc.want == errOversize || tc.want == errBadClass {
			if read := len(tc.in) - r.Len(); read != headerLen {
				t.Errorf("%s: read %d bytes past the header", name, read-headerLen)
			}
		}
	}
}

// heapAllocs returns the bytes allocated on the heap so far.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// allocSlack covers the allocations of readFrame besides the payload (the
// header, error values) and the granularity of the allocation counter.
const allocSlack = 1 << 20

// FuzzReadFrame feeds arbitrary bytes to the frame reader, which faces the
// network: it must never panic, never return a payload larger than max or
// of an unknown class, and never allocate much more than max, whatever
// length a header announces.
func FuzzReadFrame(f *testing.F) {
	f.Add(uint16(10), []byte{0, 0, 0, 2, 1, 'h', 'i', 0, 0, 0, 0, 2})
	f.Add(uint16(0), []byte{0xff, 0xff, 0xff, 0xff, 0})
	f.Add(uint16(100), []byte{0, 0, 0x10, 0, 2, 1, 2, 3})
	f.Add(uint16(5), []byte{0, 0, 0, 1, 7, 'x'})
	f.Add(uint16(65535), []byte{0x7f, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, max uint16, in []byte) {
		r := bytes.NewReader(in)
		for {
			left := r.Len()
			before := heapAllocs()
			c, data, err := readFrame(r, int(max))
			if grew := heapAllocs() - before; grew > uint64(max)+allocSlack {
				t.Fatalf("allocated %d bytes with max %d", grew, max)
			}
			if err != nil {
				if data != nil {
					t.Fatal("data returned with an error")
				}
				if left >= headerLen {
					n := uint64(in[len(in)-left])<<24 | uint64(in[len(in)-left+1])<<16 | uint64(in[len(in)-left+2])<<8 | uint64(in[len(in)-left+3])
					if (n > uint64(max)) != errors.Is(err, errOversize) {
						t.Fatalf("length %d, max %d: %v", n, max, err)
					}
				}
				return
			}
			if !c.valid() || len(data) > int(max) || cap(data) > int(max) || left-r.Len() != headerLen+len(data) {
				t.Fatalf("class %d, %d bytes (cap %d) with max %d, consumed %d", c, len(data), cap(data), max, left-r.Len())
			}
		}
	})
}
