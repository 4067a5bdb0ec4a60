package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strategos/strategos/internal/generals"
)

// Bounds of GET /v1/generals. The endpoint is pure computation that any
// client may ask for, so its sizes are small enough that one run takes
// milliseconds, at most two run at once, and a run that still takes too
// long is answered 503 (it finishes in the background, holding its slot).
const (
	generalsMaxN       = 10
	generalsMaxM       = 3
	generalsMaxWork    = 1 << 22 // message deliveries of an exhaustive search
	generalsTimeout    = 5 * time.Second
	generalsConcurrent = 2
)

// generalsHandler serves GET /v1/generals: one run of internal/generals
// (or an exhaustive search), answered with the JSON of `strategos generals
// --json` and the trace. It reads nothing from the node and changes
// nothing.
type generalsHandler struct {
	slots chan struct{}
}

func newGeneralsHandler() *generalsHandler {
	return &generalsHandler{slots: make(chan struct{}, generalsConcurrent)}
}

func (g *generalsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg, exhaustive, err := generalsConfig(r.URL.Query())
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	select {
	case g.slots <- struct{}{}:
	default:
		writeErr(w, http.StatusServiceUnavailable, "busy: too many generals runs at once, try again")
		return
	}
	type answer struct {
		out generals.Report
		err error
	}
	done := make(chan answer, 1)
	go func() {
		defer func() { <-g.slots }()
		out, err := runGenerals(cfg, exhaustive)
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		switch {
		case errors.Is(a.err, generals.ErrTooLarge), errors.Is(a.err, generals.ErrInvalid):
			writeErr(w, http.StatusBadRequest, a.err.Error())
		case a.err != nil:
			writeErr(w, http.StatusInternalServerError, a.err.Error())
		default:
			writeJSON(w, http.StatusOK, a.out)
		}
	case <-time.After(generalsTimeout):
		writeErr(w, http.StatusServiceUnavailable, "generals run took too long")
	case <-r.Context().Done():
	}
}

func runGenerals(cfg generals.Config, exhaustive bool) (generals.Report, error) {
	if !exhaustive {
		res, err := generals.Run(cfg)
		if err != nil {
			return generals.Report{}, err
		}
		return generals.NewReport(cfg, res), nil
	}
	s, err := generals.Exhaust(cfg, generalsMaxWork)
	if err != nil {
		return generals.Report{}, err
	}
	return generals.NewSearchReport(cfg, s), nil
}

// generalsConfig reads a run from the query, with the defaults of
// `strategos generals`, and refuses sizes beyond the endpoint's bounds.
func generalsConfig(q url.Values) (generals.Config, bool, error) {
	cfg := generals.Config{Generals: 4, Seed: 1, Order: generals.Attack}
	var err error
	str := func(name, def string) string {
		if v := q.Get(name); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def, lo, hi int) (int, error) {
		s := q.Get(name)
		if s == "" {
			return def, nil
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("generals: %s must be an integer from %d to %d, got %q", name, lo, hi, s)
		}
		return v, nil
	}
	boolean := func(name string) (bool, error) {
		s := q.Get(name)
		if s == "" {
			return false, nil
		}
		v, err := strconv.ParseBool(s)
		if err != nil {
			return false, fmt.Errorf("generals: %s must be true or false, got %q", name, s)
		}
		return v, nil
	}
	if cfg.Algorithm, err = generals.ParseAlgorithm(str("algorithm", "om")); err != nil {
		return cfg, false, err
	}
	if cfg.Order, err = generals.ParseValue(str("order", "attack")); err != nil {
		return cfg, false, err
	}
	if cfg.Strategy, err = generals.ParseStrategy(str("strategy", "flip")); err != nil {
		return cfg, false, err
	}
	if cfg.Generals, err = num("generals", 4, 2, generalsMaxN); err != nil {
		return cfg, false, err
	}
	if s := q.Get("seed"); s != "" {
		if cfg.Seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			return cfg, false, fmt.Errorf("generals: seed must be an unsigned integer, got %q", s)
		}
	}
	if ids := q.Get("traitor_ids"); ids != "" {
		for part := range strings.SplitSeq(ids, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil || id < 0 || id >= cfg.Generals {
				return cfg, false, fmt.Errorf("generals: traitor_ids: %q is not a general id in 0..%d (0 is the commander)", part, cfg.Generals-1)
			}
			cfg.Traitors = append(cfg.Traitors, id)
		}
	} else {
		t, err := num("traitors", 1, 0, cfg.Generals)
		if err != nil {
			return cfg, false, err
		}
		if cfg.Traitors, err = generals.PickTraitors(cfg.Generals, t, cfg.Seed); err != nil {
			return cfg, false, err
		}
	}
	if q.Get("m") == "" && len(cfg.Traitors) > generalsMaxM {
		return cfg, false, fmt.Errorf("generals: m defaults to the number of traitors (%d), more than %d; give m", len(cfg.Traitors), generalsMaxM)
	}
	if cfg.M, err = num("m", len(cfg.Traitors), 0, generalsMaxM); err != nil {
		return cfg, false, err
	}
	if cfg.Trace, err = boolean("trace"); err != nil {
		return cfg, false, err
	}
	exhaustive, err := boolean("exhaustive")
	if err != nil {
		return cfg, false, err
	}
	return cfg, exhaustive, cfg.Validate()
}
