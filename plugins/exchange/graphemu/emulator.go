// Package graphemu emulates the part of Microsoft Graph v1.0 that syncgate's
// Exchange connector uses: the identity platform's client-credentials token
// endpoint, contacts, events (with recurrence expansion and meeting
// invitations between its own mailboxes), To Do tasks, delta queries,
// extended properties, linked resources, subscriptions with webhook
// notifications, and the service's limits and errors. It is written from the
// Graph documentation and the documentation's own samples, never from the
// connector, so that the two cannot agree on a mistake; it must never import
// the connector. Everything lives in memory.
package graphemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"maps"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures an Emulator. Zero values take the documented defaults.
type Options struct {
	Users                   []string      // userPrincipalNames; each gets a default contacts folder, calendar and To Do list
	ClientID                string        // default "syncgate-emulator"
	ClientSecret            string        // default "syncgate-emulator-secret"
	RetryAfter              time.Duration // what throttled answers ask for; default 1s
	Seed                    bool          // a few demo contacts, events (one weekly series with an exception) and tasks per user
	MaxConcurrentPerMailbox int           // default 4
}

// Defaults for Options.
const (
	DefaultClientID     = "syncgate-emulator"
	DefaultClientSecret = "syncgate-emulator-secret"
	DefaultRetryAfter   = time.Second
	DefaultMaxInFlight  = 4
)

// Faults are failures injected into /v1.0 requests on top of the emulator's
// own limits.
type Faults struct {
	ThrottleShare     float64       // share of /v1.0 requests answered 429
	ErrorShare        float64       // share answered 503
	Latency           time.Duration // added to every request
	DropNotifications bool
}

// Counters are what the emulator has seen since it started.
type Counters struct {
	Requests        map[string]int // by method and route pattern, e.g. "GET /users/{u}/contacts/delta"
	Throttled       int
	InvitationsSent int
	MaxConcurrent   map[string]int // per mailbox (upn), the highest number of requests in flight seen
	Notifications   int            // change notifications delivered
}

// Emulator is an in-memory Microsoft Graph. It is an http.Handler; it is
// safe for concurrent use.
type Emulator struct {
	opts     Options
	tenantID string
	appID    string // the applicationId subscriptions report
	mux      *http.ServeMux

	mu        sync.Mutex
	mailboxes []*mailbox
	byKey     map[string]*mailbox // lower-case upn and id
	tokens    map[string]time.Time
	faults    Faults
	counters  Counters
	tokenGen  int    // generation stamped into delta tokens issued now
	minGen    int    // tokens of older generations answer 410
	epoch     string // tokens of another run of the emulator answer 410
	subs      map[string]*subscription

	notify chan delivery
	done   chan struct{}
	wg     sync.WaitGroup
	client *http.Client
}

// New returns an emulator holding opts.Users' mailboxes.
func New(opts Options) *Emulator {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.MaxConcurrentPerMailbox <= 0 {
		opts.MaxConcurrentPerMailbox = DefaultMaxInFlight
	}
	e := &Emulator{
		opts:     opts,
		tenantID: stableGUID("tenant"),
		epoch:    randomKey(6),
		appID:    stableGUID("app:" + opts.ClientID),
		byKey:    map[string]*mailbox{},
		tokens:   map[string]time.Time{},
		counters: Counters{Requests: map[string]int{}, MaxConcurrent: map[string]int{}},
		subs:     map[string]*subscription{},
		notify:   make(chan delivery, 1024),
		done:     make(chan struct{}),
		client:   &http.Client{Timeout: 10 * time.Second},
	}
	for _, upn := range opts.Users {
		upn = strings.TrimSpace(upn)
		if upn == "" || e.byKey[strings.ToLower(upn)] != nil {
			continue
		}
		mb := newMailbox(upn)
		e.mailboxes = append(e.mailboxes, mb)
		e.byKey[strings.ToLower(upn)] = mb
		e.byKey[strings.ToLower(mb.id)] = mb
	}
	e.mux = e.routes()
	if opts.Seed {
		for _, mb := range e.mailboxes {
			e.seed(mb)
		}
	}
	e.wg.Add(1)
	go e.deliverLoop()
	return e
}

// Close stops notification delivery. Requests still work afterwards, but
// no notification leaves.
func (e *Emulator) Close() {
	select {
	case <-e.done:
	default:
		close(e.done)
	}
	e.wg.Wait()
}

// SetFaults replaces the injected faults.
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
}

// ExpireDeltaTokens makes every delta and skip token issued so far answer
// 410 Gone, as Exchange does when it has dropped a sync state.
func (e *Emulator) ExpireDeltaTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokenGen++
	e.minGen = e.tokenGen
}

// Counters returns a copy of the counters.
func (e *Emulator) Counters() Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.counters
	c.Requests = maps.Clone(e.counters.Requests)
	c.MaxConcurrent = maps.Clone(e.counters.MaxConcurrent)
	return c
}

// ServeHTTP answers the token endpoint (/{tenant}/oauth2/v2.0/token), Graph
// (/v1.0/...) and the control API (/_emulator/...).
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := newGUID()
	w.Header().Set("request-id", rid)
	w.Header().Set("client-request-id", firstNonEmpty(r.Header.Get("client-request-id"), rid))
	switch {
	case strings.HasPrefix(r.URL.Path, "/_emulator/"):
		e.control(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1.0/"):
		e.graph(w, r)
	case isTokenPath(r.URL.Path):
		e.token(w, r)
	default:
		writeError(w, http.StatusNotFound, "BadRequest", "Invalid version: the emulator serves /v1.0, /{tenant}/oauth2/v2.0/token and /_emulator.")
	}
}

