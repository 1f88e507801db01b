package caldav_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncgate/syncgate/plugins/caldav"
	"github.com/syncgate/syncgate/plugins/caldav/davtest"
	"github.com/syncgate/syncgate/sdk"
)

func TestConfigureProblems(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     sdk.Fields
		path  string
		error bool
		want  string
	}{
		{"no scheme", sdk.Fields{"url": sdk.String("dav.example.com"), "username": sdk.String("a")}, "url", true, "want http(s)://host"},
		{"ftp", sdk.Fields{"url": sdk.String("ftp://dav.example.com/"), "username": sdk.String("a")}, "url", true, "want http(s)://host"},
		{"no username", sdk.Fields{"url": sdk.String("https://dav.example.com/")}, "username", true, "login name"},
		{"unknown detection", sdk.Fields{"url": sdk.String("https://dav.example.com/"), "username": sdk.String("a"), "change_detection": sdk.String("ctag")}, "change_detection", true, `got "ctag"`},
		{"clear text", sdk.Fields{"url": sdk.String("http://dav.example.com/"), "username": sdk.String("a")}, "url", false, "unencrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := caldav.New(manifestFile(t)).Configure(t.Context(), sdk.Env{}, tc.f)
			if len(ds) != 1 || ds.HasErrors() != tc.error || strings.Join(ds[0].Path, ".") != tc.path || !strings.Contains(ds[0].Detail, tc.want) {
				t.Fatalf("Configure(%v) = %+v; want one diagnostic on %s (error %v) saying %q", tc.f, ds, tc.path, tc.error, tc.want)
			}
		})
	}
}

// TestRadicaleRefusals: a wrong password, a scope that is not the
// account, and an unknown collection each say what is wrong.
func TestRadicaleRefusals(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	ctx := t.Context()
	bad := configure(t, s, sdk.Fields{"password": sdk.String("not the password")})
	res, err := bad.Check(ctx, []string{s.User})
	if err != nil || !res.Diagnostics.HasErrors() || res.Diagnostics[0].Path[0] != "password" || !strings.Contains(res.Diagnostics[0].Detail, "username and password") {
		t.Errorf("Check with a wrong password: %+v, %v", res.Diagnostics, err)
	}
	if _, err := bad.Fetch(ctx, s.User, "contact", []string{s.Contacts + "x.vcf"}); !sdk.IsKind(err, sdk.ErrAuth) {
		t.Errorf("Fetch with a wrong password: %v, want ErrAuth", err)
	}

	c := configure(t, s, nil)
	res, err = c.Check(ctx, []string{s.User, "bob"})
	if err != nil || res.Diagnostics.HasErrors() || len(res.Scopes) != 2 {
		t.Fatalf("Check: %+v, %v", res, err)
	}
	if res.Scopes[0].Diagnostics.HasErrors() || !res.Scopes[1].Diagnostics.HasErrors() || !strings.Contains(res.Scopes[1].Diagnostics[0].Detail, "one endpoint per account") {
		t.Errorf("Check of the account and of another user: %+v", res.Scopes)
	}
	if _, err := c.Apply(ctx, "bob", "contact", []sdk.Op{{Kind: sdk.OpCreate, Fields: sdk.Fields{"surname": sdk.String("X")}}}); !sdk.IsKind(err, sdk.ErrConfig) {
		t.Errorf("Apply in another user's scope: %v, want ErrConfig", err)
	}
	fr, err := c.Fetch(ctx, s.User, "contact", []string{"/elsewhere/x.vcf"})
	if err != nil || fr[0].Err == nil || fr[0].Err.Kind != sdk.ErrNotFound {
		t.Errorf("Fetch outside the account's collections: %+v, %v", fr, err)
	}

	named := configure(t, s, sdk.Fields{"calendars": sdk.Strings("/alice/nowhere/")})
	res, err = named.Check(ctx, []string{s.User})
	if err != nil || !res.Diagnostics.HasErrors() || res.Diagnostics[0].Path[0] != "url" || !strings.Contains(res.Diagnostics[0].Detail, "/alice/nowhere/") {
		t.Errorf("Check with a calendar that does not exist: %+v, %v", res.Diagnostics, err)
	}
}

