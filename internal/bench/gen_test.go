package bench

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/app/kv"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
)

func TestKVStreams(t *testing.T) {
	streams := kvStreams("run1", 3, 2, 1001)
	if len(streams) != 6 {
		t.Fatalf("%d streams, want 6", len(streams))
	}
	seen := map[string]bool{}
	total := 0
	for i, s := range streams {
		if s.node != i%3 || s.ordered {
			t.Errorf("stream %d: node %d ordered %v", i, s.node, s.ordered)
		}
		for k := range s.lines() {
			tx := s.line(k)
			if len(tx) != kvTxSize || strings.ContainsAny(string(tx), "\n") {
				t.Fatalf("stream %d line %d: %d bytes %q", i, k, len(tx), tx)
			}
			key, _, err := kv.Parse(tx)
			if err != nil {
				t.Fatalf("stream %d line %d is not a kv transaction: %v", i, k, err)
			}
			if seen[string(key)] {
				t.Fatalf("key %s twice", key)
			}
			seen[string(key)] = true
			total++
		}
	}
	if total != 1001 {
		t.Errorf("%d transactions, want 1001", total)
	}
	// Another run's keys differ, so its transactions are new to a node.
	other := kvStreams("run2", 1, 1, 1)
	if k, _, _ := kv.Parse(other[0].line(0)); seen[string(k)] {
		t.Errorf("run2 reuses key %s", k)
	}
}

func TestBankStreams(t *testing.T) {
	const chainID = "bench-test"
	var senders []sender
	for i := range 3 {
		k, err := keys.New()
		if err != nil {
			t.Fatal(err)
		}
		senders = append(senders, sender{key: k, nonce: uint64(10 * i), node: i % 2})
	}
	streams, err := bankStreams(chainID, senders, 50)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range streams {
		if !s.ordered || s.node != senders[i].node || s.lines() != 50 {
			t.Fatalf("stream %d: ordered %v node %d lines %d", i, s.ordered, s.node, s.lines())
		}
		from := chain.AddressOf(senders[i].key.Public().(ed25519.PublicKey))
		to := chain.AddressOf(senders[(i+1)%3].key.Public().(ed25519.PublicKey))
		for k := range s.lines() {
			tx, err := bank.Decode(s.line(k))
			if err != nil {
				t.Fatalf("stream %d line %d: %v", i, k, err)
			}
			if err := tx.Verify(chainID); err != nil {
				t.Fatalf("stream %d line %d: %v", i, k, err)
			}
			if tx.From() != from || tx.To != to || tx.Amount != 1 || tx.Nonce != senders[i].nonce+uint64(k) {
				t.Fatalf("stream %d line %d: from %s to %s amount %d nonce %d", i, k, tx.From(), tx.To, tx.Amount, tx.Nonce)
			}
		}
	}
}

func TestBookIndex(t *testing.T) {
	streams := kvStreams("idx", 2, 1, 7)
	b := newBook(streams)
	if b.len() != 7 || streams[0].first != 0 || streams[1].first != streams[0].lines() {
		t.Fatalf("book of %d, firsts %d %d", b.len(), streams[0].first, streams[1].first)
	}
	for id := range b.len() {
		s, k := b.locate(id)
		h := chain.TxHash(s.line(k))
		key, ok := hexKey(h.String())
		if !ok || key != hashKey(h) || b.ids[key] != uint32(id) {
			t.Fatalf("id %d: hex key %x (%v), book has %d", id, key, ok, b.ids[key])
		}
	}
	for _, bad := range []string{"", "xyz", strings.Repeat("g", 64), strings.Repeat("a", 63)} {
		if _, ok := hexKey(bad); ok {
			t.Errorf("hexKey(%q) accepted", bad)
		}
	}
}

func TestBatchBody(t *testing.T) {
	a := &stream{}
	b := &stream{}
	for _, tx := range []string{"a=1", "a=2", "a=3"} {
		a.add([]byte(tx))
	}
	for _, tx := range []string{"b=1", "b=2"} {
		b.add([]byte(tx))
	}
	if got := string(batchBody([]segment{{a, 1, 3}})); got != "a=2\na=3\n" {
		t.Errorf("one segment: %q", got)
	}
	if got := string(batchBody([]segment{{a, 0, 1}, {b, 0, 2}})); got != "a=1\nb=1\nb=2\n" {
		t.Errorf("two segments: %q", got)
	}
}
