package graphemu

import (
	"crypto/sha1"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// tokenLifetime is what the identity platform grants an app-only token.
const tokenLifetime = 3599 * time.Second

var tokenPath = regexp.MustCompile(`^/[^/]+/oauth2/v2\.0/token$`)

func isTokenPath(p string) bool { return tokenPath.MatchString(p) }

// token answers the client-credentials grant the way the Microsoft identity
// platform does: any tenant in the path, the client id and secret in the
// form or in HTTP basic auth, a scope ending in /.default.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		aadError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "AADSTS900561: The endpoint only accepts POST requests. Received a "+r.Method+" request.")
		return
	}
	if err := r.ParseForm(); err != nil {
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must be application/x-www-form-urlencoded: "+err.Error())
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch grant := r.PostForm.Get("grant_type"); {
	case grant == "":
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
	case grant != "client_credentials":
		aadError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "AADSTS70003: The app requested an unsupported grant type '"+grant+"'. The emulator supports client_credentials only.")
	case id == "":
		aadError(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
	case id != e.opts.ClientID:
		aadError(w, http.StatusBadRequest, "unauthorized_client", 700016, "AADSTS700016: Application with identifier '"+id+"' was not found in the directory. Use the emulator's -client-id.")
	case secret != e.opts.ClientSecret:
		aadError(w, http.StatusUnauthorized, "invalid_client", 7000215, "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+id+"'.")
	case !strings.HasSuffix(r.PostForm.Get("scope"), "/.default"):
		aadError(w, http.StatusBadRequest, "invalid_scope", 1002012, "AADSTS1002012: The provided value for scope '"+r.PostForm.Get("scope")+"' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI), e.g. https://graph.microsoft.com/.default.")
	default:
		tok := "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + strings.TrimRight(randomKey(48), "=")
		tok = strings.NewReplacer("+", "-", "/", "_").Replace(tok)
		e.mu.Lock()
		e.tokens[tok] = time.Now().Add(tokenLifetime)
		e.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store, no-cache")
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     int(tokenLifetime.Seconds()),
			"ext_expires_in": int(tokenLifetime.Seconds()),
			"access_token":   tok,
		})
	}
}

// aadError writes the identity platform's OAuth error body.
func aadError(w http.ResponseWriter, status int, code string, n int, desc string) {
	trace := newGUID()
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": desc + "\r\nTrace ID: " + trace + "\r\nTimestamp: " + time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"error_codes":       []int{n},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    newGUID(),
		"error_uri":         "https://login.microsoftonline.com/error?code=" + strconv.Itoa(n),
	})
}

// authenticate checks the bearer token of a /v1.0 request; a zero status
// means it is good.
func (e *Emulator) authenticate(r *http.Request) (int, string, string) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty. Get one from the token endpoint (/{tenant}/oauth2/v2.0/token) and send it as 'Authorization: Bearer <token>'."
	}
	e.mu.Lock()
	exp, ok := e.tokens[strings.TrimSpace(tok)]
	e.mu.Unlock()
	switch {
	case !ok:
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed: the token was not issued by this emulator. Get a new one from the token endpoint."
	case time.Now().After(exp):
		return http.StatusUnauthorized, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired. Get a new one from the token endpoint."
	}
	return 0, "", ""
}

// stableGUID derives a GUID from a name, so that ids of users, the tenant
// and the app stay the same from run to run.
func stableGUID(name string) string {
	sum := sha1.Sum([]byte("syncgate-graphemu:" + name))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return formatGUID(sum[:16])
}
