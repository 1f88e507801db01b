package dataverseemu

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// harness runs an emulator behind a real HTTP listener with a bearer token.
type harness struct {
	t     *testing.T
	e     *Emulator
	srv   *httptest.Server
	token string
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	if opts.Users == nil {
		opts.Users = []string{"alice@example.com", "bob@example.com"}
	}
	e := New(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	h := &harness{t: t, e: e, srv: srv}
	h.token = h.fetchToken()
	return h
}

func (h *harness) fetchToken() string {
	h.t.Helper()
	form := url.Values{"client_id": {h.e.opts.ClientID}, "client_secret": {h.e.opts.ClientSecret},
		"grant_type": {"client_credentials"}, "scope": {h.srv.URL + "/.default"}}
	resp, err := http.PostForm(h.srv.URL+"/contoso.onmicrosoft.com/oauth2/v2.0/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&tok) != nil || tok.AccessToken == "" {
		h.t.Fatalf("token endpoint: status %d", resp.StatusCode)
	}
	return tok.AccessToken
}

// result is an answer with its body decoded (JSON numbers as json.Number).
type result struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r result) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

func (r result) get(path ...string) any {
	var v any = r.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func (r result) values() []map[string]any {
	arr, _ := r.body["value"].([]any)
	var out []map[string]any
	for _, x := range arr {
		out = append(out, x.(map[string]any))
	}
	return out
}

// do sends a request. path is relative to the server ("/api/data/v9.2/..."),
// or a full URL; headers come in name, value pairs.
func (h *harness) do(method, path string, body any, headers ...string) result {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	// query strings are written readably in the tests; spaces cannot go on
	// the wire as they are
	u := strings.ReplaceAll(path, " ", "%20")
	if !strings.HasPrefix(u, "http") {
		u = h.srv.URL + u
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Authorization" && headers[i+1] == "" {
			req.Header.Del("Authorization")
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := result{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		_ = dec.Decode(&res.body)
	}
	return res
}

const api = "/api/data/v9.2/"

// must fails the test unless the answer has the status.
func (r result) must(t *testing.T, status int) result {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	return r
}

// create POSTs a row and returns its id from OData-EntityId.
func (h *harness) create(set string, body any, headers ...string) string {
	h.t.Helper()
	r := h.do("POST", api+set, body, headers...).must(h.t, 204)
	loc := r.header.Get("OData-EntityId")
	i := strings.LastIndexByte(loc, '(')
	if i < 0 {
		h.t.Fatalf("no id in OData-EntityId %q", loc)
	}
	return strings.TrimSuffix(loc[i+1:], ")")
}

// wantError checks an error answer's status and the code and message.
func (r result) wantError(t *testing.T, status int, code, msgPart string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
	if got := r.str("error", "code"); got != code {
		t.Errorf("error code %q, want %q (body %s)", got, code, r.raw)
	}
	if got := r.str("error", "message"); !strings.Contains(got, msgPart) {
		t.Errorf("error message %q does not contain %q", got, msgPart)
	}
}
