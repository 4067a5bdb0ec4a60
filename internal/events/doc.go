// Package events is a node's live event stream: the schema of its events
// (proposals, votes, certificates, timeouts, commits, evidence, rounds) and
// a broker that fans them out to subscribers such as the HTTP endpoint
// GET /v1/events and the web view it feeds.
//
// The broker is shaped by one rule: a subscriber never slows the publisher.
// The publisher is the validator's consensus loop, and a browser tab on a
// slow link, or a client that stopped reading, must not hold up a vote.
// Hence:
//
//   - Publish never waits. Each subscriber has a bounded buffer; when it is
//     full the event is dropped for that subscriber alone and counted.
//   - Loss is never silent. Before the next event that fits, the subscriber
//     receives a "dropped" event whose count says how many it missed (and
//     the gaps in seq say which), so a page can say that it is incomplete.
//   - The number of subscribers is limited, so that the memory and the
//     fan-out work spent per event are bounded; Subscribe beyond the limit
//     fails with ErrTooMany and the API answers 503. So is what one client
//     may hold (SubscribeFrom, ErrClientLimit, 429), so that one client
//     cannot take every slot.
//   - Active is one atomic load, so that a node with no subscriber builds no
//     event at all.
//
// Every event gets a sequence number (seq, increasing by one per published
// event) and a time (time_ms, Unix milliseconds, from the broker's clock,
// which tests replace). Events are encoded to JSON once, when published,
// and every subscriber receives the same bytes.
package events
