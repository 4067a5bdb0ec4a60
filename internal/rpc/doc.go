// Package rpc serves a node's JSON-RPC 2.0 endpoint compatible with
// CometBFT v0.38's RPC, so that clients written for CometBFT (its Go
// rpc/client/http, cosmjs's Comet38Client, load tools that call
// broadcast_tx_async) drive a Strategos network unchanged.
//
// Methods: health, status, net_info, genesis, abci_info, abci_query,
// check_tx, broadcast_tx_async, broadcast_tx_sync, broadcast_tx_commit,
// num_unconfirmed_txs, block, block_by_hash, header, header_by_hash,
// block_results, blockchain, validators, tx; and over /websocket
// subscribe, unsubscribe and unsubscribe_all, for tm.event='NewBlock',
// 'NewBlockHeader' and 'Tx' with any further conditions of CometBFT's
// query language. Calls come as POST / (one request or a batch) or in the
// URI form (GET /status, GET /block?height=5), and answers have
// CometBFT's JSON shapes: its own result types (rpc/core/types) encoded
// by its own encoder (libs/json), so 64-bit numbers are strings, bytes
// base64 and hashes upper-case hex.
//
// Strategos is not CometBFT: where a CometBFT field has no counterpart
// it holds the nearest true value, and docs/rpc.md lists each. It never
// holds a signature that was not made: commits carry none, and a client
// that must verify uses the light client (GET /v1/commits/{height}).
//
// Everything is bounded as the HTTP API is: request bodies (413 beyond),
// batches, websocket connections (in all and per client), subscriptions
// (in all and per connection), each subscription's share of its
// connection's outbound queue, and how long broadcast_tx_commit waits.
// Nothing the RPC does waits for the consensus loop, and nothing a
// client does can make the node wait: new blocks are found by polling
// the node's status (feed.go), and a subscriber too slow to take its
// events is dropped with an error notice (ws.go). Its metrics go to the
// node's registry, which the API's GET /metrics serves.
package rpc