// graph applies, in Graph's order, authentication, the per-mailbox
// concurrency limit, injected faults and latency, then routes.
func (e *Emulator) graph(w http.ResponseWriter, r *http.Request) {
	canonicalPath(r.URL)
	_, pattern := e.mux.Handler(r)
	route := strings.Replace(pattern, "/v1.0", "", 1)
	if pattern == "" || pattern == "/v1.0/" {
		route = r.Method + " (no route)"
	}
	e.mu.Lock()
	e.counters.Requests[route]++
	e.mu.Unlock()

	if status, code, msg := e.authenticate(r); status != 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
		writeError(w, status, code, msg)
		return
	}
	if mb := e.mailboxOfPath(r.URL.Path); mb != nil {
		e.mu.Lock()
		mb.inFlight++
		if mb.inFlight > e.counters.MaxConcurrent[mb.upn] {
			e.counters.MaxConcurrent[mb.upn] = mb.inFlight
		}
		over := mb.inFlight > e.opts.MaxConcurrentPerMailbox
		if over {
			e.counters.Throttled++
		}
		e.mu.Unlock()
		defer func() {
			e.mu.Lock()
			mb.inFlight--
			e.mu.Unlock()
		}()
		if over {
			e.throttled(w)
			return
		}
	}
	e.mu.Lock()
	f := e.faults
	e.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if f.ThrottleShare > 0 && mathrand.Float64() < f.ThrottleShare {
		e.mu.Lock()
		e.counters.Throttled++
		e.mu.Unlock()
		e.throttled(w)
		return
	}
	if f.ErrorShare > 0 && mathrand.Float64() < f.ErrorShare {
		w.Header().Set("Retry-After", formatSeconds(e.opts.RetryAfter))
		writeError(w, http.StatusServiceUnavailable, "serviceNotAvailable", "The service is temporarily unavailable (injected fault). Retry after the Retry-After interval.")
		return
	}
	e.mux.ServeHTTP(w, r)
}

// throttled writes the documented 429 (fixtures/graph/error-429-throttled.json).
func (e *Emulator) throttled(w http.ResponseWriter) {
	w.Header().Set("Retry-After", formatSeconds(e.opts.RetryAfter))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
		"code":    "TooManyRequests",
		"message": "Please retry again later.",
		"innerError": map[string]any{
			"code":       "429",
			"date":       time.Now().UTC().Format("2006-01-02T15:04:05"),
			"message":    "Please retry after",
			"request-id": w.Header().Get("request-id"),
			"status":     "429",
		},
	}})
}

// formatSeconds renders a Retry-After value; Graph sends whole and
// fractional seconds alike ("10", "2.128").
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// mailboxOfPath returns the mailbox a /v1.0/users/{u}/... path addresses,
// for the per-mailbox limit; nil for other paths.
func (e *Emulator) mailboxOfPath(path string) *mailbox {
	parts := strings.Split(strings.TrimPrefix(path, "/v1.0/"), "/")
	if len(parts) < 3 || !strings.EqualFold(parts[0], "users") {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byKey[strings.ToLower(parts[1])]
}

// writeError writes Graph's error body: {error: {code, message, innerError}}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"innerError": map[string]any{
			"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        w.Header().Get("request-id"),
			"client-request-id": w.Header().Get("client-request-id"),
		},
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return formatGUID(b[:])
}

func formatGUID(b []byte) string {
	const hex = "0123456789abcdef"
	var out []byte
	for i, c := range b[:16] {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}

// randomKey returns n random bytes in standard base64, the alphabet of
// Exchange change keys.
func randomKey(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// pathLiterals are the fixed segments of the routes. Graph matches them
// case-insensitively (its own links write contactfolders, the docs write
// calendarview and calendarView).
var pathLiterals = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{"v1.0", "users", "me", "contacts", "contactFolders", "delta", "calendar", "calendars", "events",
		"instances", "calendarView", "todo", "lists", "tasks", "linkedResources", "subscriptions", "reauthorize"} {
		m[strings.ToLower(s)] = s
	}
	return m
}()

// canonicalPath rewrites the fixed segments of a path to the routes'
// casing, and OData key syntax, users('id')/events('id') as in Graph's
// Location headers, to the segment form the routes use.
func canonicalPath(u *url.URL) {
	segs, changed := canonicalSegments(strings.Split(u.EscapedPath(), "/"))
	if !changed {
		return
	}
	raw := strings.Join(segs, "/")
	if p, err := url.PathUnescape(raw); err == nil {
		u.Path, u.RawPath = p, raw
	}
}

// canonicalSegments does canonicalPath's work on path segments; it
// reports whether anything changed.
func canonicalSegments(in []string) ([]string, bool) {
	var segs []string
	changed := false
	for _, s := range in {
		name, key, isKey := strings.Cut(s, "('")
		if isKey && strings.HasSuffix(key, "')") && pathLiterals[strings.ToLower(name)] != "" {
			segs = append(segs, name, strings.TrimSuffix(key, "')"))
			changed = true
		} else {
			segs = append(segs, s)
		}
	}
	for i, s := range segs {
		if c, ok := pathLiterals[strings.ToLower(s)]; ok && c != s {
			segs[i], changed = c, true
		}
	}
	return segs, changed
}
