package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// AssetPrefix is the URL path under which the page's assets are served.
const AssetPrefix = "/web/"

// contentTypes maps the extensions of the embedded files to their media
// types. It is fixed here rather than read from the system's MIME
// database, which differs between machines (a module script must be
// served as JavaScript, or the browser refuses it).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".txt":  "text/plain; charset=utf-8",
	".md":   "text/plain; charset=utf-8",
}

// csp allows the page nothing but its own origin: no inline script, no
// third-party code, no framing.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	files map[string]asset // by URL path
}

// Handler serves the page at "/" and the embedded assets under
// AssetPrefix; any other path is answered 404 with a JSON error, as the
// API answers unknown routes.
func Handler() http.Handler {
	h := &handler{files: map[string]asset{}}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil // not served
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		h.files[AssetPrefix+strings.TrimPrefix(p, "assets/")] = a
		return nil
	})
	if err != nil {
		panic("web: embedded assets unreadable: " + err.Error()) // the binary itself is broken
	}
	index, ok := h.files[AssetPrefix+"index.html"]
	if !ok {
		panic("web: no embedded index.html")
	}
	h.files["/"] = index
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a, ok := h.files[r.URL.Path]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		w.Header().Set("Content-Type", "application/json")
		code, msg := http.StatusNotFound, "no such page or asset "+r.URL.Path
		if ok {
			w.Header().Set("Allow", "GET, HEAD")
			code, msg = http.StatusMethodNotAllowed, "method "+r.Method+" not allowed"
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("ETag", a.etag)
	hd.Set("Cache-Control", "no-cache") // revalidate: a new binary may serve new assets
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", csp)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
