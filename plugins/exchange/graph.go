package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/syncgate/syncgate/sdk"
)

// graphClient speaks Graph v1.0 over plain net/http: app-only tokens from
// the client credentials flow, the Prefer headers every request needs, at
// most Config.Concurrency requests in flight per mailbox, and Graph's
// answers turned into the SDK's typed errors.
type graphClient struct {
	cfg  Config
	http *http.Client
	cc   clientcredentials.Config
	base *url.URL

	mu  sync.Mutex
	tok *oauth2.Token

	semMu sync.Mutex
	sems  map[string]chan struct{}
}

// defaultThrottleWait is used when a 429 or 503 carries no Retry-After,
// which Graph's guidance says to treat as "back off a little".
const defaultThrottleWait = 10 * time.Second

// maxBody bounds what is read of one response: a page of a delta query or
// one item with its extended properties is far below it.
const maxBody = 64 << 20

func newGraphClient(cfg Config, hc *http.Client) (*graphClient, error) {
	base, err := url.Parse(cfg.GraphURL)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = &http.Client{Timeout: 100 * time.Second}
	}
	return &graphClient{
		cfg: cfg, http: hc, base: base, sems: map[string]chan struct{}{},
		cc: clientcredentials.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.tokenURL(),
			Scopes: []string{graphScope}, AuthStyle: oauth2.AuthStyleInParams,
		},
	}, nil
}

// token returns a valid access token, fetching a new one when the cached
// one is missing, expiring, or (force) was just refused by Graph.
func (g *graphClient) token(ctx context.Context, force bool) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !force && g.tok != nil && g.tok.Expiry.After(time.Now().Add(time.Minute)) {
		return g.tok.AccessToken, nil
	}
	tok, err := g.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, g.http))
	if err != nil {
		return "", tokenError(g.cfg, err)
	}
	g.tok = tok
	return tok.AccessToken, nil
}

// tokenError types a failure of the token endpoint: refused credentials
// pause the endpoint, anything else is passing.
func tokenError(cfg Config, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		switch code := re.Response.StatusCode; {
		case code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusForbidden:
			detail := re.ErrorDescription
			if detail == "" {
				detail = re.ErrorCode
			}
			if detail == "" {
				detail = strings.TrimSpace(string(re.Body))
			}
			return sdk.NewError(sdk.ErrAuth, "the token endpoint %s refused the client credentials (HTTP %d: %s): check tenant_id, client_id and client_secret of the app registration",
				cfg.tokenURL(), code, truncate(detail, 300))
		case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
			return sdk.Throttled(retryAfter(re.Response.Header, defaultThrottleWait), sdk.ThrottleEndpoint, "the token endpoint %s is throttling (HTTP %d)", cfg.tokenURL(), code)
		}
	}
	return sdk.NewError(sdk.ErrRetryable, "getting a token from %s: %v", cfg.tokenURL(), err)
}

// acquire takes one of the mailbox's request slots, waiting for one while
// ctx lasts; release gives it back.
func (g *graphClient) acquire(ctx context.Context, mailbox string) (release func(), err error) {
	key := strings.ToLower(mailbox) // one mailbox, however a binding spells it
	g.semMu.Lock()
	sem, ok := g.sems[key]
	if !ok {
		sem = make(chan struct{}, g.cfg.Concurrency)
		g.sems[key] = sem
	}
	g.semMu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, sdk.NewError(sdk.ErrRetryable, "waiting for a request slot of mailbox %s: %v", mailbox, ctx.Err())
	}
}

// call is one Graph request.
type call struct {
	method  string
	path    string // relative to graph_url ("/users/..."), or an absolute link Graph gave
	mailbox string // whose request slots it uses and whom a throttle holds back
	body    any
	ifMatch string
	prefer  []string // beyond the ones every request carries
}

// status is an HTTP answer that is not an error of its own, for callers that
// tell answers apart (a GET that says 404 means "deleted").
type status struct {
	code   int
	header http.Header
}

// Inside a delta round a throttled request is waited out and sent again
// (a nextLink may be replayed), up to these bounds: giving up would throw
// away every page of the round read so far, and a round of many pages
// would then never end while Graph throttles a share of requests.
const (
	maxRoundWaits   = 10
	maxRoundWaitFor = 30 * time.Second
)

type roundKey struct{}

// inRound marks ctx as a delta round's: throttled requests are retried
// after their Retry-After instead of failing the round.
func inRound(ctx context.Context) context.Context { return context.WithValue(ctx, roundKey{}, true) }

// do sends c and decodes a 2xx JSON answer into out (when not nil). Any
// other answer is a typed *sdk.Error; a 401 is retried once with a fresh
// token before it counts as refused credentials.
func (g *graphClient) do(ctx context.Context, c call, out any) (status, error) {
	for waits := 0; ; waits++ {
		st, err := g.doOnce(ctx, c, out)
		e := sdk.AsError(err)
		if e == nil || e.Kind != sdk.ErrThrottled || ctx.Value(roundKey{}) == nil || waits >= maxRoundWaits || e.RetryAfter > maxRoundWaitFor {
			return st, err
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) < e.RetryAfter {
			return st, err
		}
		t := time.NewTimer(e.RetryAfter)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return st, err
		}
	}
}

