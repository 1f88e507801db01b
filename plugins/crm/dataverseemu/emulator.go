// Package dataverseemu emulates the part of the Microsoft Dataverse
// (Dynamics 365) Web API that syncgate's CRM connector uses: the Microsoft
// identity platform token endpoint, the tables contacts, appointments,
// recurringappointmentmasters, tasks, serviceappointments, systemusers and
// activityparties under /api/data/v9.2, change tracking, paging, conditional
// operations, service protection limits, and a control API under /_emulator
// for fault injection and counters.
//
// It is a test double built from the public documentation. It must never
// import the connector's code: the two are written apart so that they cannot
// agree on a mistake.
package dataverseemu

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures an Emulator. The zero value is usable.
type Options struct {
	Users                []string      // e-mail addresses; one systemuser each
	ClientID             string        // default "syncgate-emulator"
	ClientSecret         string        // default "syncgate-emulator-secret"
	RetryAfter           time.Duration // what throttled answers ask for; default 1s
	Seed                 bool          // a few demo contacts, appointments, a series, tasks, a service appointment per user
	MaxConcurrentPerUser int           // default 52
	TokenExpiry          time.Duration // change-tracking token lifetime; 0 = never
	IDColumn             string        // default "sg_syncgateid"
}

// Faults are injected into /api requests, after authentication and the
// service protection limits.
type Faults struct {
	ThrottleShare float64       // share of /api requests answered 429
	ErrorShare    float64       // share answered 503
	Latency       time.Duration // added to every /api request while it counts as in flight
}

// Counters report what the emulator has served.
type Counters struct {
	Requests      map[string]int // by method and route pattern, e.g. "GET /contacts (track-changes)"
	Throttled     int
	MaxConcurrent map[string]int // per caller, highest in flight seen
}

// Service protection defaults from the documentation (api-limits.md): per
// user, 6000 requests in a sliding 5-minute window.
const (
	defaultRequestLimit = 6000
	requestWindow       = 300 * time.Second
	accessTokenLifetime = time.Hour
	appCaller           = "application"
)

// Emulator is an in-memory Dataverse organization. It is an http.Handler.
type Emulator struct {
	opts   Options
	schema map[string]*table

	mu          sync.Mutex
	data        map[string]*tableData // by entity set
	version     int64                 // org-wide row version, bumped by every write
	deltaTokens map[string]*deltaToken
	fkIndex     map[string]*fkIndex  // see childrenOf
	access      map[string]time.Time // bearer token → expiry
	users       []userInfo
	faults      Faults
	pluginErr   map[string]string // entity set → message a "plug-in" fails creates with
	inFlight    map[string]int
	maxInFlight map[string]int
	recent      map[string][]time.Time // caller → request times inside the window
	requests    map[string]int
	throttled   int

	// requestLimit is the per-caller request count allowed in requestWindow;
	// tests lower it.
	requestLimit int
	now          func() time.Time
	rnd          *rand.Rand
}

type userInfo struct {
	Email    string `json:"email"`
	ID       string `json:"systemuserid"`
	ObjectID string `json:"azureactivedirectoryobjectid"`
	FullName string `json:"fullname"`
}

// New returns an emulator with the options' users provisioned (and demo data
// when opts.Seed is set).
func New(opts Options) *Emulator {
	if opts.ClientID == "" {
		opts.ClientID = "syncgate-emulator"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "syncgate-emulator-secret"
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.MaxConcurrentPerUser <= 0 {
		opts.MaxConcurrentPerUser = 52
	}
	if opts.IDColumn == "" {
		opts.IDColumn = "sg_syncgateid"
	}
	e := &Emulator{
		opts:         opts,
		schema:       buildSchema(opts.IDColumn),
		data:         map[string]*tableData{},
		version:      1000000,
		deltaTokens:  map[string]*deltaToken{},
		fkIndex:      map[string]*fkIndex{},
		access:       map[string]time.Time{},
		pluginErr:    map[string]string{},
		inFlight:     map[string]int{},
		maxInFlight:  map[string]int{},
		recent:       map[string][]time.Time{},
		requests:     map[string]int{},
		requestLimit: defaultRequestLimit,
		now:          time.Now,
		rnd:          rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
	}
	for set := range e.schema {
		e.data[set] = &tableData{rows: map[string]*row{}, tombs: map[string]int64{}}
	}
	for _, email := range opts.Users {
		e.addUser(strings.TrimSpace(email))
	}
	if opts.Seed {
		e.seed()
	}
	return e
}

// UserID returns the systemuserid of the user with this e-mail address, or ""
// if there is none.
func (e *Emulator) UserID(email string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, u := range e.users {
		if strings.EqualFold(u.Email, email) {
			return u.ID
		}
	}
	return ""
}

// Users lists the provisioned users.
func (e *Emulator) Users() []userInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]userInfo(nil), e.users...)
}

