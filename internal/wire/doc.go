// Package wire encodes the values of packages chain and consensus for the
// network and for disk, with protocol buffers (schema in
// proto/strategos/wire/v1/wire.proto, generated code in wirepb).
//
// The encoding carries values; it does not define them. Hashes and
// signatures are computed over chain's canonical encoding, never over these
// bytes, so two encodings of one block decode to blocks with one hash.
//
// Decoding is the edge where bytes from untrusted peers become Go values,
// so it validates shape and never panics: hashes are exactly 32 bytes,
// signatures at most [MaxSigBytes], validator indices fit a uint32, lists
// stay within the Max* limits, and pointers that the Go type requires are
// present (a QC in every block above height 0, a high QC in every timeout
// and TC, a block in every proposal). It checks nothing that needs keys or
// chain state: signatures, quorums and hash links are consensus's business.
// Protobuf decoding allocates what the input describes before these limits
// are checked, so the transport must bound the size of a frame.
//
// Encoding applies the same rules, so that a value which encodes also
// decodes; an error there is a bug in the caller.
//
// Empty byte strings and empty lists decode as nil: Decode(Encode(v)) equals
// v up to that, and chain's hashes do not distinguish nil from empty.
package wire