func (g *graphClient) doOnce(ctx context.Context, c call, out any) (status, error) {
	target, err := g.resolve(c.path)
	if err != nil {
		return status{}, err
	}
	var payload []byte
	if c.body != nil {
		if payload, err = json.Marshal(c.body); err != nil {
			return status{}, sdk.NewError(sdk.ErrPermanent, "encoding the request body: %v", err)
		}
	}
	release, err := g.acquire(ctx, c.mailbox)
	if err != nil {
		return status{}, err
	}
	defer release()
	for attempt := 0; ; attempt++ {
		tok, err := g.token(ctx, attempt > 0)
		if err != nil {
			return status{}, err
		}
		req, err := http.NewRequestWithContext(ctx, c.method, target, bytes.NewReader(payload))
		if err != nil {
			return status{}, sdk.NewError(sdk.ErrPermanent, "building %s %s: %v", c.method, target, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		// One Prefer line with every preference: RFC 7240 allows either
		// form, and one line survives proxies that keep only the first.
		req.Header.Set("Prefer", strings.Join(append([]string{`IdType="ImmutableId"`, `outlook.timezone="UTC"`}, c.prefer...), ", "))
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.ifMatch != "" {
			req.Header.Set("If-Match", c.ifMatch)
		}
		resp, err := g.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return status{}, sdk.NewError(sdk.ErrRetryable, "%s %s: %v", c.method, redact(target), ctx.Err())
			}
			return status{}, sdk.NewError(sdk.ErrRetryable, "%s %s: %v", c.method, redact(target), err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		st := status{code: resp.StatusCode, header: resp.Header}
		if err != nil {
			return st, sdk.NewError(sdk.ErrRetryable, "%s %s: reading the answer: %v", c.method, redact(target), err)
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			continue // the token may have been revoked or expired early: one fresh try
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return st, g.mapError(c, target, resp.StatusCode, resp.Header, body)
		}
		if out != nil && resp.StatusCode != http.StatusNoContent && len(bytes.TrimSpace(body)) > 0 { // a 200 may come without a body
			if err := json.Unmarshal(body, out); err != nil {
				return st, sdk.NewError(sdk.ErrRetryable, "%s %s: Graph answered HTTP %d with a body that is not the expected JSON (%v): %s",
					c.method, redact(target), resp.StatusCode, err, truncate(string(body), 200))
			}
		}
		return st, nil
	}
}

// resolve turns a path into a URL under graph_url. An absolute link (a
// nextLink or deltaLink) must point under graph_url too: the bearer token is
// never sent anywhere else, whatever a response or a stored cursor says.
func (g *graphClient) resolve(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		return g.cfg.GraphURL + p, nil
	}
	u, err := url.Parse(p)
	if err != nil || !strings.EqualFold(u.Scheme, g.base.Scheme) || !strings.EqualFold(u.Host, g.base.Host) ||
		!strings.HasPrefix(u.Path, g.base.Path) {
		return "", sdk.NewError(sdk.ErrResyncRequired, "the link %q is not under graph_url %s: the feed starts again from a full enumeration", truncate(p, 120), g.cfg.GraphURL)
	}
	return p, nil
}

// graphErrorBody is Graph's error shape: {"error": {"code", "message"}}.
type graphErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// mapError types a non-2xx answer. Throttling is decided on the status code
// and Retry-After alone, never on the error code string, which Graph does
// not keep stable across workloads.
func (g *graphClient) mapError(c call, target string, code int, h http.Header, body []byte) error {
	var eb graphErrorBody
	json.Unmarshal(body, &eb)
	what := fmt.Sprintf("%s %s: HTTP %d", c.method, redact(target), code)
	if eb.Error.Code != "" || eb.Error.Message != "" {
		what += fmt.Sprintf(" %s: %s", eb.Error.Code, truncate(eb.Error.Message, 300))
	}
	switch {
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return sdk.Throttled(retryAfter(h, defaultThrottleWait), sdk.ThrottleScopeWide, "Graph is throttling mailbox %s (%s)", c.mailbox, what)
	case code == http.StatusGone || strings.EqualFold(eb.Error.Code, "syncStateNotFound") || strings.EqualFold(eb.Error.Code, "resyncRequired") ||
		strings.EqualFold(eb.Error.Code, "syncStateInvalid"):
		return sdk.NewError(sdk.ErrResyncRequired, "Graph no longer knows this delta state (%s): the feed is enumerated again", what)
	case code == http.StatusPreconditionFailed:
		return sdk.Conflict("", "the item changed since the version sent in If-Match (%s)", what)
	case code == http.StatusNotFound:
		return sdk.NewError(sdk.ErrNotFound, "%s", what)
	case code == http.StatusUnauthorized:
		return sdk.NewError(sdk.ErrAuth, "Graph refused the access token even after a fresh one (%s): check that the app registration is in tenant %s and its secret is valid", what, g.cfg.TenantID)
	case code == http.StatusForbidden:
		return sdk.NewError(sdk.ErrAuth, "Graph denied access (%s): grant the app the application permissions Contacts.ReadWrite, Calendars.ReadWrite and Tasks.ReadWrite.All with admin consent, and check application access policies for mailbox %s", what, c.mailbox)
	case code == http.StatusNotImplemented: // Graph's "not supported" (a delta limitation): retrying cannot help
		return sdk.NewError(sdk.ErrPermanent, "%s", what)
	case code >= 500 || code == http.StatusRequestTimeout:
		return sdk.NewError(sdk.ErrRetryable, "%s", what)
	}
	return sdk.NewError(sdk.ErrPermanent, "%s", what)
}

// retryAfter reads Retry-After as Graph sends it: whole seconds ("10"),
// fractional seconds ("2.128"), or an HTTP date.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return def
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return def
}

// redact drops the query of a URL for messages: delta and skip tokens are
// long and say nothing to an operator.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// userPath is the path of a mailbox: /users/{id or userPrincipalName}.
func userPath(mailbox string) string { return "/users/" + url.PathEscape(mailbox) }

// odataQuote quotes a string literal for $filter.
func odataQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
