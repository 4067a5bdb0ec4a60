package abci

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"
)

// frame is resp as it travels: uvarint-delimited.
func frame(t testing.TB, resp *abcitypes.Response) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := abcitypes.WriteMessage(resp, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadFrame(t *testing.T) {
	resp := abcitypes.ToResponseInfo(&abcitypes.ResponseInfo{Data: "x", LastBlockHeight: 7})
	b := append(frame(t, resp), frame(t, abcitypes.ToResponseFlush())...)
	r := bufio.NewReader(bytes.NewReader(b))
	got, err := readResponse(r, 1<<10, 10)
	if err != nil || got.GetInfo().LastBlockHeight != 7 {
		t.Fatalf("info: %v, %v", got, err)
	}
	if got, err := readResponse(r, 1<<10, 10); err != nil || got.GetFlush() == nil {
		t.Fatalf("flush: %v, %v", got, err)
	}
	if _, err := readResponse(r, 1<<10, 10); err == nil {
		t.Fatal("read past the end: no error")
	}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 3); err == nil {
		t.Fatal("a frame over the bound: no error")
	}
}

// TestElements counts what decoding a known response allocates: the
// finalize block message, its result, the result's log and the app hash.
func TestElements(t *testing.T) {
	b := frame(t, abcitypes.ToResponseFinalizeBlock(&abcitypes.ResponseFinalizeBlock{
		TxResults: []*abcitypes.ExecTxResult{{Log: "x"}}, AppHash: []byte{1},
	}))
	_, n := binary.Uvarint(b)
	b = b[n:]
	for budget, ok := range map[int]bool{4: true, 3: false} {
		if err := checkElements(b, budget); (err == nil) != ok {
			t.Errorf("%d elements allowed: %v", budget, err)
		}
	}
}

// FuzzReadFrame reads responses from arbitrary bytes: never a panic, and
// never an allocation out of proportion to the bytes read, whatever the
// length prefixes claim.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add(binary.AppendUvarint(nil, 1<<62))
	f.Add(append(binary.AppendUvarint(nil, 60<<20), "abc"...))
	f.Add([]byte("\x05garbage, not a Response\xff\xff"))
	f.Add(bytes.Repeat([]byte{0xff}, 12))
	f.Add(frame(f, abcitypes.ToResponseFlush()))
	f.Add(frame(f, abcitypes.ToResponseFinalizeBlock(&abcitypes.ResponseFinalizeBlock{
		TxResults: []*abcitypes.ExecTxResult{{Code: 1, Log: "no", Events: []abcitypes.Event{{Type: "t"}}}},
	})))
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 64 << 20
		r := bufio.NewReader(bytes.NewReader(data))
		got := allocated(func() {
			for {
				if _, err := readResponse(r, max, DefaultMaxElements); err != nil {
					return
				}
			}
		})
		// The reader's buffer, a frame's first chunk, twice the bytes read
		// for frames, and the decoded values.
		if bound := uint64(4<<10 + frameChunk + 256*len(data)); got > bound {
			t.Fatalf("%d bytes of input cost %d bytes, more than %d", len(data), got, bound)
		}
	})
}
