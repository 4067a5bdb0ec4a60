package api

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/strategos/strategos/internal/app"
)

// maxQueryData bounds the data of GET /v1/abci/query (hex in the URL).
const maxQueryData = 16 << 10

// appError is the status's app_error: why the application is unusable,
// or null.
func appError(why string) any {
	if why == "" {
		return nil
	}
	return why
}

// abciInfo answers GET /v1/abci/info: what the application reports of
// itself, as ABCI's Info does.
func (s *server) abciInfo(w http.ResponseWriter, r *http.Request) {
	info, err := s.b.App().Info(r.Context())
	if err != nil {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data": info.Data, "version": info.Version, "app_version": info.AppVersion,
		"last_block_height": info.Height, "last_block_app_hash": hex.EncodeToString(info.AppHash),
	})
}

// abciQuery answers GET /v1/abci/query?path=P&data=HEX[&height=H].
func (s *server) abciQuery(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := s.b.App().Query(r.Context(), q)
	if errors.Is(err, app.ErrUnavailable) {
		writeErr(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if err != nil {
		writeErr(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"code": res.Code, "log": res.Log, "info": res.Info, "key": hex.EncodeToString(res.Key),
		"value": hex.EncodeToString(res.Value), "height": res.Height,
	})
}

func parseQuery(r *http.Request) (app.Query, error) {
	v := r.URL.Query()
	data := strings.TrimPrefix(v.Get("data"), "0x")
	if len(data) > 2*maxQueryData {
		return app.Query{}, errors.New("data too large")
	}
	b, err := hex.DecodeString(data)
	if err != nil {
		return app.Query{}, errors.New("data must be hex")
	}
	q := app.Query{Path: v.Get("path"), Data: b}
	if h := v.Get("height"); h != "" {
		if q.Height, err = strconv.ParseUint(h, 10, 64); err != nil {
			return app.Query{}, errors.New("height must be a non-negative integer")
		}
	}
	return q, nil
}