// SetFaults replaces the injected faults.
func (e *Emulator) SetFaults(f Faults) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = f
}

// SetPluginError makes every create in entitySet fail with a 400 carrying
// message, as a synchronous plug-in that throws InvalidPluginExecutionException
// would; an empty message removes it.
func (e *Emulator) SetPluginError(entitySet, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if message == "" {
		delete(e.pluginErr, entitySet)
		return
	}
	e.pluginErr[entitySet] = message
}

// ExpireTokens expires every change-tracking (delta) token issued so far.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.deltaTokens {
		t.expired = true
	}
}

// ExpireAccessTokens revokes every bearer token issued so far, so that the
// next /api request answers 401 and the client must fetch a new one.
func (e *Emulator) ExpireAccessTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.access = map[string]time.Time{}
}

// Counters returns a copy of the request counters.
func (e *Emulator) Counters() Counters {
	e.mu.Lock()
	defer e.mu.Unlock()
	c := Counters{Requests: map[string]int{}, Throttled: e.throttled, MaxConcurrent: map[string]int{}}
	for k, v := range e.requests {
		c.Requests[k] = v
	}
	for k, v := range e.maxInFlight {
		c.MaxConcurrent[k] = v
	}
	return c
}

// ServeHTTP serves the token endpoint (/{tenant}/oauth2/v2.0/token), the Web
// API (/api/data/v9.x/...) and the control API (/_emulator/...).
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/_emulator/"):
		e.serveControl(w, r)
	case strings.HasPrefix(p, "/api/data/"):
		e.serveAPI(w, r)
	case strings.HasSuffix(p, "/oauth2/v2.0/token") && strings.Count(p, "/") == 4:
		e.serveToken(w, r)
	default:
		writeError(w, http.StatusNotFound, "0x80060888",
			"Resource not found for the segment '"+strings.TrimPrefix(p, "/")+"'. The emulator serves /{tenant}/oauth2/v2.0/token, /api/data/v9.2/... and /_emulator/...")
	}
}

// serveAPI authenticates, applies service protection limits and injected
// faults, then dispatches the OData request.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("OData-Version", "4.0")
	req, perr := parseRequest(r)
	e.mu.Lock()
	e.requests[routeKey(r, req)]++
	e.mu.Unlock()
	if !e.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+baseURL(r)+`/common/oauth2/authorize", resource_id="`+baseURL(r)+`"`)
		writeError(w, http.StatusUnauthorized, "",
			"The request has no valid bearer token. Get one from /{tenant}/oauth2/v2.0/token with the client credentials grant and send it as 'Authorization: Bearer <token>'.")
		return
	}
	caller, userID, cerr := e.resolveCaller(r)
	if cerr != nil {
		cerr.write(w)
		return
	}
	release, lerr := e.admit(caller)
	if lerr != nil {
		lerr.write(w)
		return
	}
	defer release()
	if ferr := e.injectFaults(); ferr != nil {
		ferr.write(w)
		return
	}
	if perr != nil {
		perr.write(w)
		return
	}
	req.callerUserID = userID
	req.base = baseURL(r)
	e.dispatch(w, r, req)
}

