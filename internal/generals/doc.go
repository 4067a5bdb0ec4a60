// Package generals runs the two algorithms of Lamport, Shostak and Pease,
// "The Byzantine Generals Problem" (ACM TOPLAS 4(3), 1982): OM(m), agreement
// by oral messages, and SM(m), agreement by signed messages, among n generals
// of whom some are traitors.
//
// General 0 is the commander; generals 1..n-1 are its lieutenants. A loyal
// general follows the algorithm exactly; a traitor follows a Strategy (flip,
// split, random, silent) or, under Exhaust, every choice it could make. A run
// reports the decision of every loyal lieutenant, whether the interactive
// consistency conditions held and how many messages were sent:
//
//   - IC1: all loyal lieutenants decide the same value;
//   - IC2: if the commander is loyal, every loyal lieutenant decides its order
//     (IC2 holds vacuously when the commander is a traitor).
//
// OM(m) is the paper's recursion: the commander sends its value to every
// lieutenant; for m > 0 each lieutenant acts as commander in OM(m-1) towards
// the others; each lieutenant decides by strict majority of the values it
// holds, RETREAT on a tie, and a message that never came counts as RETREAT.
// It sends M(n,0) = n-1 and M(n,m) = (n-1) + (n-1)*M(n-1,m-1) messages and
// keeps IC1 and IC2 whenever n > 3m and there are at most m traitors.
//
// SM(m) runs in m+1 synchronous rounds. An order is a value with a chain of
// ed25519 signatures, the commander's first; in round r a valid order carries
// exactly r distinct signatures and its last signer is its sender. A loyal
// lieutenant verifies every signature of an order it receives, discards it if
// any fails, adds a new value to its set V and, while the chain has at most m
// signatures, signs it and relays it to the lieutenants not yet in the chain.
// It decides choice(V): the single value of V, or RETREAT when V is empty or
// holds both values. Traitors hold only traitors' private keys, so they cannot
// produce an order a loyal general did not sign; SM(m) keeps IC1 and IC2 for
// any n with at most m traitors.
//
// Everything is deterministic given Config.Seed: traitors chosen by seed, the
// random strategy and the keys (derived with ed25519.NewKeyFromSeed) come from
// explicit seeded sources, never from a global one. The package holds no
// mutable package-level state and never panics on bad input: Config.Validate
// explains what is wrong.
package generals
