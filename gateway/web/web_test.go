package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestServesPageAndAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/ui/app.js" defer></script>`},
		{"/ui/app.js", "text/javascript; charset=utf-8", "/v1/status"},
		{"/ui/style.css", "text/css; charset=utf-8", "font:"},
	} {
		res := get(t, srv, c.path, nil)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != c.ctype || !strings.Contains(string(body), c.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", c.path, res.StatusCode, res.Header.Get("Content-Type"), c.contains, strings.Contains(string(body), c.contains))
		}
		for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "ETag"} {
			if res.Header.Get(h) == "" {
				t.Errorf("GET %s: no %s header", c.path, h)
			}
		}
		// The browser revalidates with the ETag and gets no body again.
		again := get(t, srv, c.path, map[string]string{"If-None-Match": res.Header.Get("ETag")})
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", c.path, again.StatusCode)
		}
	}
	for _, path := range []string{"/ui/nothing.js", "/ui/index.html", "/ui/", "/index.html", "/elsewhere"} {
		if res := get(t, srv, path, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", res.StatusCode)
	}
}

// TestNothingExternal: the page must work on a machine with no way out, so
// no embedded file may name anything but the gateway itself, and the CSP
// forbids the browser to fetch from elsewhere.
func TestNothingExternal(t *testing.T) {
	for _, want := range []string{"index.html", "app.js", "style.css"} {
		if len(assets[want].body) == 0 {
			t.Fatalf("%s is not embedded", want)
		}
	}
	// A scheme (http:, https:, ws:, ...) followed by //, a protocol-relative
	// //host in a src, href, url() or import, or a CSS @import.
	external := regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://|(src|href|action)\s*=\s*["']?//|url\(\s*["']?//|@import|\bimport\s*\(|importScripts`)
	for name, a := range assets {
		if m := external.Find(a.body); m != nil {
			t.Errorf("%s refers to something outside the gateway: %q", name, m)
		}
	}
	// The check itself must be able to fail.
	for _, bad := range []string{`<script src="https://cdn.example/x.js">`, `<link href="//fonts.example/f.css">`, `@import "x.css";`, `background: url(//img.example/a.png)`} {
		if !external.MatchString(bad) {
			t.Errorf("the check misses %q", bad)
		}
	}
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	csp := get(t, srv, "/", nil).Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "style-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
}
