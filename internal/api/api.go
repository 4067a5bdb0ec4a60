// Package api serves a node's HTTP API (see the project's contract): status,
// blocks, validators, transactions and Prometheus metrics. Handlers only
// read published snapshots and the store, and hand transactions to the
// node; they never block consensus. Every bad request is answered with a
// JSON {"error": ...}, request bodies are size-limited, and handlers time
// out, except the live event stream (GET /v1/events, see events.go),
// which lasts as long as its client.
package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/events"
	"github.com/strategos/strategos/internal/light"
	"github.com/strategos/strategos/internal/node"
	"github.com/strategos/strategos/internal/store"
	"github.com/strategos/strategos/internal/web"
)

// Backend is what the API needs from a node (implemented by *node.Node).
type Backend interface {
	Status() node.Status
	Store() *store.Store
	Validators() *chain.ValidatorSet
	Registry() *prometheus.Registry
	Submit(tx []byte) (chain.Hash, error)
	SubmitBatch(txs [][]byte) ([]chain.Hash, []error)
	Tx(h chain.Hash) (node.TxStatus, bool, error)
	Account(a chain.Address) (balance, nonce, pendingNonce uint64, ok bool, err error)
	Evidence() ([]node.EvidenceRecord, error)
	Proven() ([]uint32, error)
	App() app.Application
	Events() *events.Broker
}

// Limits from the contract.
const (
	MaxTxBody    = 128 << 10
	MaxBatchBody = 32 << 20
	MaxBatchTxs  = 10_000
	MaxRange     = 100
	handlerTime  = 30 * time.Second
)

// Handler returns the API's routes.
func Handler(b Backend, log *slog.Logger) http.Handler {
	return newHandler(b, log, limits{rangeBytes: MaxRangeBytes})
}

// limits are the answer budgets that tests make smaller.
type limits struct {
	rangeBytes int // see MaxRangeBytes
}

