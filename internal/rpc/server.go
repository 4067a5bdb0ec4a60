package rpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"

	"github.com/strategos/strategos/internal/chain"
)

// Defaults of Config.
const (
	DefaultMaxBodyBytes      = 1 << 20 // CometBFT's max_body_bytes is 1,000,000
	DefaultMaxBatch          = 100
	DefaultMaxConns          = 64
	DefaultMaxConnsPerClient = 8
	DefaultMaxSubscribers    = 64
	DefaultMaxPerConn        = 8
	// DefaultSubscriberBuffer holds the Tx events of a full block and
	// then some: a subscriber to every transaction keeps up as long as it
	// drains a block's worth per block.
	DefaultSubscriberBuffer = chain.MaxBlockTxs + 100
	// DefaultSubscriberBytes holds two full NewBlock events (a 3 MiB
	// payload is about 4 MiB of base64).
	DefaultSubscriberBytes = 10 << 20
	DefaultCommitTimeout   = 10 * time.Second // CometBFT's timeout_broadcast_tx_commit
	DefaultPoll            = 50 * time.Millisecond
)

// Other bounds.
const (
	maxQueryLength = 512              // of a subscription query, as CometBFT
	handlerTime    = 30 * time.Second // every HTTP call, as the API
	maxInFlight    = 8                // calls one websocket connection runs at once
	writeWait      = 10 * time.Second // for one websocket message to be written
	pongWait       = 30 * time.Second // a websocket client that says nothing for this long is gone
	pingPeriod     = pongWait * 9 / 10
)

// Config bounds a Server; zero fields take the defaults.
type Config struct {
	MaxBodyBytes      int64         // a POST body; larger is answered 413
	MaxBatch          int           // requests in one batch
	MaxConns          int           // open websocket connections
	MaxConnsPerClient int           // websocket connections from one client (IP address, or IPv6 /64)
	MaxSubscribers    int           // subscriptions in all, broadcast_tx_commit waits included
	MaxPerConn        int           // subscriptions on one websocket connection
	SubscriberBuffer  int           // events queued for one subscription before it is dropped
	SubscriberBytes   int           // bytes queued for one subscription before it is dropped
	CommitTimeout     time.Duration // how long broadcast_tx_commit waits for its block
	Poll              time.Duration // how often new blocks are looked for while anyone waits
	Logger            *slog.Logger
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	def(&c.MaxBatch, DefaultMaxBatch)
	def(&c.MaxConns, DefaultMaxConns)
	def(&c.MaxConnsPerClient, DefaultMaxConnsPerClient)
	def(&c.MaxSubscribers, DefaultMaxSubscribers)
	def(&c.MaxPerConn, DefaultMaxPerConn)
	def(&c.SubscriberBuffer, DefaultSubscriberBuffer)
	def(&c.SubscriberBytes, DefaultSubscriberBytes)
	if c.CommitTimeout <= 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Server is a node's CometBFT-compatible RPC. Its feed of new blocks runs
// while Serve does.
type Server struct {
	b       Backend
	cfg     Config
	log     *slog.Logger
	chain   Chain
	view    *view // the chain in CometBFT's types
	metrics *metrics
	feed    *feed

	ws      sync.WaitGroup // websocket goroutines
	mu      sync.Mutex
	conns   map[*wsConn]struct{}
	clients map[string]int // websocket connections per client
	closing bool
	// pendingConns are websockets being upgraded: counted against
	// MaxConns before they are in conns.
	pendingConns int

	appVersion      atomic.Uint64 // from the application's Info, for headers
	appVersionKnown atomic.Bool
	appVersionTried atomic.Int64 // unix nanoseconds of the last Info asked for it
}

// New returns a server for b.
func New(b Backend, c Config) (*Server, error) {
	c.defaults()
	ch := b.Chain()
	v, err := newView(ch)
	if err != nil {
		return nil, err
	}
	s := &Server{b: b, cfg: c, log: c.Logger, chain: ch, view: v, metrics: newMetrics(b.Registry()),
		conns: make(map[*wsConn]struct{}), clients: make(map[string]int)}
	s.feed = newFeed(s)
	return s, nil
}

// Serve serves the RPC on ln until ctx is done. It then closes every
// websocket, lets HTTP calls finish (for at most a few seconds), and
// returns once nothing it started still runs: the node's store may close
// after it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() { s.feed.run(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		s.closeConns()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close() // calls still running see their contexts end
		}
	})
	err := srv.Serve(ln)
	stop()
	wg.Wait()
	s.ws.Wait() // websocket readers, writers and their calls
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Handler returns the RPC's routes: POST / (JSON-RPC, single or batch),
// GET /websocket, and the URI form GET /{method}?arg=value.
func (s *Server) Handler() http.Handler {
	calls := http.NewServeMux()
	calls.HandleFunc("/", s.serveHTTP)
	root := http.NewServeMux()
	root.HandleFunc("/websocket", s.serveWS) // lasts as long as its client: no time limit
	root.Handle("/", http.TimeoutHandler(calls, handlerTime, `{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error","data":"request timed out"}}`))
	return root
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		s.serveURI(w, r)
		return
	}
	switch r.Method {
	case http.MethodPost:
	case http.MethodGet, http.MethodHead:
		s.listMethods(w, r)
		return
	default:
		w.Header().Set("Allow", "GET, POST")
		s.writeHTTPError(w, http.StatusMethodNotAllowed, codeInvalidRequest, "use POST for JSON-RPC, GET for the URI form")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.metrics.refused.WithLabelValues("body").Inc()
			s.writeHTTPError(w, http.StatusRequestEntityTooLarge, codeInvalidRequest, fmt.Sprintf("request body over %d bytes", s.cfg.MaxBodyBytes))
			return
		}
		s.writeHTTPError(w, http.StatusBadRequest, codeInvalidRequest, "error reading request body: "+err.Error())
		return
	}
	if len(body) == 0 { // a browser's look: the list, as CometBFT shows it
		s.listMethods(w, r)
		return
	}
	reqs, reqErrs, err := decodeBody(body, s.cfg.MaxBatch)
	if errors.Is(err, errBatchTooLarge) {
		s.metrics.refused.WithLabelValues("batch").Inc()
		s.writeHTTPError(w, http.StatusBadRequest, codeInvalidRequest, err.Error())
		return
	}
	if err != nil {
		s.writeHTTPError(w, http.StatusInternalServerError, codeParse, "error unmarshaling request: "+err.Error())
		return
	}
	pre := s.admitBatch(reqs, reqErrs)
	var out []response
	for i, req := range reqs {
		if reqErrs[i] != nil {
			out = append(out, response{ID: req.ID, Err: reqErrs[i]})
			s.metrics.count("invalid", true)
			continue
		}
		if req.ID == nil {
			continue // a notification: CometBFT neither runs nor answers it
		}
		out = append(out, s.call(r.Context(), req, nil, r, pre[i]))
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	writeJSON(w, http.StatusOK, appendResponses(nil, out))
}

