// Package web is the web view every node serves: a single page (HTML, CSS
// and plain JavaScript modules, embedded in the binary, no build step and
// nothing fetched from elsewhere) that shows the network, the agreement as
// it happens, a block explorer and a Byzantine Generals playground.
//
// The page reads only the node's public HTTP API (/v1/status,
// /v1/validators, /v1/blocks, /v1/txs, /v1/accounts, /v1/kv, /v1/evidence,
// /v1/generals and the /v1/events stream) and changes state only by
// POST /v1/txs, so it shows nothing a script could not see.
//
// Handler serves the page at "/" and its assets under "/web/"; the API
// mounts it on those two routes. Routes inside the page are hash-based
// ("#/explorer/block/12"), so every view has a link and the server needs
// no route per view.
package web
