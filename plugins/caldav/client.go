package caldav

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// client speaks the few WebDAV requests the connector needs, with the
// conditional headers and the sync-collection REPORT (RFC 6578) that
// go-webdav's client does not offer.
type client struct {
	base     *url.URL // the server's root; hrefs are paths on it
	user     string
	password string
	http     *http.Client
}

// response is one <d:response> of a multistatus, with the properties the
// connector asks for.
type response struct {
	Href     string
	Status   int // the response's own status (404 for a deleted member), 0 if it has a propstat
	ETag     string
	Data     string // calendar-data or address-data
	Types    []string
	Comps    []string // supported-calendar-component-set
	Reports  []string // supported-report-set
	HasToken bool     // the collection has a DAV:sync-token property

	Principal, CalendarHome, CardHome string
}

type multistatus struct {
	Responses []xmlResponse `xml:"DAV: response"`
	SyncToken string        `xml:"DAV: sync-token"`
}

type xmlResponse struct {
	Href     []string `xml:"DAV: href"`
	Status   string   `xml:"DAV: status"`
	Propstat []struct {
		Status string `xml:"DAV: status"`
		Prop   struct {
			ETag         string   `xml:"DAV: getetag"`
			CalendarData string   `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
			AddressData  string   `xml:"urn:ietf:params:xml:ns:carddav address-data"`
			Principal    hrefProp `xml:"DAV: current-user-principal"`
			CalendarHome hrefProp `xml:"urn:ietf:params:xml:ns:caldav calendar-home-set"`
			CardHome     hrefProp `xml:"urn:ietf:params:xml:ns:carddav addressbook-home-set"`
			SyncToken    *struct {
				Value string `xml:",chardata"`
			} `xml:"DAV: sync-token"`
			ResourceType struct {
				Types []xml.Name `xml:",any"`
			} `xml:"DAV: resourcetype"`
			Comps struct {
				Comp []struct {
					Name string `xml:"name,attr"`
				} `xml:"comp"`
			} `xml:"urn:ietf:params:xml:ns:caldav supported-calendar-component-set"`
			Reports struct {
				Report []struct {
					Report struct {
						Any []xml.Name `xml:",any"`
					} `xml:"DAV: report"`
				} `xml:"DAV: supported-report"`
			} `xml:"DAV: supported-report-set"`
		} `xml:"DAV: prop"`
	} `xml:"DAV: propstat"`
}

type hrefProp struct {
	Href []string `xml:"DAV: href"`
}

func (h hrefProp) first() string {
	if len(h.Href) == 0 {
		return ""
	}
	return normHref(h.Href[0])
}

// httpError is a failed request: its status and the DAV precondition the
// body names, if any.
type httpError struct {
	method, href string
	status       int
	condition    string // e.g. "valid-sync-token", "no-uid-conflict"
	body         string
	retryAfter   time.Duration
}

func (e *httpError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.method, e.href, e.status, http.StatusText(e.status))
	if e.condition != "" {
		msg += " (" + e.condition + ")"
	}
	return msg
}

// typed maps a failed request to the SDK's error kinds, which decide what
// the gateway does next.
func typed(err error) *sdk.Error {
	var he *httpError
	if !errors.As(err, &he) {
		return sdk.AsError(err)
	}
	switch he.status {
	case http.StatusUnauthorized:
		return sdk.NewError(sdk.ErrAuth, "%v: the server refused the username and password; check the endpoint's username and password", he)
	case http.StatusForbidden:
		if he.condition == "no-uid-conflict" {
			return sdk.NewError(sdk.ErrPermanent, "%v: another item in the calendar already has this iCalendar UID", he)
		}
		return sdk.NewError(sdk.ErrAuth, "%v: the user may not do this; check the account's rights on the collection", he)
	case http.StatusNotFound, http.StatusGone:
		return sdk.NewError(sdk.ErrNotFound, "%v", he)
	case http.StatusPreconditionFailed:
		return sdk.Conflict("", "%v: the item changed since the version given", he)
	case http.StatusTooManyRequests:
		return sdk.Throttled(he.retryAfter, sdk.ThrottleScopeWide, "%v", he)
	case http.StatusServiceUnavailable:
		if he.retryAfter > 0 {
			return sdk.Throttled(he.retryAfter, sdk.ThrottleEndpoint, "%v", he)
		}
	}
	if he.status >= 500 || he.status == http.StatusRequestTimeout {
		return sdk.NewError(sdk.ErrRetryable, "%v", he)
	}
	return sdk.NewError(sdk.ErrPermanent, "%v: %s", he, strings.TrimSpace(truncate(he.body, 300)))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// hrefURL turns a path on the server into a request URL.
func (c *client) hrefURL(href string) string {
	u := *c.base
	u.Path = href
	u.RawPath = ""
	u.RawQuery = ""
	return u.String()
}

// normHref makes an href from a response comparable: an unescaped absolute
// path (a server may answer with a full URL or escape differently).
func normHref(h string) string {
	h = strings.TrimSpace(h)
	if u, err := url.Parse(h); err == nil {
		h = u.Path
	}
	if !strings.HasPrefix(h, "/") {
		h = "/" + h
	}
	return h
}

// do sends one request and returns the response for 2xx statuses; any other
// status is an *httpError.
func (c *client) do(ctx context.Context, method, href string, body []byte, header map[string]string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.hrefURL(href), bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, href, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, href, err)
	}
	if res.StatusCode/100 != 2 {
		he := &httpError{method: method, href: href, status: res.StatusCode, body: string(data), condition: condition(data)}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
			he.retryAfter = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(res.Header.Get("Retry-After")); err == nil {
			he.retryAfter = time.Until(t)
		}
		return res, data, he
	}
	return res, data, nil
}

// condition returns the name of the first precondition element in a DAV
// error body (<d:error><d:valid-sync-token/></d:error>).
func condition(body []byte) string {
	var e struct {
		XMLName  xml.Name
		Children []struct {
			XMLName xml.Name
		} `xml:",any"`
	}
	if xml.Unmarshal(body, &e) != nil || e.XMLName.Local != "error" || len(e.Children) == 0 {
		return ""
	}
	return e.Children[0].XMLName.Local
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *client) multistatus(ctx context.Context, method, href string, depth string, body string) (multistatus, error) {
	h := map[string]string{"Content-Type": "application/xml; charset=utf-8"}
	if depth != "" {
		h["Depth"] = depth
	}
	_, data, err := c.do(ctx, method, href, []byte(xml.Header+body), h)
	if err != nil {
		return multistatus{}, err
	}
	var ms multistatus
	if err := xml.Unmarshal(data, &ms); err != nil {
		return ms, fmt.Errorf("%s %s: the multistatus answer does not parse: %w", method, href, err)
	}
	return ms, nil
}

// responses flattens a multistatus into one response per href.
func responses(ms multistatus) []response {
	var out []response
	for _, r := range ms.Responses {
		for _, h := range r.Href {
			resp := response{Href: normHref(h), Status: statusCode(r.Status)}
			for _, ps := range r.Propstat {
				if statusCode(ps.Status)/100 != 2 {
					continue
				}
				p := ps.Prop
				resp.ETag = p.ETag
				resp.Data = p.CalendarData + p.AddressData
				resp.Principal = or(resp.Principal, p.Principal.first())
				resp.CalendarHome = or(resp.CalendarHome, p.CalendarHome.first())
				resp.CardHome = or(resp.CardHome, p.CardHome.first())
				if p.SyncToken != nil {
					resp.HasToken = true
				}
				for _, t := range p.ResourceType.Types {
					resp.Types = append(resp.Types, t.Local)
				}
				for _, comp := range p.Comps.Comp {
					resp.Comps = append(resp.Comps, strings.ToUpper(comp.Name))
				}
				for _, rep := range p.Reports.Report {
					for _, n := range rep.Report.Any {
						resp.Reports = append(resp.Reports, n.Local)
					}
				}
			}
			out = append(out, resp)
		}
	}
	return out
}

// statusCode reads "HTTP/1.1 404 Not Found"; 0 when absent.
func statusCode(s string) int {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// member is one item of a collection: its href and etag, and its body when
// the request asked for it.
type member struct {
	Href, ETag, Data string
	Gone             bool
}

// syncCollection runs the sync-collection REPORT from token ("" for the
// initial enumeration) and returns the changed and removed members and the
// new token. withData asks for the bodies too (calendars, where the body
// says which entity an item is).
func (c *client) syncCollection(ctx context.Context, coll, token string, kind collKind, withData bool) ([]member, string, error) {
	var tok string
	if token != "" {
		tok = "<d:sync-token>" + xmlEscape(token) + "</d:sync-token>"
	} else {
		tok = "<d:sync-token/>"
	}
	body := `<d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:card="urn:ietf:params:xml:ns:carddav">` +
		tok + `<d:sync-level>1</d:sync-level><d:prop><d:getetag/>` + dataProp(kind, withData) + `</d:prop></d:sync-collection>`
	ms, err := c.multistatus(ctx, "REPORT", coll, "", body)
	if err != nil {
		return nil, "", err
	}
	var out []member
	for _, r := range responses(ms) {
		if strings.TrimSuffix(r.Href, "/") == strings.TrimSuffix(coll, "/") {
			continue // some servers list the collection itself
		}
		out = append(out, member{Href: r.Href, ETag: r.ETag, Data: r.Data, Gone: r.Status == http.StatusNotFound})
	}
	if ms.SyncToken == "" {
		return nil, "", fmt.Errorf("REPORT sync-collection %s: the answer carries no sync-token", coll)
	}
	return out, ms.SyncToken, nil
}

func dataProp(kind collKind, withData bool) string {
	switch {
	case !withData:
		return ""
	case kind == kindAddressBook:
		return "<card:address-data/>"
	}
	return "<c:calendar-data/>"
}

// listMembers lists a collection's members with their etags (PROPFIND
// Depth 1): the change detection for servers without sync-collection.
func (c *client) listMembers(ctx context.Context, coll string) ([]member, error) {
	ms, err := c.multistatus(ctx, "PROPFIND", coll, "1",
		`<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>`)
	if err != nil {
		return nil, err
	}
	var out []member
	for _, r := range responses(ms) {
		if strings.TrimSuffix(r.Href, "/") == strings.TrimSuffix(coll, "/") || r.ETag == "" {
			continue
		}
		out = append(out, member{Href: r.Href, ETag: r.ETag})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Href < out[j].Href })
	return out, nil
}

// multiget reads several members of one collection in one REPORT; hrefs
// the server reports missing come back with Gone set.
func (c *client) multiget(ctx context.Context, coll string, kind collKind, hrefs []string) (map[string]member, error) {
	var b strings.Builder
	name, ns := "c:calendar-multiget", `xmlns:c="urn:ietf:params:xml:ns:caldav"`
	if kind == kindAddressBook {
		name, ns = "card:addressbook-multiget", `xmlns:card="urn:ietf:params:xml:ns:carddav"`
	}
	b.WriteString("<" + name + ` xmlns:d="DAV:" ` + ns + "><d:prop><d:getetag/>" + dataProp(kind, true) + "</d:prop>")
	for _, h := range hrefs {
		b.WriteString("<d:href>" + xmlEscape((&url.URL{Path: h}).EscapedPath()) + "</d:href>")
	}
	b.WriteString("</" + name + ">")
	ms, err := c.multistatus(ctx, "REPORT", coll, "1", b.String())
	if err != nil {
		return nil, err
	}
	out := map[string]member{}
	for _, r := range responses(ms) {
		out[r.Href] = member{Href: r.Href, ETag: r.ETag, Data: r.Data, Gone: r.Status == http.StatusNotFound || (r.Data == "" && r.ETag == "")}
	}
	return out, nil
}

// get reads one member.
func (c *client) get(ctx context.Context, href string) (member, error) {
	res, data, err := c.do(ctx, http.MethodGet, href, nil, nil)
	if err != nil {
		return member{}, err
	}
	return member{Href: href, ETag: res.Header.Get("ETag"), Data: string(data)}, nil
}

// put writes one member: ifNoneMatch "*" creates only, ifMatch updates only
// that version. It returns the new etag; a server that does not answer
// with one (it changed what it stored) is asked for it.
func (c *client) put(ctx context.Context, href, contentType string, body []byte, ifMatch string, create bool) (string, error) {
	h := map[string]string{"Content-Type": contentType}
	if create {
		h["If-None-Match"] = "*"
	}
	if ifMatch != "" {
		h["If-Match"] = ifMatch
	}
	res, _, err := c.do(ctx, http.MethodPut, href, body, h)
	if err != nil {
		return "", err
	}
	if etag := res.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		return etag, nil
	}
	m, err := c.get(ctx, href)
	return m.ETag, err
}

// remove deletes one member if it still has version ifMatch.
func (c *client) remove(ctx context.Context, href, ifMatch string) error {
	h := map[string]string{}
	if ifMatch != "" {
		h["If-Match"] = ifMatch
	}
	_, _, err := c.do(ctx, http.MethodDelete, href, nil, h)
	return err
}

func xmlEscape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// joinHref resolves name inside collection coll.
func joinHref(coll, name string) string {
	return path.Join(coll, name)
}