func newHandler(b Backend, log *slog.Logger, l limits) http.Handler {
	s := &server{b: b, log: log, limits: l, rangeCut: rangeCutCounter(b.Registry()),
		proofBusy: counter(b.Registry(), "strategos_api_proofs_busy_total",
			"Commit and proof requests answered 429 because MaxProofRequests were being served.")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", s.status)
	mux.HandleFunc("GET /v1/blocks/{height}", s.block)
	mux.HandleFunc("GET /v1/blocks", s.blocks)
	mux.HandleFunc("GET /v1/validators", s.validators)
	mux.HandleFunc("GET /v1/evidence", s.evidence)
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("POST /v1/txs", s.submit)
	mux.HandleFunc("POST /v1/txs/batch", s.batch)
	mux.HandleFunc("GET /v1/txs/{hash}", s.tx)
	switch b.Status().App {
	case "kv":
		mux.HandleFunc("GET /v1/kv/{key}", s.kv)
	case "bank":
		mux.HandleFunc("GET /v1/accounts/{address}", s.account)
	}
	s.proofRoutes(mux, b.Status().App)
	mux.HandleFunc("GET /livez", s.livez)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /v1/abci/info", s.abciInfo)
	mux.HandleFunc("GET /v1/abci/query", s.abciQuery)
	mux.Handle("GET /v1/generals", newGeneralsHandler())
	view := web.Handler() // the web view at exactly "/", its assets under /web/
	mux.Handle("GET /{$}", view)
	mux.Handle("GET "+web.AssetPrefix, view)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	// Streams run as long as their client stays, so they bypass the time
	// limit (and the TimeoutHandler's buffering, which would hold every
	// event back); every other route goes through it.
	root := http.NewServeMux()
	root.HandleFunc("GET /v1/events", s.events)
	root.Handle("/", http.TimeoutHandler(mux, handlerTime, `{"error":"request timed out"}`))
	return root
}

// Serve runs the API on addr until ctx is done. It returns once the
// requests in flight have finished (for at most a few seconds), so that
// the node's store may close after it.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	endStreamsOnShutdown(srv)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	shut := make(chan struct{})
	go func() {
		defer close(shut)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	err := srv.Serve(ln) // returns as soon as Shutdown starts
	stop()
	<-shut
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type server struct {
	b        Backend
	log      *slog.Logger
	limits   limits
	rangeCut prometheus.Counter // answers of GET /v1/blocks cut by limits.rangeBytes

	proofSem  chan struct{}      // commit and proof requests being served
	certifier *light.Certifier   // the light client's certificates, built and checked
	proofBusy prometheus.Counter // of them answered 429
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *server) status(w http.ResponseWriter, _ *http.Request) {
	st := s.b.Status()
	last := "" // no block committed yet
	if !st.LastBlockHash.IsZero() {
		last = st.LastBlockHash.String()
	}
	proven, err := s.b.Proven() // validators this node holds proof of misbehaviour against
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if proven == nil {
		proven = []uint32{}
	}
	links := []map[string]any{} // connection state with every other validator
	for _, l := range st.Links {
		links = append(links, map[string]any{"validator": l.Validator, "out": l.Out, "in": l.In})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"proven_byzantine": proven,
		"node":             st.Node, "chain_id": st.ChainID, "height": st.Height, "round": st.Round, "leader": st.Leader,
		"last_block_hash": last, "validators": st.Validators, "behavior": st.Behavior, "app": st.App,
		"txs_committed": st.TxsCommitted, "tps": st.TPS, "peers": st.Peers, "pending": st.Pending, "links": links,
		"app_error": appError(st.AppError), "catching_up": st.CatchingUp, "earliest_height": s.earliestHeight(st.Height),
	})
}

// blockJSON is a committed block as the contract shows it.
type blockJSON struct {
	Height     uint64   `json:"height"`
	Hash       string   `json:"hash"`
	ParentHash string   `json:"parent_hash"`
	Round      uint64   `json:"round"`
	Proposer   uint32   `json:"proposer"`
	Time       string   `json:"time"`
	Txs        []string `json:"txs"`
	QC         qcJSON   `json:"qc"`
	// StateRoot is the app hash after ExecHeight, in hex, of whatever
	// length the application gave it ("" for none).
	StateRoot  string `json:"state_root"`
	ExecHeight uint64 `json:"exec_height"`
	// FailedLeaders are the leaders of the rounds this block skipped, as
	// the leader rule recorded them (most recent first).
	FailedLeaders []uint32 `json:"failed_leaders"`
	// Evidence is the misbehaviour the block carries (recorded on the
	// ledger unless an earlier block recorded a proof against the same
	// validator in the window; see /v1/evidence).
	Evidence []evidenceJSON `json:"evidence"`
}

type evidenceJSON struct {
	Validator uint32 `json:"validator"`
	Kind      string `json:"kind"`
	Round     uint64 `json:"round"`
	Height    uint64 `json:"height,omitempty"` // of a double proposal's first block
}

type qcJSON struct {
	Round     uint64   `json:"round"`
	BlockHash string   `json:"block_hash"`
	Signers   []uint32 `json:"signers"`
}

func blockView(b *chain.Block, h chain.Hash, qc *chain.QC) blockJSON {
	v := blockJSON{
		Height: b.Height, Hash: h.String(), ParentHash: b.Parent.String(), Round: b.Round, Proposer: b.Proposer,
		Time: time.Unix(0, b.Time).UTC().Format(time.RFC3339Nano), Txs: []string{},
		StateRoot: hex.EncodeToString(b.StateRoot), ExecHeight: b.ExecHeight, FailedLeaders: []uint32{},
		Evidence: []evidenceJSON{},
	}
	v.FailedLeaders = append(v.FailedLeaders, b.FailedLeaders...)
	for _, e := range b.Evidence {
		v.Evidence = append(v.Evidence, evidenceJSON{Validator: e.Validator, Kind: string(e.Kind), Round: e.Round, Height: e.Height})
	}
	for _, tx := range b.Payload {
		v.Txs = append(v.Txs, chain.TxHash(tx).String())
	}
	if qc != nil {
		v.QC = qcJSON{Round: qc.Round, BlockHash: qc.BlockHash.String(), Signers: qc.Signers()}
	}
	return v
}

func (s *server) block(w http.ResponseWriter, r *http.Request) {
	h, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil || h == 0 {
		writeErr(w, http.StatusBadRequest, "height must be a positive integer")
		return
	}
	if s.gone(w, h) {
		return
	}
	b, hash, qc, ok := s.b.Store().CommittedBlock(h)
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no committed block at height %d", h))
		return
	}
	writeJSON(w, http.StatusOK, blockView(b, hash, qc))
}

func (s *server) validators(w http.ResponseWriter, _ *http.Request) {
	vals := s.b.Validators()
	out := []map[string]any{}
	for i := range uint32(vals.Len()) {
		v := vals.Get(i)
		out = append(out, map[string]any{
			"index": i, "address": chain.AddressOf(v.PubKey).String(), "pub_key": hex.EncodeToString(v.PubKey), "power": v.Power,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"validators": out})
}

// readBody reads a size-limited body, answering 413 or 400 itself.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", limit))
			return nil, false
		}
		writeErr(w, http.StatusBadRequest, "cannot read body")
		return nil, false
	}
	return body, true
}

