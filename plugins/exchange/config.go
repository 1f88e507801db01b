package exchange

import (
	"net/url"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// Config is an endpoint's settings, as the manifest's config block declares
// them.
type Config struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	AuthorityURL string // e.g. https://login.microsoftonline.com; the token endpoint is {authority}/{tenant}/oauth2/v2.0/token
	GraphURL     string // e.g. https://graph.microsoft.com/v1.0
	DaysBack     int    // the calendar window: days before today
	DaysAhead    int    // and days after
	PageSize     int    // Prefer: odata.maxpagesize on delta queries
	MaxPages     int    // a delta round that needs more pages than this is an error, not an endless loop
	Concurrency  int    // requests in flight per mailbox, at most 4 (Graph's limit)
	// NotificationURL is the gateway's public /hooks/<endpoint> address;
	// empty means no change-notification subscriptions.
	NotificationURL string
	// SendInvitations lets appointment writes carry attendees to Graph,
	// which sends invitations; otherwise attendees are kept on the item
	// without reaching Graph's attendee list.
	SendInvitations bool
}

// Defaults, matching connector.hcl.
const (
	defaultAuthority   = "https://login.microsoftonline.com"
	defaultGraph       = "https://graph.microsoft.com/v1.0"
	defaultDaysBack    = 30
	defaultDaysAhead   = 365
	defaultPageSize    = 100
	defaultMaxPages    = 10000
	maxConcurrency     = 4 // Outlook's documented limit of concurrent requests per app and mailbox
	defaultConcurrency = 4
	graphScope         = "https://graph.microsoft.com/.default"
)

// parseConfig reads and checks the settings. Every problem is one
// diagnostic on its attribute, saying what would be right.
func parseConfig(f sdk.Fields) (Config, sdk.Diagnostics) {
	var ds sdk.Diagnostics
	str := func(name, def string) string {
		if s := strings.TrimSpace(f[name].Str()); s != "" {
			return s
		}
		return def
	}
	num := func(name string, def, lo, hi int) int {
		v := f[name]
		if v.IsNull() {
			return def
		}
		n := v.FloatVal()
		if n != float64(int(n)) || int(n) < lo || int(n) > hi {
			ds = append(ds, sdk.Errorf([]string{name}, "value out of range", "%s must be a whole number from %d to %d, got %v", name, lo, hi, v))
			return def
		}
		return int(n)
	}
	c := Config{
		TenantID:        str("tenant_id", ""),
		ClientID:        str("client_id", ""),
		ClientSecret:    f["client_secret"].Str(),
		AuthorityURL:    strings.TrimRight(str("authority_url", defaultAuthority), "/"),
		GraphURL:        strings.TrimRight(str("graph_url", defaultGraph), "/"),
		DaysBack:        num("calendar_days_back", defaultDaysBack, 0, 3650),
		DaysAhead:       num("calendar_days_ahead", defaultDaysAhead, 1, 3650),
		PageSize:        num("page_size", defaultPageSize, 1, 1000),
		MaxPages:        num("max_delta_pages", defaultMaxPages, 1, 1000000),
		Concurrency:     num("max_requests_per_mailbox", defaultConcurrency, 1, maxConcurrency),
		NotificationURL: str("notification_url", ""),
		SendInvitations: f["send_invitations"].BoolVal(),
	}
	for _, req := range []struct{ name, val, what string }{
		{"tenant_id", c.TenantID, "the directory (tenant) id or domain of the Microsoft 365 tenant"},
		{"client_id", c.ClientID, "the application (client) id of the app registration"},
		{"client_secret", c.ClientSecret, "a client secret of the app registration"},
	} {
		if req.val == "" {
			ds = append(ds, sdk.Errorf([]string{req.name}, "missing setting", "set %s: %s", req.name, req.what))
		}
	}
	for _, u := range []struct{ name, val string }{{"authority_url", c.AuthorityURL}, {"graph_url", c.GraphURL}, {"notification_url", c.NotificationURL}} {
		if u.val == "" {
			continue
		}
		if p, err := url.Parse(u.val); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			ds = append(ds, sdk.Errorf([]string{u.name}, "not an absolute URL", "%s must be an http(s) URL such as https://host/path, got %q", u.name, u.val))
		}
	}
	return c, ds
}

// tokenURL is the v2.0 token endpoint of the tenant.
func (c Config) tokenURL() string {
	return c.AuthorityURL + "/" + url.PathEscape(c.TenantID) + "/oauth2/v2.0/token"
}

// window returns the calendar window for a day: from midnight UTC DaysBack
// days before it to DaysAhead days after it.
func (c Config) window(now time.Time) (time.Time, time.Time) {
	day := now.UTC().Truncate(24 * time.Hour)
	return day.AddDate(0, 0, -c.DaysBack), day.AddDate(0, 0, c.DaysAhead)
}
