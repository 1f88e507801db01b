package dataverseemu

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serveToken is the Microsoft identity platform token endpoint for the
// client credentials grant: POST /{tenant}/oauth2/v2.0/token with
// client_id, client_secret (in the form or as HTTP basic auth), grant_type and
// scope=<environment URL>/.default.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.requests["POST /{tenant}/oauth2/v2.0/token"]++
	e.mu.Unlock()
	if r.Method != http.MethodPost {
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded: "+err.Error())
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(bid)
		secret, _ = url.QueryUnescape(bsecret)
	}
	grant, scope := r.PostForm.Get("grant_type"), r.PostForm.Get("scope")
	switch {
	case grant == "":
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	case grant != "client_credentials":
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+grant+"'; the emulator issues tokens for client_credentials only.")
	case id == "":
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	case id != e.opts.ClientID:
		tokenError(w, http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '"+id+"' was not found in the directory. Use the emulator's -client-id.")
	case secret != e.opts.ClientSecret:
		tokenError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value (the emulator's -client-secret).")
	case scope == "":
		tokenError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	case !scopeFits(scope, r.Host):
		tokenError(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope '"+scope+"' is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier: "+baseURL(r)+"/.default")
	default:
		var b [32]byte
		_, _ = rand.Read(b[:])
		tok := "emu." + base64.RawURLEncoding.EncodeToString(b[:])
		e.mu.Lock()
		e.access[tok] = e.now().Add(accessTokenLifetime)
		e.mu.Unlock()
		w.Header().Set("Cache-Control", "no-store, no-cache")
		writePlainJSON(w, http.StatusOK, object{
			{"token_type", "Bearer"}, {"expires_in", int(accessTokenLifetime.Seconds()) - 1},
			{"ext_expires_in", int(accessTokenLifetime.Seconds()) - 1}, {"access_token", tok},
		})
	}
}

// scopeFits accepts <scheme>://<this host>/.default: the resource of a
// Dataverse token is the environment URL.
func scopeFits(scope, host string) bool {
	for _, s := range strings.Fields(scope) {
		res, ok := strings.CutSuffix(s, "/.default")
		if !ok {
			return false
		}
		u, err := url.Parse(strings.TrimRight(res, "/"))
		if err != nil || !strings.EqualFold(u.Host, host) {
			return false
		}
	}
	return scope != ""
}

func tokenError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	writePlainJSON(w, status, object{
		{"error", code},
		{"error_description", "AADSTS" + itoa(int64(aadsts)) + ": " + desc},
		{"error_codes", []int{aadsts}},
		{"timestamp", time.Now().UTC().Format("2006-01-02 15:04:05Z")},
		{"trace_id", newID()},
		{"correlation_id", newID()},
	})
}

func writePlainJSON(w http.ResponseWriter, status int, body any) {
	writeJSONType(w, status, "application/json; charset=utf-8", body)
}
