// Package byzantine is the library of misbehaving validators. Each
// behaviour is a consensus.Replica that wraps an honest consensus.Core (or,
// for equivocation, two of them) and changes only what the validator sends
// or signs. Honest code carries no hooks for misbehaviour; everything a
// traitor does is visible here.
//
// The same behaviours drive the deterministic simulator (package sim) and,
// later, live validators, so a behaviour is written once and tested in
// both places.
package byzantine
