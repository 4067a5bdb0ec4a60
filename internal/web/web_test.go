package web

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIndexAtRoot(t *testing.T) {
	r := get(t, Handler(), http.MethodGet, "/")
	b := body(t, r)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<html lang="en">`, `<script type="module" src="/web/js/app.js">`, `name="viewport"`, `id="main"`} {
		if !strings.Contains(b, want) {
			t.Errorf("index lacks %s", want)
		}
	}
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag"} {
		if r.Header.Get(k) == "" {
			t.Errorf("GET /: no %s header", k)
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q: want scripts from the node only", csp)
	}
	if head := get(t, Handler(), http.MethodHead, "/"); head.StatusCode != http.StatusOK || body(t, head) != "" {
		t.Errorf("HEAD /: %d", head.StatusCode)
	}
}

// TestAssetContentTypes serves every embedded file with the media type of
// its extension: a module script served as anything but JavaScript, or a
// style sheet as anything but CSS, is refused by the browser under
// nosniff.
func TestAssetContentTypes(t *testing.T) {
	h := Handler()
	n := 0
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, ok := contentTypes[path.Ext(p)]
		if !ok {
			t.Errorf("%s: embedded but never served (unknown extension)", p)
			return nil
		}
		url := AssetPrefix + strings.TrimPrefix(p, "assets/")
		r := get(t, h, http.MethodGet, url)
		raw, _ := assets.ReadFile(p)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != want || body(t, r) != string(raw) {
			t.Errorf("GET %s: %d %q, want 200 %q with the file", url, r.StatusCode, r.Header.Get("Content-Type"), want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for url, want := range map[string]string{
		"/web/style.css":   "text/css; charset=utf-8",
		"/web/js/app.js":   "text/javascript; charset=utf-8",
		"/web/favicon.svg": "image/svg+xml",
		"/web/index.html":  "text/html; charset=utf-8",
	} {
		if got := get(t, h, http.MethodGet, url).Header.Get("Content-Type"); got != want {
			t.Errorf("GET %s: %q, want %q", url, got, want)
		}
	}
	if n < 8 {
		t.Errorf("only %d assets embedded", n)
	}
}

func TestUnknownPaths404(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/web/nope.js", "/web/", "/web/js/", "/web/../web.go", "/index.html", "/anything", "/web/assets/style.css"} {
		r := get(t, h, http.MethodGet, p)
		var m map[string]string
		if err := json.Unmarshal([]byte(body(t, r)), &m); err != nil || m["error"] == "" {
			t.Errorf("GET %s: body is not a JSON error: %v", p, err)
		}
		if r.StatusCode != http.StatusNotFound || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %q, want 404 JSON", p, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	if r := get(t, h, http.MethodPost, "/web/style.css"); r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST an asset: %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
}

func TestConditionalGet(t *testing.T) {
	h := Handler()
	r := get(t, h, http.MethodGet, "/web/style.css")
	tag := r.Header.Get("ETag")
	if tag == "" || r.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", tag, r.Header.Get("Cache-Control"))
	}
	if r := get(t, h, http.MethodGet, "/web/style.css", "If-None-Match", tag); r.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation with the current ETag: %d, want 304", r.StatusCode)
	}
	if r := get(t, h, http.MethodGet, "/web/style.css", "If-None-Match", `"stale"`); r.StatusCode != http.StatusOK {
		t.Errorf("revalidation with a stale ETag: %d, want 200", r.StatusCode)
	}
}

// TestReferencesResolve checks that every asset the page names exists:
// the src and href attributes of index.html that point under /web/, and
// every module imported by the scripts.
func TestReferencesResolve(t *testing.T) {
	h := Handler()
	index := body(t, get(t, h, http.MethodGet, "/"))
	refs := regexp.MustCompile(`(?:src|href)="(/web/[^"]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index names %d assets", len(refs))
	}
	for _, m := range refs {
		if r := get(t, h, http.MethodGet, m[1]); r.StatusCode != http.StatusOK {
			t.Errorf("index.html names %s: %d", m[1], r.StatusCode)
		}
	}
	imports := regexp.MustCompile(`(?m)^import .* from '\./([a-z]+\.js)';$`)
	scripts, err := fs.Glob(assets, "assets/js/*.js")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, s := range scripts {
		src, _ := assets.ReadFile(s)
		for _, m := range imports.FindAllStringSubmatch(string(src), -1) {
			if r := get(t, h, http.MethodGet, AssetPrefix+"js/"+m[1]); r.StatusCode != http.StatusOK {
				t.Errorf("%s imports %s: %d", s, m[1], r.StatusCode)
			}
		}
		if strings.Contains(string(src), "innerHTML") {
			t.Errorf("%s uses innerHTML: build elements with textContent (dom.js)", s)
		}
	}
}
