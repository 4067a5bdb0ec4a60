// Package attack is the adversary of the attack suite: a Byzantine
// validator that holds a real validator key and speaks the transport's
// protocol directly, and outsiders with no key. Its tests (run by
// `go test ./...`) start a small network of real `strategos node`
// processes, take one validator's slot with the attacker, and check, for
// each attack of issue 12, that the honest validators keep committing and
// that their memory, disk and logs stay within budget.
//
// Nothing here is used by honest code: the honest packages have no hooks
// for it. The attacker is built from their public APIs only: it runs an
// honest consensus.Core of its own (so that it leads its rounds, forms
// certificates and votes like a healthy validator when it is not
// attacking) and rewrites or adds to what that core sends; it encodes
// frames with package wire, or by hand with protowire when a frame must be
// one that wire refuses to build.
//
// # Pieces
//
//   - Dial and Listen perform the transport's mutual-TLS handshake with a
//     validator's key and exchange raw frames (length, class, payload).
//   - Validator is the Byzantine validator: an honest core driven over
//     those connections, with Filter to rewrite its output and SendRaw to
//     add any frame.
//   - The frame builders (bombs.go) make the hand-made protobuf of the
//     decode attacks, and the signed messages of the spam attacks.
//
// # Running
//
//	go test ./internal/attack/                      the default run, about a minute
//	STRATEGOS_SOAK_ATTACK=1 go test ./internal/attack/  every window 8x longer
//	                                                (STRATEGOS_SOAK_FACTOR=F for another factor)
//	STRATEGOS_E2E_KEEP=1                            keep each network and its logs
//	STRATEGOS_E2E_BIN=PATH                          test that binary instead of building one
//
// Each test logs its measurements (honest commits per 10 s without and with
// the attack, heap, disk and log growth) with t.Log: run with -v to see
// them.
package attack
