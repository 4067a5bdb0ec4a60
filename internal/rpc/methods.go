package rpc

import (
	"context"
	"github.com/strategos/strategos/internal/chain"
	"net/http"
)

// callCtx is what a method sees of its call.
type callCtx struct {
	s    *Server
	ctx  context.Context
	id   []byte        // the request's id (raw JSON)
	conn *wsConn       // the websocket the call came on; nil over HTTP
	http *http.Request // the HTTP request; nil over a websocket
	pre  *admission    // a broadcast already admitted with its batch
}

// admission is the node's answer to one transaction of a batch.
type admission struct {
	hash chain.Hash
	err  error
}

// method is one RPC method: its parameters, in CometBFT's order (the
// order of positional params), and what it does.
type method struct {
	params []param
	call   func(c *callCtx, p params) (any, error)
	ws     bool // websocket only (subscriptions)
}

// methods are the RPC's methods, by name. Their parameter names and
// types are CometBFT v0.38's (rpc/core/routes.go).
var methods map[string]method

func init() {
	height := param{"height", kindInt64}
	methods = map[string]method{
		"health":              {call: health},
		"status":              {call: status},
		"net_info":            {call: netInfo},
		"genesis":             {call: genesis},
		"abci_info":           {call: abciInfo},
		"abci_query":          {params: []param{{"path", kindString}, {"data", kindHexBytes}, height, {"prove", kindBool}}, call: abciQuery},
		"num_unconfirmed_txs": {call: numUnconfirmedTxs},
		"validators":          {params: []param{height, {"page", kindInt}, {"per_page", kindInt}}, call: validators},
		"block":               {params: []param{height}, call: block},
		"block_by_hash":       {params: []param{{"hash", kindHash}}, call: blockByHash},
		"header":              {params: []param{height}, call: header},
		"header_by_hash":      {params: []param{{"hash", kindHash}}, call: headerByHash},
		"block_results":       {params: []param{height}, call: blockResults},
		"blockchain":          {params: []param{{"minHeight", kindInt64}, {"maxHeight", kindInt64}}, call: blockchain},
		"tx":                  {params: []param{{"hash", kindHash}, {"prove", kindBool}}, call: tx},
		"check_tx":            {params: []param{{"tx", kindBytes}}, call: checkTx},
		"broadcast_tx_async":  {params: []param{{"tx", kindBytes}}, call: broadcastTxAsync},
		"broadcast_tx_sync":   {params: []param{{"tx", kindBytes}}, call: broadcastTxSync},
		"broadcast_tx_commit": {params: []param{{"tx", kindBytes}}, call: broadcastTxCommit},
		"subscribe":           {params: []param{{"query", kindString}}, call: subscribe, ws: true},
		"unsubscribe":         {params: []param{{"query", kindString}}, call: unsubscribe, ws: true},
		"unsubscribe_all":     {call: unsubscribeAll, ws: true},
	}
}