// TestFieldsRoundTrip writes what sdktest's samples leave out (series,
// all-day events, HTML bodies, the statuses iCalendar lacks, references,
// task reminders) and reads it back from Radicale unchanged.
func TestFieldsRoundTrip(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	c := configure(t, s, nil)
	ny := func(t time.Time) sdk.Value { return sdk.TimeIn(t, "America/New_York") }
	day := time.Date(2031, 1, 14, 0, 0, 0, 0, time.FixedZone("", -5*3600))
	regarding := sdk.Map(map[string]sdk.Value{"entity": sdk.String("opportunity"), "id": sdk.String("opp-7"), "name": sdk.String("Big deal")})
	for _, tc := range []struct {
		entity string
		f      sdk.Fields
	}{
		{"appointment", sdk.Fields{
			"subject": sdk.String("Board meeting"), "body": sdk.String("<p>Agenda &amp; minutes</p>"), "body_type": sdk.String("html"),
			"start": ny(day.Add(10 * time.Hour)), "end": ny(day.Add(12 * time.Hour)), "all_day": sdk.Bool(false),
			"show_as": sdk.String("oof"), "sensitivity": sdk.String("personal"), "importance": sdk.String("low"), "status": sdk.String("tentative"),
			"organizer": sdk.String("chair@example.com"), "regarding": regarding, "ical_uid": sdk.String("board-2031@example.com"),
			"attendees": sdk.List(
				sdk.Map(map[string]sdk.Value{"address": sdk.String("chair@example.com"), "name": sdk.String("The Chair"), "role": sdk.String("required"), "response": sdk.String("organizer")}),
				sdk.Map(map[string]sdk.Value{"address": sdk.String("guest@example.com"), "role": sdk.String("optional"), "response": sdk.String("tentative")})),
			"recurrence": sdk.Map(map[string]sdk.Value{"pattern": sdk.String("relative_monthly"), "interval": sdk.Int(2), "days_of_week": sdk.Strings("tuesday"),
				"index": sdk.String("second"), "range": sdk.String("end_date"), "start_date": sdk.String("2031-01-14"), "end_date": sdk.String("2031-12-31"),
				"zone": sdk.String("America/New_York"), "cancelled": sdk.List(ny(day.AddDate(0, 2, 27).Add(10 * time.Hour)))}),
		}},
		{"appointment", sdk.Fields{
			"subject": sdk.String("Holiday"), "start": ny(day), "end": ny(day.AddDate(0, 0, 3)), "all_day": sdk.Bool(true), "status": sdk.String("free"),
			"recurrence": sdk.Map(map[string]sdk.Value{"pattern": sdk.String("absolute_yearly"), "interval": sdk.Int(1), "month": sdk.Int(1), "day_of_month": sdk.Int(14),
				"range": sdk.String("no_end"), "start_date": sdk.String("2031-01-14"), "zone": sdk.String("America/New_York")}),
		}},
		{"task", sdk.Fields{
			"subject": sdk.String("Send the offer"), "start": ny(day.Add(9 * time.Hour)), "due": ny(day.AddDate(0, 0, 2).Add(17 * time.Hour)),
			"status": sdk.String("waiting"), "percent_complete": sdk.Int(40), "importance": sdk.String("normal"),
			"reminder": sdk.TimeIn(day.AddDate(0, 0, 2).Add(9*time.Hour).UTC(), ""), "regarding": regarding, "categories": sdk.Strings("Sales", "Q1, urgent"),
		}},
		{"task", sdk.Fields{"subject": sdk.String("Done"), "status": sdk.String("completed"), "completed_at": sdk.TimeIn(day.UTC(), ""), "percent_complete": sdk.Int(100)}},
		{"contact", sdk.Fields{
			"given_name": sdk.String("Mary"), "middle_name": sdk.String("Jane"), "surname": sdk.String("O'Neil"), "job_title": sdk.String("CTO"),
			"company": sdk.String("Acme"), "department": sdk.String("R&D"), "notes": sdk.String("line one\nline two, with comma"), "web_page": sdk.String("https://acme.example"),
			"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("mary@acme.example"), "kind": sdk.String("work")}),
				sdk.Map(map[string]sdk.Value{"address": sdk.String("mj@home.example"), "kind": sdk.String("home")})),
			"phones": sdk.List(sdk.Map(map[string]sdk.Value{"number": sdk.String("+1 555 0100"), "kind": sdk.String("mobile")}),
				sdk.Map(map[string]sdk.Value{"number": sdk.String("+1 555 0199"), "kind": sdk.String("fax")})),
			"addresses": sdk.List(sdk.Map(map[string]sdk.Value{"kind": sdk.String("business"), "street": sdk.String("1 Main St\nSuite 5"), "city": sdk.String("Springfield"),
				"state": sdk.String("IL"), "postal_code": sdk.String("62701"), "country": sdk.String("USA")})),
			"birthday": sdk.String("1980-02-29"),
		}},
	} {
		t.Run(tc.entity+"/"+tc.f["subject"].Str()+tc.f["surname"].Str(), func(t *testing.T) {
			if ds := sdk.Validate(tc.entity, tc.f); ds.HasErrors() {
				t.Fatalf("the test's fields are not canonical: %v", ds.Err())
			}
			res, err := c.Apply(t.Context(), s.User, tc.entity, []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "rt-" + tc.entity + tc.f["subject"].Str() + tc.f["surname"].Str(), Fields: tc.f}})
			if err != nil || res[0].Err != nil {
				t.Fatalf("create: %v %v", err, res[0].Err)
			}
			fr, err := c.Fetch(t.Context(), s.User, tc.entity, []string{res[0].ID})
			if err != nil || fr[0].Err != nil {
				t.Fatalf("fetch: %v %v", err, fr[0].Err)
			}
			for k, want := range tc.f {
				if got := fr[0].Record.Fields[k]; !got.Equal(want) {
					t.Errorf("%s: wrote %v, read %v", k, want, got)
				}
			}
		})
	}
}

