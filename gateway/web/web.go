// Package web is the gateway's status page: one HTML page, a style sheet
// and a small script, embedded in the binary and served by the admin
// listener at / (the page) and /ui/ (its assets).
//
// The page holds no data and needs no token to load: its script reads the
// token from the URL fragment (never sent to the server) or a form, keeps
// it in the tab's sessionStorage, and calls the admin API's /v1 routes with
// it. Nothing is fetched from anywhere but the gateway, which the Content
// Security Policy enforces in the browser as well.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// AssetPrefix is where the page's script and style sheet are served.
const AssetPrefix = "/ui/"

//go:embed static
var static embed.FS

// contentTypes maps the embedded files' extensions to their types; a file
// of any other kind is refused at start, so none is served as a guess.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// csp lets the page load only its own script and style, and talk only to
// the gateway it came from.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// assets are the embedded files by name (index.html, app.js, ...).
var assets = mustLoad()

func mustLoad() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		ctype, ok := contentTypes[path.Ext(p)]
		if !ok {
			panic("web: embedded file " + p + " has no known content type")
		}
		sum := sha256.Sum256(body)
		out[path.Base(p)] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: " + err.Error())
	}
	return out
}

// Handler serves the page at / and its assets under AssetPrefix. The admin
// server mounts it for GET / and GET /ui/.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html") })
	mux.HandleFunc("GET "+AssetPrefix+"{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" { // the page lives at / only
			http.NotFound(w, r)
			return
		}
		serve(w, r, name)
	})
	return mux
}

func serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidated every time, so a new gateway's page is never mixed with
	// an old script; the ETag makes that a 304.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
