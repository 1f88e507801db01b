package crm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// client speaks the Dataverse Web API: OAuth2 client credentials, the
// standard OData headers, impersonation, a cap on concurrent requests per
// Dataverse user, and errors mapped to the SDK's kinds.
type client struct {
	cfg  Config
	http *http.Client

	mu    sync.Mutex
	slots map[string]chan struct{} // per caller ("" = the application user)

	// tokenMu is held while a token is fetched, so that concurrent requests
	// wait for one new token instead of each fetching its own.
	tokenMu sync.Mutex
	token   string
	expires time.Time
}

func newClient(cfg Config) *client {
	// The timeout bounds a request whose context has none; Dataverse ends
	// its own requests after two minutes.
	return &client{cfg: cfg, http: &http.Client{Timeout: 2 * time.Minute}, slots: map[string]chan struct{}{}}
}

// request is one call of the Web API.
type request struct {
	method string
	url    string // absolute, or relative to the Web API address
	body   any    // JSON-encoded when not nil
	prefer []string
	header map[string]string
	caller string // the systemuserid to impersonate; "" acts as the application user
}

// response is a successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode parses the body into v, keeping numbers exact (versions are
// 64-bit). A body that does not parse is retryable: a proxy or the service
// cut it short.
func (r *response) decode(v any) error {
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return sdk.NewError(sdk.ErrRetryable, "the Web API answered %d with a body that is not valid JSON (%v): %.200q", r.status, err, r.body)
	}
	return nil
}

// do sends one request. A 401 is retried once with a fresh token, since a
// token may be revoked or expire before the time it announced; every other
// failure is returned as a typed error for the engine to act on (the engine
// owns retries and waits).
func (c *client) do(ctx context.Context, rq request) (*response, error) {
	release, err := c.acquire(ctx, rq.caller)
	if err != nil {
		return nil, err
	}
	defer release()
	refused := ""
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx, refused)
		if err != nil {
			return nil, err
		}
		resp, err := c.send(ctx, rq, tok)
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusUnauthorized && attempt == 0 {
			refused = tok
			continue
		}
		if resp.status >= 300 {
			return nil, apiError(rq, resp)
		}
		return resp, nil
	}
}