// TestUpdateKeepsWhatItDoesNotMap: an update rewrites only the properties
// the connector maps; a client's own (NICKNAME, X-APPLE-...) survive.
func TestUpdateKeepsWhatItDoesNotMap(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	c := configure(t, s, nil)
	ctx := t.Context()
	b := davtest.NewBackend(s, nil)
	for _, tc := range []struct{ entity, extra, field string }{
		{"contact", "NICKNAME:Mimi", "display_name"},
		{"appointment", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC", "subject"},
	} {
		f := sdk.Fields{"subject": sdk.String("Plain"), "display_name": sdk.String("Plain"), "surname": sdk.String("Plain"),
			"start": sdk.TimeIn(time.Date(2031, 3, 1, 9, 0, 0, 0, time.UTC), ""), "end": sdk.TimeIn(time.Date(2031, 3, 1, 10, 0, 0, 0, time.UTC), "")}
		id, err := b.CreateOutOfBand(ctx, tc.entity, f)
		if err != nil {
			t.Fatal(err)
		}
		items, _ := s.Items(ctx, b.CollectionFor(tc.entity))
		end := "END:VCARD"
		if tc.entity != "contact" {
			end = "END:VEVENT"
		}
		put(t, s, id, strings.Replace(items[id], end, tc.extra+"\r\n"+end, 1), map[bool]string{true: "text/vcard", false: "text/calendar"}[tc.entity == "contact"])
		fr, _ := c.Fetch(ctx, s.User, tc.entity, []string{id})
		if fr[0].Err != nil {
			t.Fatal(fr[0].Err)
		}
		res, err := c.Apply(ctx, s.User, tc.entity, []sdk.Op{{Kind: sdk.OpUpdate, ID: id, IfMatch: fr[0].Record.Version, Fields: sdk.Fields{tc.field: sdk.String("Renamed")}}})
		if err != nil || res[0].Err != nil {
			t.Fatalf("update: %v %v", err, res[0].Err)
		}
		items, _ = s.Items(ctx, b.CollectionFor(tc.entity))
		if !strings.Contains(items[id], tc.extra) || !strings.Contains(items[id], "Renamed") {
			t.Errorf("%s after an update:\n%s\nwant %q kept and the new %s", tc.entity, items[id], tc.extra, tc.field)
		}
	}
}

// TestCreateOnSomeoneElsesName: a create whose name is taken by an item
// with another syncgate id is a conflict, never an overwrite.
func TestCreateOnSomeoneElsesName(t *testing.T) {
	t.Parallel()
	s := davtest.StartXandikos(t)
	c := configure(t, s, nil)
	ctx := t.Context()
	op := sdk.Op{Kind: sdk.OpCreate, CorrelationKey: "sg-taken", Fields: sdk.Fields{"surname": sdk.String("First")}}
	res, _ := c.Apply(ctx, s.User, "contact", []sdk.Op{op})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	items, _ := s.Items(ctx, s.Contacts)
	put(t, s, res[0].ID, strings.Replace(items[res[0].ID], "X-SYNCGATE-ID:sg-taken", "X-SYNCGATE-ID:sg-other", 1), "text/vcard")
	again, _ := c.Apply(ctx, s.User, "contact", []sdk.Op{op})
	if again[0].Err == nil || again[0].Err.Kind != sdk.ErrConflict || !strings.Contains(again[0].Err.Message, "another syncgate id") {
		t.Errorf("a create onto an item with another syncgate id: %+v", again[0])
	}
}

// TestEntitiesApart: appointments, service appointments and tasks share a
// calendar on Xandikos; each feed and Fetch sees only its own.
func TestEntitiesApart(t *testing.T) {
	t.Parallel()
	s := davtest.StartXandikos(t)
	c := configure(t, s, nil)
	ctx := t.Context()
	at := sdk.TimeIn(time.Date(2031, 4, 1, 9, 0, 0, 0, time.UTC), "")
	ids := map[string]string{}
	for _, e := range []string{"appointment", "service_appointment", "task"} {
		res, err := c.Apply(ctx, s.User, e, []sdk.Op{{Kind: sdk.OpCreate, CorrelationKey: "sg-" + e, Fields: sdk.Fields{"subject": sdk.String(e), "start": at}}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		ids[e] = res[0].ID
	}
	for _, e := range []string{"appointment", "service_appointment", "task"} {
		page, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: sdk.Feed{Name: e, Scope: s.User}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) != 1 || page.Records[0].ID != ids[e] || page.Records[0].CorrelationKey != "sg-"+e {
			t.Errorf("the %s feed: %+v, want only %s", e, page.Records, ids[e])
		}
		for other, id := range ids {
			fr, _ := c.Fetch(ctx, s.User, e, []string{id})
			if (other == e) != (fr[0].Err == nil) {
				t.Errorf("Fetch of the %s as a %s: %v", other, e, fr[0].Err)
			}
		}
	}
}

// TestPagesSurviveARestart: a round is read once and paged; a page token
// that reaches a process that no longer holds the round reads the feed
// again from the cursor, repeating records rather than losing any.
func TestPagesSurviveARestart(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	ctx := t.Context()
	b := davtest.NewBackend(s, nil)
	for i := 0; i < 12; i++ {
		if _, err := b.CreateOutOfBand(ctx, "contact", sdk.Fields{"surname": sdk.String("P"), "display_name": sdk.String("P")}); err != nil {
			t.Fatal(err)
		}
	}
	feed := sdk.Feed{Name: "contact", Scope: s.User}
	first := configure(t, s, nil)
	page, err := first.GetSyncData(ctx, sdk.SyncDataRequest{Feed: feed, Max: 5})
	if err != nil || len(page.Records) != 5 || len(page.NextPageToken) == 0 || len(page.Cursor) != 0 {
		t.Fatalf("first page: %d records, next %q, cursor %q, %v", len(page.Records), page.NextPageToken, page.Cursor, err)
	}
	seen := map[string]bool{}
	for _, r := range page.Records {
		seen[r.ID] = true
	}
	restarted := configure(t, s, nil)
	req := sdk.SyncDataRequest{Feed: feed, Max: 5, PageToken: page.NextPageToken}
	for n := 0; n < 10; n++ {
		page, err = restarted.GetSyncData(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			seen[r.ID] = true
		}
		if len(page.NextPageToken) == 0 {
			break
		}
		req.PageToken = page.NextPageToken
	}
	if len(seen) != 12 || len(page.Cursor) == 0 {
		t.Errorf("after a restart mid-round: %d items seen, cursor %q; want all 12 and a cursor", len(seen), page.Cursor)
	}
	var st struct {
		Feed  string
		Colls map[string]map[string]string `json:"c"`
	}
	if err := json.Unmarshal(page.Cursor, &st); err != nil || st.Colls[s.Contacts]["t"] == "" {
		t.Errorf("the cursor %s holds no sync token for %s", page.Cursor, s.Contacts)
	}
	if p, err := restarted.PrepareSync(ctx, feed, page.Cursor); err != nil || !p.Nothing() {
		t.Errorf("PrepareSync at the end of the feed: %+v %v, want a count of 0", p, err)
	}
}

// TestServerErrors maps what a server answers to the kind of error that
// decides the gateway's next step.
func TestServerErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		body   string
		want   sdk.ErrorKind
	}{
		{http.StatusUnauthorized, "", "", sdk.ErrAuth},
		{http.StatusTooManyRequests, "7", "", sdk.ErrThrottled},
		{http.StatusServiceUnavailable, "3", "", sdk.ErrThrottled},
		{http.StatusServiceUnavailable, "", "", sdk.ErrRetryable},
		{http.StatusBadGateway, "", "", sdk.ErrRetryable},
		{http.StatusForbidden, "", `<?xml version="1.0"?><d:error xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><c:no-uid-conflict><d:href>/a/b.ics</d:href></c:no-uid-conflict></d:error>`, sdk.ErrPermanent},
		{http.StatusUnsupportedMediaType, "", "", sdk.ErrPermanent},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			c := caldav.New(manifestFile(t))
			srv := newStatusServer(t, tc.status, tc.header, tc.body)
			c.Configure(t.Context(), sdk.Env{}, sdk.Fields{"url": sdk.String(srv), "username": sdk.String("u"), "calendars": sdk.Strings("/cal/"), "address_books": sdk.Strings("/card/")})
			_, err := c.Fetch(context.Background(), "u", "contact", []string{"/card/x.vcf"})
			e := sdk.AsError(err)
			if e == nil || e.Kind != tc.want {
				t.Fatalf("status %d: %v, want %s", tc.status, err, tc.want)
			}
			if tc.want == sdk.ErrThrottled && e.RetryAfter != map[string]time.Duration{"7": 7 * time.Second, "3": 3 * time.Second}[tc.header] {
				t.Errorf("retry after %s, want %ss", e.RetryAfter, tc.header)
			}
		})
	}
}