// submitOne admits one transaction; it returns the JSON result and the
// HTTP status it deserves on its own.
func (s *server) submitOne(tx []byte) (map[string]any, int) {
	h, err := s.b.Submit(tx)
	return result(h, err)
}

// result is the JSON answer for one transaction and the HTTP status it
// deserves on its own.
func result(h chain.Hash, err error) (map[string]any, int) {
	switch {
	case err == nil, node.IsDuplicate(err):
		return map[string]any{"hash": h.String(), "status": "pending"}, http.StatusAccepted
	case node.IsBusy(err):
		return map[string]any{"error": "busy: " + err.Error()}, http.StatusServiceUnavailable
	default:
		return map[string]any{"error": err.Error()}, http.StatusBadRequest
	}
}

// evidence lists the misbehaviour this node has proven: recorded on its
// ledger (with the recording block's height) or still pending.
func (s *server) evidence(w http.ResponseWriter, _ *http.Request) {
	out := []map[string]any{}
	records, err := s.b.Evidence()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	for _, r := range records {
		e := r.Evidence
		height := e.Height
		if height == 0 {
			height = r.Height // a double vote names no block: use where it was recorded
		}
		out = append(out, map[string]any{
			"validator": e.Validator, "kind": string(e.Kind), "height": height, "round": e.Round,
			"on_ledger": r.Height > 0, "recorded_height": r.Height,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"evidence": out})
}

func (s *server) submit(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxTxBody)
	if !ok {
		return
	}
	res, code := s.submitOne(single(body))
	writeJSON(w, code, res)
}

// batch admits up to MaxBatchTxs newline-separated transactions; a bad
// line refuses only itself.
func (s *server) batch(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, MaxBatchBody)
	if !ok {
		return
	}
	// Count before splitting: 32 MiB of short lines would otherwise cost
	// hundreds of MiB of slice headers just to be refused.
	if n := bytes.Count(trimTerminators(body), []byte("\n")) + 1; n > MaxBatchTxs {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("%d transactions in one batch, at most %d", n, MaxBatchTxs))
		return
	}
	lines := batchLines(body)
	hashes, errs := s.b.SubmitBatch(lines)
	results := make([]map[string]any, len(lines))
	busy := 0
	for i := range lines {
		results[i], _ = result(hashes[i], errs[i])
		if node.IsBusy(errs[i]) {
			busy++
		}
	}
	if busy == len(lines) {
		// Nothing was taken: the node is full. Say so as a whole, so that
		// a client backs off instead of reading 10,000 refusals.
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusTooManyRequests, "busy: "+errs[0].Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

func (s *server) tx(w http.ResponseWriter, r *http.Request) {
	h, err := chain.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "hash must be 64 hex digits")
		return
	}
	st, ok, err := s.b.Tx(h)
	if s.goneErr(w, err) {
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeErr(w, http.StatusNotFound, s.unknownTx())
		return
	}
	out := map[string]any{"hash": h.String(), "status": st.Status, "height": nil, "error": nil}
	if st.Height > 0 {
		out["height"] = st.Height
	}
	if st.Error != "" {
		out["error"] = st.Error
	}
	if st.Status != "pending" {
		out["code"] = st.Code
	}
	writeJSON(w, http.StatusOK, out)
}

// unknownTx says why a transaction is unknown: never seen, or committed
// below the earliest height kept.
func (s *server) unknownTx() string {
	if e := s.b.Store().EarliestHeight(); e > 1 {
		return fmt.Sprintf("unknown transaction (not pending, and not committed at or above height %d, the earliest this node keeps)", e)
	}
	return "unknown transaction"
}

func (s *server) account(w http.ResponseWriter, r *http.Request) {
	a, err := parseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	bal, nonce, pending, ok, err := s.b.Account(a)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeErr(w, http.StatusNotFound, "this network runs no bank application")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"address": a.String(), "balance": bal, "nonce": nonce, "pending_nonce": pending})
}

func parseAddress(s string) (chain.Address, error) {
	var a chain.Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(a) {
		return a, fmt.Errorf("address must be %d hex digits", 2*len(a))
	}
	copy(a[:], b)
	return a, nil
}

func (s *server) kv(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	res, err := s.b.App().Query(r.Context(), app.Query{Data: []byte(key)})
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	if res.Code != 0 {
		writeErr(w, http.StatusBadRequest, res.Log)
		return
	}
	if res.Value == nil {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no key %q", key))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"key": key, "value": string(res.Value), "height": res.Height})
}
