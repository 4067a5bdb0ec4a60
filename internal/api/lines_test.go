package api

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

func TestLineCutting(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"k=v", "k=v"},
		{"k=v  ", "k=v  "},
		{"k=v \n", "k=v "},
		{"k=v\r\n", "k=v"},
		{"k=v\n\n", "k=v\n"}, // one newline only: the rest is the app's to refuse
		{" k=v\t", " k=v\t"},
		{"", ""},
	} {
		if got := string(single([]byte(c.body))); got != c.want {
			t.Errorf("single(%q) = %q, want %q", c.body, got, c.want)
		}
	}
	for _, c := range []struct {
		body string
		want []string
	}{
		{"a=1 \nb= 2\r\nc=3  \n\n", []string{"a=1 ", "b= 2", "c=3  "}},
		{"a\r\n\r\n", []string{"a"}},
		{"a\n\nb", []string{"a", "", "b"}},
		{" a \n b ", []string{" a ", " b "}},
		{"a\r", []string{"a\r"}}, // no terminator: a bare CR is the line's
		{"", []string{""}},
	} {
		var got []string
		for _, l := range batchLines([]byte(c.body)) {
			got = append(got, string(l))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("batchLines(%q) = %q, want %q", c.body, got, c.want)
		}
	}
}

// TestTransactionBytesKept checks that admission takes a transaction's
// bytes as sent: a kv value keeps its spaces, and the hash answered is
// SHA-256 of the body (less one trailing newline) or of the batch line.
func TestTransactionBytesKept(t *testing.T) {
	tn := startNode(t, "kv")
	base := tn.srv.URL
	type sent struct{ key, value, tx string }
	var all []sent
	for _, c := range []struct{ body, key, value string }{
		{"sp=a b  ", "sp", "a b  "},
		{"nl=x \n", "nl", "x "},
		{"crlf=y\r\n", "crlf", "y"},
	} {
		r := postTx(t, base, []byte(c.body))
		if r.code != http.StatusAccepted {
			t.Fatalf("POST %q: %d %s", c.body, r.code, r.raw)
		}
		tx := c.key + "=" + c.value
		checkPending(t, fmt.Sprintf("POST %q", c.body), r.m, hashOf([]byte(tx)))
		all = append(all, sent{c.key, c.value, tx})
	}
	r := postBatch(t, base, []byte("b1=1 \nb2= 2\r\nb3=3  \n\n"))
	res := results(t, r, 3)
	for i, kv := range [][2]string{{"b1", "1 "}, {"b2", " 2"}, {"b3", "3  "}} {
		tx := kv[0] + "=" + kv[1]
		checkPending(t, fmt.Sprintf("batch line %d", i+1), res[i], hashOf([]byte(tx)))
		all = append(all, sent{kv[0], kv[1], tx})
	}
	for _, s := range all {
		waitCommitted(t, base, hashOf([]byte(s.tx)))
		r := call(t, http.MethodGet, base+"/v1/kv/"+s.key, nil)
		if r.code != http.StatusOK || r.m["value"] != s.value {
			t.Errorf("GET /v1/kv/%s: %d %s, want value %q", s.key, r.code, r.raw, s.value)
		}
	}
}