// newStatusServer answers every request with status, after a PROPFIND that
// discovery needs.
func newStatusServer(t *testing.T, status int, retryAfter, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "PROPFIND" {
			w.WriteHeader(http.StatusMultiStatus)
			kind := "<c:calendar/>"
			if strings.HasPrefix(r.URL.Path, "/card") {
				kind = "<card:addressbook/>"
			}
			w.Write([]byte(`<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:response><d:href>` +
				r.URL.Path + `</d:href><d:propstat><d:prop><d:resourcetype><d:collection/>` + kind + `</d:resourcetype></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>`))
			return
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRoundServesFetch: the Fetch that follows a round is answered from the
// bodies the round read, once; the next Fetch asks the server again, and a
// write through Apply forgets what the round read.
func TestRoundServesFetch(t *testing.T) {
	t.Parallel()
	s := davtest.StartRadicale(t)
	target, _ := url.Parse(s.URL)
	var requests atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	c := caldav.New(manifestFile(t))
	c.Configure(t.Context(), sdk.Env{}, sdk.Fields{"url": sdk.String(proxy.URL), "username": sdk.String(s.User), "password": sdk.String(s.Password)})
	ctx := t.Context()
	b := davtest.NewBackend(s, nil)
	var ids []string
	for i := 0; i < 3; i++ {
		id, err := b.CreateOutOfBand(ctx, "contact", sdk.Fields{"surname": sdk.String("Cached"), "display_name": sdk.String("Cached")})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact", Scope: s.User}}); err != nil {
		t.Fatal(err)
	}
	fetch := func() ([]sdk.FetchResult, int32) {
		before := requests.Load()
		fr, err := c.Fetch(ctx, s.User, "contact", ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range fr {
			if r.Err != nil || r.Record.Fields["surname"].Str() != "Cached" {
				t.Fatalf("Fetch %s: %+v", r.ID, r)
			}
		}
		return fr, requests.Load() - before
	}
	if _, n := fetch(); n != 0 {
		t.Errorf("the Fetch after a round sent %d requests, want 0", n)
	}
	fr, n := fetch()
	if n != 1 {
		t.Errorf("the second Fetch sent %d requests, want 1 multiget", n)
	}
	if _, err := c.GetSyncData(ctx, sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact", Scope: s.User}}); err != nil {
		t.Fatal(err)
	}
	res, _ := c.Apply(ctx, s.User, "contact", []sdk.Op{{Kind: sdk.OpUpdate, ID: ids[0], IfMatch: fr[0].Record.Version, Fields: sdk.Fields{"job_title": sdk.String("Tester")}}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	got, _ := c.Fetch(ctx, s.User, "contact", ids[:1])
	if got[0].Err != nil || got[0].Record.Version != res[0].Version || got[0].Record.Fields["job_title"].Str() != "Tester" {
		t.Errorf("Fetch after an update through Apply: %+v, want version %s with the new title", got[0], res[0].Version)
	}
}