// serveURI answers the URI form: GET /status, GET /block?height=5.
func (s *Server) serveURI(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	m, ok := methods[name]
	if !ok || m.ws {
		s.metrics.count("unknown", true)
		writeJSON(w, http.StatusNotFound, response{ID: uriID, Err: newError(codeNoMethod, "")}.appendJSON(nil))
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	p, err := decodeURIParams(m.params, r)
	if err != nil {
		s.metrics.count(name, true)
		writeJSON(w, http.StatusInternalServerError, response{ID: uriID,
			Err: newError(codeInvalidParams, "error converting http params to arguments: "+err.Error())}.appendJSON(nil))
		return
	}
	res := s.run(r.Context(), name, m, p, uriID, nil, r, nil)
	code := http.StatusOK
	if res.Err != nil {
		code = http.StatusInternalServerError // as CometBFT's URI handler
	}
	writeJSON(w, code, res.appendJSON(nil))
}

// admitBatch admits the transactions of a batch's broadcast_tx_async and
// broadcast_tx_sync requests in one call to the node, in request order,
// and returns each request's answer (nil for the others). A request whose
// params do not decode is left to fail on its own.
func (s *Server) admitBatch(reqs []request, reqErrs []*rpcError) []*admission {
	pre := make([]*admission, len(reqs))
	var txs [][]byte
	var at []int
	for i, req := range reqs {
		if reqErrs[i] != nil || req.ID == nil || (req.Method != "broadcast_tx_async" && req.Method != "broadcast_tx_sync") {
			continue
		}
		p, err := decodeJSONParams(methods[req.Method].params, req.Params)
		if err != nil {
			continue
		}
		txs, at = append(txs, p.bytes("tx")), append(at, i)
	}
	if len(txs) < 2 {
		return pre // one alone goes the usual way
	}
	hs, errs := s.b.SubmitBatch(txs)
	for j, i := range at {
		pre[i] = &admission{hash: hs[j], err: errs[j]}
	}
	return pre
}

// call runs one JSON-RPC request, over HTTP (conn nil) or a websocket;
// pre is its transaction's admission when its batch admitted it.
func (s *Server) call(ctx context.Context, req request, conn *wsConn, r *http.Request, pre *admission) response {
	m, ok := methods[req.Method]
	if !ok || (m.ws && conn == nil) {
		s.metrics.count("unknown", true)
		return response{ID: req.ID, Err: newError(codeNoMethod, "")}
	}
	p, err := decodeJSONParams(m.params, req.Params)
	if err != nil {
		s.metrics.count(req.Method, true)
		return response{ID: req.ID, Err: newError(codeInvalidParams, "error converting json params to arguments: "+err.Error())}
	}
	return s.run(ctx, req.Method, m, p, req.ID, conn, r, pre)
}

// run calls a method with decoded params, and encodes its result.
func (s *Server) run(ctx context.Context, name string, m method, p params, id []byte, conn *wsConn, r *http.Request, pre *admission) response {
	c := &callCtx{s: s, ctx: ctx, id: id, conn: conn, http: r, pre: pre}
	res, err := m.call(c, p)
	if err == nil {
		var b []byte
		if b, err = cmtjson.Marshal(res); err == nil {
			s.metrics.count(name, false)
			return response{ID: id, Result: b}
		}
	}
	s.metrics.count(name, true)
	return response{ID: id, Err: newError(codeInternal, err.Error())}
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}

func (s *Server) writeHTTPError(w http.ResponseWriter, status, code int, data string) {
	writeJSON(w, status, response{Err: newError(code, data)}.appendJSON(nil))
}

// listMethods answers GET /: the methods and their parameters.
func (s *Server) listMethods(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("Strategos CometBFT-compatible RPC. POST / takes JSON-RPC 2.0; GET /METHOD?ARG=VALUE is the URI form; /websocket subscribes.\n\n")
	var names []string
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := methods[n]
		line := "//" + r.Host + "/" + n
		if len(m.params) > 0 {
			var args []string
			for _, p := range m.params {
				args = append(args, p.name+"=_")
			}
			line += "?" + strings.Join(args, "&")
		}
		if m.ws {
			line += "  (websocket only)"
		}
		b.WriteString(line + "\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, b.String())
}
