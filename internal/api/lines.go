package api

import "bytes"

// How the API cuts request bodies into transactions. Transactions are
// opaque bytes and their hash is SHA-256 of exactly those bytes, so the
// API takes nothing from them but line terminators: a kv value keeps its
// trailing spaces, and the hash a client computes of what it sent is the
// hash the node answers.

// single is the transaction of a POST /v1/txs body: the body less at most
// one trailing newline ("\n" or "\r\n"), which a shell pipe or `echo`
// adds.
func single(body []byte) []byte {
	if b, ok := bytes.CutSuffix(body, []byte("\n")); ok {
		b, _ = bytes.CutSuffix(b, []byte("\r"))
		return b
	}
	return body
}

// batchLines cuts a POST /v1/txs/batch body into its lines. A line ends
// at "\n" or "\r\n", and the terminator is not part of it; empty lines at
// the end (trailing newlines) are ignored, as client.BatchLines counts
// them. Every other byte of a line is the transaction, unchanged. The
// caller has bounded the number of lines.
func batchLines(body []byte) [][]byte {
	body = trimTerminators(body)
	lines := bytes.Split(body, []byte("\n"))
	for i := range len(lines) - 1 { // each of these was followed by "\n"
		lines[i], _ = bytes.CutSuffix(lines[i], []byte("\r"))
	}
	return lines
}

// trimTerminators removes the trailing line terminators of body.
func trimTerminators(body []byte) []byte {
	for {
		b, ok := bytes.CutSuffix(body, []byte("\n"))
		if !ok {
			return body
		}
		body, _ = bytes.CutSuffix(b, []byte("\r"))
	}
}
