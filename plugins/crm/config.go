package crm

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// Defaults of the connector's settings; connector.hcl states the same
// values for the operator.
const (
	DefaultAuthority     = "https://login.microsoftonline.com"
	DefaultIDColumn      = "sg_syncgateid"
	DefaultPageSize      = 500
	DefaultMaxConcurrent = 52 // Dataverse's service protection limit per user
	maxPageSize          = 5000
)

// Config is an endpoint's settings, checked.
type Config struct {
	URL           string // .../api/data/v9.2, no trailing slash
	Authority     string // https://login.microsoftonline.com, no trailing slash
	TenantID      string
	ClientID      string
	ClientSecret  string
	Scope         string // the OAuth2 scope: the org's origin + "/.default"
	IDColumn      string // the custom column that holds the syncgate id
	PageSize      int
	MaxConcurrent int    // concurrent requests per Dataverse user
	WebhookKey    string // what Dataverse webhooks must carry; "" takes none
}

// A column's logical name: a publisher prefix, an underscore, lower-case
// letters and digits. Anything else would be spliced into OData queries.
var columnName = regexp.MustCompile(`^[a-z][a-z0-9]*_[a-z0-9_]+$`)

// parseConfig checks the settings the gateway passed (already typed by the
// manifest's schema) and says what is wrong with each one.
func parseConfig(f sdk.Fields) (Config, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	str := func(name, def string) string {
		if v := strings.TrimSpace(f[name].Str()); v != "" {
			return v
		}
		return def
	}
	num := func(name string, def, lo, hi int) int {
		v := f[name]
		if v.IsNull() {
			return def
		}
		n := int(v.FloatVal())
		if n < lo || n > hi || float64(n) != v.FloatVal() {
			ds = append(ds, sdk.Errorf([]string{name}, "out of range", "%s must be a whole number from %d to %d, got %v", name, lo, hi, v))
			return def
		}
		return n
	}
	c := Config{
		URL:           strings.TrimRight(str("url", ""), "/"),
		Authority:     strings.TrimRight(str("authority_url", DefaultAuthority), "/"),
		TenantID:      str("tenant_id", ""),
		ClientID:      str("client_id", ""),
		ClientSecret:  f["client_secret"].Str(),
		Scope:         str("scope", ""),
		IDColumn:      str("id_column", DefaultIDColumn),
		PageSize:      num("page_size", DefaultPageSize, 1, maxPageSize),
		MaxConcurrent: num("max_concurrent_per_user", DefaultMaxConcurrent, 1, 1000),
		WebhookKey:    f["webhook_key"].Str(),
	}
	for _, req := range []struct{ name, val, what string }{
		{"url", c.URL, "the org's Web API address, e.g. https://contoso.crm.dynamics.com/api/data/v9.2"},
		{"tenant_id", c.TenantID, "the Microsoft Entra tenant id (a GUID or a domain such as contoso.onmicrosoft.com)"},
		{"client_id", c.ClientID, "the application (client) id of the app registration that is an application user in the org"},
		{"client_secret", c.ClientSecret, "the app registration's client secret"},
	} {
		if req.val == "" {
			ds = append(ds, sdk.Errorf([]string{req.name}, "missing", "set %s: %s", req.name, req.what))
		}
	}
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			ds = append(ds, sdk.Errorf([]string{"url"}, "not an http(s) address", "want the Web API address such as https://contoso.crm.dynamics.com/api/data/v9.2, got %q", c.URL))
		case !strings.HasSuffix(u.Path, "/api/data/v9.2"):
			ds = append(ds, sdk.Errorf([]string{"url"}, "not a Web API v9.2 address", "the address must end in /api/data/v9.2 (the connector speaks that version), got %q", c.URL))
		default:
			if c.Scope == "" {
				c.Scope = u.Scheme + "://" + u.Host + "/.default"
			}
		}
	}
	if u, err := url.Parse(c.Authority); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		ds = append(ds, sdk.Errorf([]string{"authority_url"}, "not an http(s) address", "want e.g. %s, got %q", DefaultAuthority, c.Authority))
	}
	if strings.ContainsAny(c.TenantID, "/?#") {
		ds = append(ds, sdk.Errorf([]string{"tenant_id"}, "not a tenant id", "want a GUID or a domain name, got %q", c.TenantID))
	}
	if !columnName.MatchString(c.IDColumn) {
		ds = append(ds, sdk.Errorf([]string{"id_column"}, "not a column's logical name",
			"want a custom column's logical name such as %s (publisher prefix, underscore, lower-case letters and digits), got %q", DefaultIDColumn, c.IDColumn))
	}
	return c, ds
}

// tokenURL is the OAuth2 token endpoint of the tenant.
func (c Config) tokenURL() string {
	return fmt.Sprintf("%s/%s/oauth2/v2.0/token", c.Authority, url.PathEscape(c.TenantID))
}
