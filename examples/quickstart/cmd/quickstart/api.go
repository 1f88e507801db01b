package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// api calls an emulator's public HTTP API the way any client would: with a
// token from its token endpoint (client credentials).
type api struct {
	base   string // the API's base address, no trailing slash
	client *http.Client
	header http.Header // sent with every request
}

func newAPI(ctx context.Context, b backend, header http.Header) *api {
	cc := clientcredentials.Config{ClientID: b.ClientID, ClientSecret: b.ClientSecret, TokenURL: b.TokenURL, Scopes: []string{b.Scope}}
	c := cc.Client(ctx)
	c.Timeout = 30 * time.Second
	return &api{base: strings.TrimRight(b.APIURL, "/"), client: c, header: header}
}

// maxAttempts bounds the retries of a throttled request (429 or 503 with
// Retry-After): the seed runs before the gateway, so throttling is rare.
const maxAttempts = 8

// do sends a request and decodes a JSON answer into out (when not nil).
// It answers the response's headers, for OData-EntityId.
func (a *api) do(ctx context.Context, method, path string, body, out any) (http.Header, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		for k, v := range a.header {
			req.Header[k] = v
		}
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := a.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, a.base+path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode < 300:
			if out != nil && len(b) > 0 {
				if err := json.Unmarshal(b, out); err != nil {
					return nil, fmt.Errorf("%s %s: the answer is not the expected JSON: %w", method, a.base+path, err)
				}
			}
			return res.Header, nil
		case (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) && attempt < maxAttempts:
			wait := time.Second
			if s, err := strconv.ParseFloat(res.Header.Get("Retry-After"), 64); err == nil {
				wait = time.Duration(s * float64(time.Second))
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		default:
			return nil, fmt.Errorf("%s %s: %s: %s", method, a.base+path, res.Status, strings.TrimSpace(string(b)))
		}
	}
}
