package dataverseemu

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"
)

// The connector authenticates with x/oauth2's client credentials flow; the
// emulator's token endpoint must satisfy it as Entra ID does.
func TestTokenWithOAuth2ClientCredentials(t *testing.T) {
	h := newHarness(t, Options{ClientID: "app-1", ClientSecret: "s3cret"})
	cfg := clientcredentials.Config{ClientID: "app-1", ClientSecret: "s3cret",
		TokenURL: h.srv.URL + "/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
		Scopes:   []string{h.srv.URL + "/.default"}}
	tok, err := cfg.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.Expiry.IsZero() {
		t.Fatalf("token %+v", tok)
	}
	h.token = tok.AccessToken
	h.do("GET", api+"contacts", nil).must(t, 200)

	cfg.ClientSecret = "wrong"
	if _, err := cfg.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v, want invalid_client", err)
	}
}

func TestTokenErrors(t *testing.T) {
	h := newHarness(t, Options{})
	good := url.Values{"client_id": {"syncgate-emulator"}, "client_secret": {"syncgate-emulator-secret"},
		"grant_type": {"client_credentials"}, "scope": {h.srv.URL + "/.default"}}
	cases := []struct {
		name   string
		change func(v url.Values)
		status int
		code   string
		aadsts string
	}{
		{"wrong secret", func(v url.Values) { v.Set("client_secret", "x") }, 401, "invalid_client", "AADSTS7000215"},
		{"unknown client", func(v url.Values) { v.Set("client_id", "other") }, 400, "unauthorized_client", "AADSTS700016"},
		{"other grant", func(v url.Values) { v.Set("grant_type", "password") }, 400, "unsupported_grant_type", "AADSTS70003"},
		{"no scope", func(v url.Values) { v.Del("scope") }, 400, "invalid_request", "AADSTS900144"},
		{"scope of another resource", func(v url.Values) { v.Set("scope", "https://graph.microsoft.com/.default") }, 400, "invalid_scope", "AADSTS1002012"},
		{"scope without .default", func(v url.Values) { v.Set("scope", h.srv.URL+"/user_impersonation") }, 400, "invalid_scope", "AADSTS1002012"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := url.Values{}
			for k, x := range good {
				v[k] = append([]string(nil), x...)
			}
			c.change(v)
			resp, err := http.PostForm(h.srv.URL+"/common/oauth2/v2.0/token", v)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
				Codes       []int  `json:"error_codes"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != c.status || body.Error != c.code || !strings.HasPrefix(body.Description, c.aadsts+": ") || len(body.Codes) != 1 {
				t.Fatalf("status %d %+v, want %d %s %s", resp.StatusCode, body, c.status, c.code, c.aadsts)
			}
		})
	}
	resp, err := http.Get(h.srv.URL + "/common/oauth2/v2.0/token")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET on the token endpoint: %d, want 405", resp.StatusCode)
	}
}

func TestAPIRequiresBearerToken(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do("GET", api+"contacts", nil, "Authorization", "")
	r.wantError(t, 401, "", "bearer token")
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer authorization_uri=") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	h.do("GET", api+"contacts", nil, "Authorization", "Bearer forged").must(t, 401)
	h.do("GET", api+"contacts", nil).must(t, 200)
	h.e.ExpireAccessTokens()
	h.do("GET", api+"contacts", nil).must(t, 401)
	h.token = h.fetchToken()
	h.do("GET", api+"contacts", nil).must(t, 200)
}

func TestWhoAmI(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do("GET", api+"WhoAmI", nil).must(t, 200)
	if r.str("UserId") != h.e.UserID("alice@example.com") || !guidRe.MatchString(r.str("OrganizationId")) ||
		!strings.HasSuffix(r.str("@odata.context"), "#Microsoft.Dynamics.CRM.WhoAmIResponse") {
		t.Errorf("WhoAmI %s", r.raw)
	}
	if r := h.do("GET", api+"WhoAmI", nil, "MSCRMCallerID", h.e.UserID("bob@example.com")); r.str("UserId") != h.e.UserID("bob@example.com") {
		t.Errorf("WhoAmI impersonating bob: %s", r.raw)
	}
}

func TestRoutingErrors(t *testing.T) {
	h := newHarness(t, Options{})
	h.do("GET", "/api/data/v8.2/contacts", nil).must(t, 404)
	h.do("GET", api+"leads", nil).wantError(t, 404, codeQuery, "Resource not found for the segment 'leads'")
	h.do("GET", api+"contacts(not-a-guid)", nil).wantError(t, 400, codeQuery, "is not a GUID")
	h.do("POST", api+"$batch", "x").must(t, 501)
	h.do("GET", "/elsewhere", nil).must(t, 404)
	h.do("PUT", api+"contacts", map[string]any{}).must(t, 405)
	h.do("PATCH", api+"systemusers("+h.e.UserID("alice@example.com")+")", map[string]any{"fullname": "x"}).must(t, 403)
}