func (c *client) send(ctx context.Context, rq request, token string) (*response, error) {
	target := rq.url
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = c.cfg.URL + "/" + strings.TrimLeft(target, "/")
	} else if !strings.HasPrefix(target, c.cfg.URL+"/") {
		// A link from a page, a cursor or a page token that leads off the
		// org would carry the org's bearer token with it.
		return nil, sdk.NewError(sdk.ErrPermanent, "refusing to follow %s: it is not under the org's Web API address %s", redact(target), c.cfg.URL)
	}
	var body io.Reader
	if rq.body != nil {
		b, err := json.Marshal(rq.body)
		if err != nil {
			return nil, sdk.NewError(sdk.ErrPermanent, "encode the request to %s: %v", rq.method, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, target, body)
	if err != nil {
		return nil, sdk.NewError(sdk.ErrPermanent, "build the request %s %s: %v", rq.method, target, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-MaxVersion", "4.0")
	req.Header.Set("OData-Version", "4.0")
	if rq.body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if len(rq.prefer) > 0 {
		req.Header.Set("Prefer", strings.Join(rq.prefer, ","))
	}
	if rq.caller != "" {
		req.Header.Set("MSCRMCallerID", rq.caller)
	}
	for k, v := range rq.header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, sdk.NewError(sdk.ErrRetryable, "%s %s: %v", rq.method, redact(target), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, sdk.NewError(sdk.ErrRetryable, "%s %s: reading the answer: %v", rq.method, redact(target), err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// acquire takes one of the caller's request slots: Dataverse refuses more
// than 52 concurrent requests per user, and a refusal costs more than a
// short wait here.
func (c *client) acquire(ctx context.Context, caller string) (func(), error) {
	c.mu.Lock()
	ch, ok := c.slots[caller]
	if !ok {
		ch = make(chan struct{}, c.cfg.MaxConcurrent)
		c.slots[caller] = ch
	}
	c.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// accessToken returns the cached token, or a new one when it is near
// expiry or is the token refused (the one the API just answered 401 to).
func (c *client) accessToken(ctx context.Context, refresh string) (string, error) {
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	// A token other than the refused one was fetched meanwhile: use it.
	if c.token != "" && c.token != refresh && time.Now().Before(c.expires) {
		return c.token, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
		"scope":         {c.cfg.Scope},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.tokenURL(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", sdk.NewError(sdk.ErrConfig, "token endpoint %s: %v; check authority_url and tenant_id", c.cfg.tokenURL(), err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", sdk.NewError(sdk.ErrRetryable, "token endpoint %s unreachable: %v", c.cfg.tokenURL(), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var tok struct {
		AccessToken string      `json:"access_token"`
		ExpiresIn   json.Number `json:"expires_in"`
		Error       string      `json:"error"`
		Description string      `json:"error_description"`
	}
	jsonErr := json.Unmarshal(body, &tok)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return "", sdk.NewError(sdk.ErrRetryable, "token endpoint answered %d: %s %s", resp.StatusCode, tok.Error, tok.Description)
	case resp.StatusCode >= 400 || tok.Error != "":
		// invalid_client, unauthorized_client, invalid_scope...: the
		// credentials or the app registration are wrong, which no retry
		// mends.
		return "", sdk.NewError(sdk.ErrAuth, "the token endpoint %s refused the client credentials (%d %s: %s); check tenant_id, client_id, client_secret and that the app is an application user of the org",
			c.cfg.tokenURL(), resp.StatusCode, tok.Error, firstLine(tok.Description))
	case jsonErr != nil || tok.AccessToken == "":
		return "", sdk.NewError(sdk.ErrRetryable, "token endpoint answered %d without an access token: %.200q", resp.StatusCode, body)
	}
	ttl := 3600 * time.Second
	if n, err := tok.ExpiresIn.Int64(); err == nil && n > 0 {
		ttl = time.Duration(n) * time.Second
	}
	// Renew a minute early (or halfway, for short-lived tokens) so that a
	// request never leaves with a token about to lapse.
	c.token, c.expires = tok.AccessToken, time.Now().Add(ttl-min(time.Minute, ttl/2))
	return c.token, nil
}

// apiErrorBody is the Web API's error shape: {"error":{"code","message"}}.
type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// apiError maps a failed answer to the SDK's error kinds.
func apiError(rq request, resp *response) *sdk.Error {
	var b apiErrorBody
	msg := ""
	if json.Unmarshal(resp.body, &b) == nil && b.Error.Message != "" {
		msg = b.Error.Message
		if b.Error.Code != "" {
			msg = b.Error.Code + " " + msg
		}
	} else if len(resp.body) > 0 {
		msg = fmt.Sprintf("%.200q", resp.body)
	}
	what := fmt.Sprintf("%s %s: %d", rq.method, redact(rq.url), resp.status)
	if msg != "" {
		what += " " + msg
	}
	retryAfter := parseRetryAfter(resp.header.Get("Retry-After"))
	switch s := resp.status; {
	case s == http.StatusTooManyRequests:
		// Dataverse's service protection limits count per user: the
		// impersonated one, or the application user for the feeds.
		scope := sdk.ThrottleScopeWide
		if rq.caller == "" {
			scope = sdk.ThrottleEndpoint
		}
		if retryAfter <= 0 {
			retryAfter = 5 * time.Second
		}
		return sdk.Throttled(retryAfter, scope, "%s", what)
	case s == http.StatusServiceUnavailable && retryAfter > 0:
		return sdk.Throttled(retryAfter, sdk.ThrottleEndpoint, "%s", what)
	case s == http.StatusUnauthorized:
		return sdk.NewError(sdk.ErrAuth, "%s; the org refused a fresh token: check that the app registration is an application user of the org with a security role", what)
	case s == http.StatusForbidden:
		return sdk.NewError(sdk.ErrPermanent, "%s; the user lacks a privilege for this record (or the application user may not act on behalf of others)", what)
	case s == http.StatusNotFound:
		return sdk.NewError(sdk.ErrNotFound, "%s", what)
	case s == http.StatusPreconditionFailed:
		return sdk.Conflict("", "%s", what)
	case s == http.StatusRequestTimeout || s >= 500:
		return sdk.NewError(sdk.ErrRetryable, "%s", what)
	}
	return sdk.NewError(sdk.ErrPermanent, "%s", what)
}

// parseRetryAfter reads Retry-After in seconds (Dataverse) or as an HTTP
// date; 0 if absent or unreadable.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var secs float64
	if _, err := fmt.Sscanf(v, "%g", &secs); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// redact drops the query from a URL for messages: paging cookies and delta
// tokens are long and say nothing to an operator.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}
