package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// api is a small client of one emulated backend: a client-credentials
// token, JSON in and out, at most limit requests in flight per scope (a
// mailbox for Graph, a calling user for Dataverse: the backends' documented
// limits, which the bench keeps as syncgate does), and 429/503 answers
// retried after their Retry-After.
type api struct {
	base     string // prefix of every path
	tokenURL string
	scope    string // OAuth2 scope
	limit    int
	// header names the scope on each request (MSCRMCallerID for
	// Dataverse), or "" when the scope is in the path (Graph).
	header string
	http   *http.Client

	mu    sync.Mutex
	token string
	sems  map[string]chan struct{}
}

func newAPI(base, tokenURL, scope string, limit int, header string) *api {
	return &api{base: base, tokenURL: tokenURL, scope: scope, limit: limit, header: header,
		http: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		sems: map[string]chan struct{}{}}
}

func (a *api) getToken(ctx context.Context) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" {
		return a.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {emuClientID},
		"client_secret": {emuClientSecret}, "scope": {a.scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := a.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("token from %s: %w", a.tokenURL, err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("token from %s: %s: %s", a.tokenURL, res.Status, body)
	}
	a.token = tok.AccessToken
	return a.token, nil
}

func (a *api) sem(scope string) chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sems[scope]
	if s == nil {
		s = make(chan struct{}, a.limit)
		a.sems[scope] = s
	}
	return s
}

// do sends one request as scope and decodes a JSON answer into out (if not
// nil). path is relative to base unless it is a full URL (a next link).
func (a *api) do(ctx context.Context, scope, method, path string, hdr map[string]string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = a.base + path
	}
	sem := a.sem(scope)
	for attempt := 0; ; attempt++ {
		tok, err := a.getToken(ctx)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if a.header != "" && scope != "" {
			req.Header.Set(a.header, scope)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		res, err := a.http.Do(req)
		var data []byte
		if err == nil {
			data, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		<-sem
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
		if (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) && attempt < 20 {
			wait := time.Second
			if s, err := strconv.ParseFloat(res.Header.Get("Retry-After"), 64); err == nil {
				wait = time.Duration(s * float64(time.Second))
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		if res.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %s: %.300s", method, u, res.Status, data)
		}
		if out != nil && len(data) > 0 {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%s %s: %w", method, u, err)
			}
		}
		return nil
	}
}

// getJSON reads a control API answer (no token).
func getJSON(ctx context.Context, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.300s", u, res.Status, data)
	}
	return json.Unmarshal(data, out)
}