// admit counts the request against the caller's concurrency and request-rate
// limits; it returns a function to call when the request is done.
func (e *Emulator) admit(caller string) (func(), *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if e.inFlight[caller] >= e.opts.MaxConcurrentPerUser {
		e.throttled++
		return nil, e.throttle("0x80072326",
			"Number of concurrent requests exceeded the limit of "+strconv.Itoa(e.opts.MaxConcurrentPerUser)+".")
	}
	times := e.recent[caller]
	cut := 0
	for cut < len(times) && now.Sub(times[cut]) >= requestWindow {
		cut++
	}
	times = times[cut:]
	if len(times) >= e.requestLimit {
		e.recent[caller] = times
		e.throttled++
		return nil, e.throttle("0x80072322",
			"Number of requests exceeded the limit of "+strconv.Itoa(e.requestLimit)+" over time window of 300 seconds.")
	}
	e.recent[caller] = append(times, now)
	e.inFlight[caller]++
	if e.inFlight[caller] > e.maxInFlight[caller] {
		e.maxInFlight[caller] = e.inFlight[caller]
	}
	return func() {
		e.mu.Lock()
		e.inFlight[caller]--
		e.mu.Unlock()
	}, nil
}

func (e *Emulator) throttle(code, msg string) *apiError {
	secs := int(math.Ceil(e.opts.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return &apiError{status: http.StatusTooManyRequests, code: code, msg: msg,
		headers: map[string]string{"Retry-After": strconv.Itoa(secs)}}
}

// injectFaults sleeps for the configured latency (while the request counts as
// in flight, so latency builds up concurrency as on a slow server) and then
// answers a share of requests with 429 or 503.
func (e *Emulator) injectFaults() *apiError {
	e.mu.Lock()
	f := e.faults
	roll := e.rnd.Float64()
	e.mu.Unlock()
	if f.Latency > 0 {
		time.Sleep(f.Latency)
	}
	switch {
	case roll < f.ThrottleShare:
		e.mu.Lock()
		e.throttled++
		e.mu.Unlock()
		return e.throttle("0x80072321",
			"Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.")
	case roll < f.ThrottleShare+f.ErrorShare:
		return &apiError{status: http.StatusServiceUnavailable, code: "",
			msg: "The service is temporarily unavailable (fault injected by the emulator); retry the request later."}
	}
	return nil
}

// resolveCaller finds who the request acts as: the impersonated user named by
// CallerObjectId (Entra object id) or MSCRMCallerID (systemuserid), else the
// application user. userID is the systemuserid new rows are owned by.
func (e *Emulator) resolveCaller(r *http.Request) (caller, userID string, err *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if oid := strings.TrimSpace(r.Header.Get("CallerObjectId")); oid != "" {
		for _, u := range e.users {
			if strings.EqualFold(u.ObjectID, oid) {
				return u.Email, u.ID, nil
			}
		}
		return "", "", &apiError{status: http.StatusBadRequest, code: "0x80040217",
			msg: "systemuser With azureactivedirectoryobjectid = " + oid + " Does Not Exist (CallerObjectId must name a user of this organization)"}
	}
	if id := strings.Trim(strings.TrimSpace(r.Header.Get("MSCRMCallerID")), "{}"); id != "" {
		for _, u := range e.users {
			if strings.EqualFold(u.ID, id) {
				return u.Email, u.ID, nil
			}
		}
		return "", "", &apiError{status: http.StatusBadRequest, code: "0x80040217",
			msg: "systemuser With Id = " + id + " Does Not Exist (MSCRMCallerID must name a user of this organization)"}
	}
	if len(e.users) > 0 {
		return appCaller, e.users[0].ID, nil
	}
	return appCaller, "", nil
}

func (e *Emulator) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.access[strings.TrimSpace(tok)]
	return ok && e.now().Before(exp)
}

// routeKey names a request for the counters: method, entity set and the shape
// of the path, with "(track-changes)" for change-tracking reads.
func routeKey(r *http.Request, req *odataRequest) string {
	if req == nil {
		return r.Method + " (unparsed)"
	}
	k := r.Method + " /" + req.set
	if req.id != "" {
		k += "({id})"
	}
	if req.prop != "" {
		k += "/" + req.prop
	}
	if r.Method == http.MethodGet && req.id == "" && req.prop == "" &&
		(hasPreference(r, "odata.track-changes") || r.URL.Query().Get("$deltatoken") != "") {
		k += " (track-changes)"
	}
	return k
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
