package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/strategos/strategos/internal/app"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/light"
	"github.com/strategos/strategos/internal/smt"
)

// MaxProofRequests bounds the commit and proof requests served at once:
// each reads a few blocks and checks a certificate's signatures, so a
// flood of them is answered 429 rather than queued.
const MaxProofRequests = 32

// certCacheSize is how many committed headers (some 600 bytes each, their
// payloads not kept) and checked certificates (a few KiB) a node keeps for
// the light client.
const certCacheSize = 1024

// latestTries is how many heights below the latest carried root the
// default height of a proof steps down to find one that is certified.
const latestTries = 16

// proofRoutes adds the light client's routes for the node's app.
func (s *server) proofRoutes(mux *http.ServeMux, appName string) {
	s.proofSem = make(chan struct{}, MaxProofRequests)
	s.certifier = light.NewCertifier(s.b.Store(), s.b.Status().ChainID, s.b.Validators(), certCacheSize)
	mux.HandleFunc("GET /v1/commits/{height}", s.limited(s.commit))
	mux.HandleFunc("GET /v1/txs/{hash}/proof", s.limited(s.txProof))
	switch appName {
	case "kv":
		mux.HandleFunc("GET /v1/proofs/kv/{key}", s.limited(s.kvProof))
	case "bank":
		mux.HandleFunc("GET /v1/proofs/accounts/{address}", s.limited(s.accountProof))
	}
}

// limited answers 429 when MaxProofRequests are being served.
func (s *server) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.proofSem <- struct{}{}:
			defer func() { <-s.proofSem }()
			h(w, r)
		default:
			s.proofBusy.Inc()
			writeErr(w, http.StatusTooManyRequests, fmt.Sprintf("%d proof requests are being served; try again", MaxProofRequests))
		}
	}
}

// certified is the checked certificate of height (see light.Certifier).
func (s *server) certified(height uint64) (*light.Certificate, light.Commit, error) {
	return s.certifier.Certify(height)
}

func (s *server) commit(w http.ResponseWriter, r *http.Request) {
	h, err := strconv.ParseUint(r.PathValue("height"), 10, 64)
	if err != nil || h == 0 {
		writeErr(w, http.StatusBadRequest, "height must be a positive integer")
		return
	}
	if s.gone(w, h) {
		return
	}
	c, cm, err := s.certified(h)
	if err != nil {
		writeErr(w, certStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, light.NewResponse(cm, c))
}

func certStatus(err error) int {
	if errors.Is(err, light.ErrNotCertified) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// proofHeight returns the height asked for, or the latest whose root is
// certified, with its commit.
func (s *server) proofHeight(r *http.Request) (uint64, light.Commit, error) {
	if v := r.URL.Query().Get("height"); v != "" {
		h, err := strconv.ParseUint(v, 10, 64)
		if err != nil || h == 0 {
			return 0, light.Commit{}, errBadHeight
		}
		if err := s.b.Store().Pruned(h); err != nil {
			return 0, light.Commit{}, err
		}
		_, cm, err := s.certified(h)
		return h, cm, err
	}
	top := s.b.Store().CommittedHeight()
	var carried uint64
	for h := top; h > 0 && h+latestTries > top; h-- {
		if b, _, _, ok := s.b.Store().CommittedBlock(h); ok {
			carried = max(carried, b.ExecHeight)
		}
	}
	var last error = fmt.Errorf("%w: no committed block carries a state root yet", light.ErrNotCertified)
	for h := carried; h > 0 && h+latestTries > carried; h-- {
		_, cm, err := s.certified(h)
		if err == nil {
			return h, cm, nil
		}
		last = err
	}
	return 0, light.Commit{}, last
}

var errBadHeight = errors.New("height must be a positive integer")

func (s *server) kvProof(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if key == "" {
		writeErr(w, http.StatusBadRequest, "empty key")
		return
	}
	s.prove(w, r, []byte(key), app.Query{Data: []byte(key)})
}

func (s *server) accountProof(w http.ResponseWriter, r *http.Request) {
	a, err := parseAddress(r.PathValue("address"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	s.prove(w, r, a[:], app.Query{Path: "account", Data: a[:]})
}

// prove answers a proof of key's value at the height asked (or the latest
// certified), against that height's certified root.
func (s *server) prove(w http.ResponseWriter, r *http.Request, key []byte, q app.Query) {
	h, cm, err := s.proofHeight(r)
	switch {
	case errors.Is(err, errBadHeight):
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	case s.goneErr(w, err):
		return
	case err != nil:
		writeErr(w, certStatus(err), err.Error())
		return
	}
	q.Height, q.Prove = h, true
	res, err := s.b.App().Query(r.Context(), q)
	switch {
	case errors.Is(err, app.ErrNotKept):
		out := map[string]any{"error": err.Error(), "height": h}
		if nk := (*app.NotKeptError)(nil); errors.As(err, &nk) {
			out["earliest_height"] = nk.Earliest
		}
		writeJSON(w, http.StatusGone, out)
		return
	case err != nil:
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	case res.Code != 0:
		writeErr(w, http.StatusBadRequest, res.Log)
		return
	}
	// The node's own tree must prove against the certified root: if it
	// does not, this node's state differs from what a quorum certified.
	if err := smt.VerifyProof(cm.StateRoot, key, res.Value, res.Proof); err != nil {
		writeErr(w, http.StatusInternalServerError, fmt.Sprintf("this node's state at height %d does not match the certified root: %v", h, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"height": h, "key": hex.EncodeToString(key), "value": hex.EncodeToString(res.Value),
		"root": hex.EncodeToString(cm.StateRoot), "spec": res.ProofSpec, "proof": hex.EncodeToString(res.Proof),
	})
}

// txProof answers GET /v1/txs/{hash}/proof: the committed block that
// holds the transaction, and the proof that its hash is under the
// block's payload hash (chain.TxProof). What the proof shows is
// inclusion in a block; the transaction's outcome is not certified.
func (s *server) txProof(w http.ResponseWriter, r *http.Request) {
	h, err := chain.ParseHash(r.PathValue("hash"))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "hash must be 64 hex digits")
		return
	}
	st, ok, err := s.b.Tx(h)
	switch {
	case s.goneErr(w, err):
		return
	case err != nil:
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	case !ok || st.Height == 0:
		writeErr(w, http.StatusNotFound, "no committed block holds this transaction")
		return
	}
	if s.gone(w, st.Height) {
		return
	}
	b, _, _, ok := s.b.Store().CommittedBlock(st.Height)
	if !ok {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("block %d is not kept", st.Height))
		return
	}
	hashes := chain.TxHashes(b.Payload)
	at := slices.Index(hashes, h)
	if at < 0 {
		writeErr(w, http.StatusInternalServerError, fmt.Sprintf("block %d does not hold the transaction its index names", st.Height))
		return
	}
	p, err := chain.ProveTx(hashes, at)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"height": st.Height, "hash": h.String(), "proof": p})
}
