package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// fakeBackend answers the token endpoint and hands /api requests to h.
func fakeBackend(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			r.ParseForm()
			if r.Form.Get("client_secret") != emuClientSecret || r.Form.Get("scope") != "s/.default" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"error":"invalid_client"}`)
				return
			}
			fmt.Fprint(w, `{"access_token":"tok"}`)
			return
		}
		if r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("%s without the token", r.URL)
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAPIRetriesThrottled: a 429 is tried again after its Retry-After,
// with the caller's scope header on every try.
func TestAPIRetriesThrottled(t *testing.T) {
	var calls atomic.Int32
	srv := fakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("MSCRMCallerID") != "user-1" {
			t.Errorf("MSCRMCallerID %q", r.Header.Get("MSCRMCallerID"))
		}
		if calls.Add(1) < 3 {
			w.Header().Set("Retry-After", "0.01")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, `{"value":"ok"}`)
	})
	a := newAPI(srv.URL+"/api", srv.URL+"/token", "s/.default", 2, "MSCRMCallerID")
	var got struct{ Value string }
	if err := a.do(context.Background(), "user-1", "GET", "/x", nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.Value != "ok" || calls.Load() != 3 {
		t.Errorf("got %q after %d calls, want ok after 3", got.Value, calls.Load())
	}
}

// TestAPIErrors: a refused request and refused credentials are errors
// that name the request and quote the answer.
func TestAPIErrors(t *testing.T) {
	srv := fakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":"0x80040265","message":"bad column"}}`)
	})
	a := newAPI(srv.URL+"/api", srv.URL+"/token", "s/.default", 2, "")
	err := a.do(context.Background(), "", "POST", "/contacts", nil, map[string]any{"x": 1}, nil)
	if err == nil || !strings.Contains(err.Error(), "POST "+srv.URL+"/api/contacts: 400 Bad Request") || !strings.Contains(err.Error(), "bad column") {
		t.Errorf("err = %v, want the request, the status and the answer", err)
	}
	bad := newAPI(srv.URL+"/api", srv.URL+"/token", "other/.default", 2, "")
	err = bad.do(context.Background(), "", "GET", "/contacts", nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "token from "+srv.URL+"/token: 401") || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("err = %v, want the token endpoint's refusal", err)
	}
}
