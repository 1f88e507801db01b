package crm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

const aliceID = "11111111-2222-3333-4444-555555555555"

// withAccounts adds the documentation's accounts table as an entity, so that
// its samples can be replayed through the feed and the writes.
func withAccounts(c *Connector) {
	t := &table{set: "accounts", logical: "account", key: "accountid", cols: []string{"name"},
		read: func(_ *Connector, _ *table, r row, _ []party) (sdk.Fields, error) {
			return sdk.Fields{"display_name": sdk.String(r.str("name"))}, nil
		},
		write: func(_ *Connector, _ *table, f sdk.Fields, _ []party) (row, error) {
			return row{"name": strOrNil(f["display_name"])}, nil
		},
	}
	c.entities["account"] = &entity{name: "account", tables: []*table{t}, createIn: func(sdk.Fields) *table { return t }}
}

// withUsers answers the scope lookup of alice; other requests go to next.
func withUsers(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/systemusers") {
			fmt.Fprintf(w, `{"value":[{"systemuserid":%q,"internalemailaddress":"alice@contoso.com"}]}`, aliceID)
			return
		}
		next(w, r)
	}
}

// TestChangeTrackingRounds replays the documentation's change tracking
// exchange: the initial round and the round from its delta link, with a
// changed row and a $deletedEntity entry.
func TestChangeTrackingRounds(t *testing.T) {
	initial, delta := loadFixture(t, "track-changes-initial.json"), loadFixture(t, "track-changes-delta-deletedentity.json")
	var f *fake
	var n atomic.Int32
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Prefer") == "" || !strings.Contains(r.Header.Get("Prefer"), "odata.track-changes") ||
			!strings.Contains(r.Header.Get("Prefer"), "odata.maxpagesize=") {
			t.Errorf("a feed request without Prefer odata.track-changes and odata.maxpagesize: %q", r.Header.Get("Prefer"))
		}
		if r.URL.Query().Get("$filter") != "" {
			t.Errorf("a feed request with $filter, which change tracking rejects: %s", r.URL)
		}
		if n.Add(1) == 1 {
			serve(f, initial)(w, r)
		} else {
			serve(f, delta)(w, r)
		}
	})
	c := connectorFor(t, f)
	withAccounts(c)
	feed := sdk.Feed{Name: "account"}
	p, err := c.PrepareSync(t.Context(), feed, nil)
	if err != nil || p.Kind != sdk.PendingUnknown {
		t.Fatalf("PrepareSync: %+v %v; want unknown (change tracking gives no cheap count)", p, err)
	}
	if len(f.requests()) != 0 {
		t.Errorf("PrepareSync sent %d requests, want none", len(f.requests()))
	}
	page, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: feed, Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	sel := f.requests()[0].URL.Query().Get("$select")
	if sel != "accountid,versionnumber,modifiedon,_ownerid_value,sg_syncgateid" {
		t.Errorf("the initial request selects %q, want only the id, version, time, owner and syncgate id", sel)
	}
	if len(page.Records) != 1 || page.Records[0].ID != "60c4e274-0d87-e711-80e5-00155db19e6d" ||
		page.Records[0].Version != "915244" || page.Records[0].Kind != sdk.ChangeUpsert {
		t.Fatalf("initial round: %+v", page.Records)
	}
	if len(page.NextPageToken) != 0 || len(page.Cursor) == 0 {
		t.Fatalf("the initial round ends with its delta link: token %q, cursor %q", page.NextPageToken, page.Cursor)
	}
	page, err = c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: feed, Cursor: page.Cursor, Max: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[1].URL.RawQuery; got != "$select=name,accountnumber,telephone1,fax&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44" {
		t.Errorf("the delta link was not followed unmodified: %s", got)
	}
	if len(page.Records) != 2 || page.Records[1].ID != "2e451703-c686-e711-80e5-00155db19e6d" || page.Records[1].Kind != sdk.ChangeDelete {
		t.Fatalf("delta round: %+v", page.Records)
	}
	var cur cursorState
	if err := json.Unmarshal(page.Cursor, &cur); err != nil || !strings.Contains(cur.Links[0], "919058") {
		t.Errorf("the new cursor does not hold the new delta link: %s", page.Cursor)
	}
}

// TestPagingFollowsNextLink replays the paging samples: the next link is
// followed unchanged, with the same page size, until the round ends.
func TestPagingFollowsNextLink(t *testing.T) {
	p1, p2 := loadFixture(t, "paging-maxpagesize-page1.json"), loadFixture(t, "paging-maxpagesize-page2.json")
	var f *fake
	var n atomic.Int32
	f = newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			serve(f, p1)(w, r)
		case 2:
			serve(f, p2)(w, r)
		default:
			fmt.Fprintf(w, `{"value":[],"@odata.deltaLink":"%s/api/data/v9.2/contacts?$deltatoken=1%%212"}`, f.srv.URL)
		}
	})
	c := connectorFor(t, f)
	var recs []sdk.ChangeRecord
	req := sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact"}, Max: 2}
	for i := 0; ; i++ {
		page, err := c.GetSyncData(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, page.Records...)
		if len(page.NextPageToken) == 0 {
			break
		}
		if i > 5 {
			t.Fatal("the round does not end")
		}
		req.PageToken = page.NextPageToken
	}
	got := f.requests()
	if len(got) != 3 || len(recs) != 4 {
		t.Fatalf("%d requests, %d records; want 3 and 4", len(got), len(recs))
	}
	var page1 struct {
		Next string `json:"@odata.nextLink"`
	}
	json.Unmarshal(p1.Response.Body, &page1)
	if want := strings.SplitN(page1.Next, "?", 2)[1]; got[1].URL.RawQuery != want {
		t.Errorf("the second request is not the next link as given:\n got %s\nwant %s", got[1].URL.RawQuery, want)
	}
	for _, r := range got {
		if !strings.Contains(r.Header.Get("Prefer"), "odata.maxpagesize=2") {
			t.Errorf("a page asked without the same page size: %q", r.Header.Get("Prefer"))
		}
	}
	if recs[3].ID != "74bf4d48-34cb-ed11-b596-0022481d68cd" || recs[3].Version != "80648724" {
		t.Errorf("last record: %+v", recs[3])
	}
}

// TestFeedErrors: an expired delta token asks for a resync, a throttled
// feed waits for the endpoint, a table without change tracking is the org's
// configuration, a broken page is retried.
func TestFeedErrors(t *testing.T) {
	expired := `{"error":{"code":"0x80044352","message":"Version stamp associated with the client has expired. Please perform a full sync."}}`
	for _, tc := range []struct {
		name   string
		status int
		body   string
		header map[string]string
		cursor bool
		want   sdk.ErrorKind
	}{
		{"expired delta token", 400, expired, nil, true, sdk.ErrResyncRequired},
		{"unknown delta token", 404, `{"error":{"code":"","message":"gone"}}`, nil, true, sdk.ErrResyncRequired},
		{"no change tracking", 400, `{"error":{"code":"0x80072491","message":"Change tracking is not enabled"}}`, nil, false, sdk.ErrConfig},
		{"throttled", 429, `{"error":{"code":"0x80072322","message":"Number of requests exceeded the limit"}}`, map[string]string{"Retry-After": "3"}, true, sdk.ErrThrottled},
		{"unavailable", 503, `{"error":{"code":"","message":"down"}}`, nil, true, sdk.ErrRetryable},
		{"malformed page", 200, `{"value":[{"contactid":`, nil, true, sdk.ErrRetryable},
		{"page without links", 200, `{"value":[]}`, nil, true, sdk.ErrRetryable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			})
			c := connectorFor(t, f)
			var cursor sdk.Cursor
			if tc.cursor {
				cursor = encode(cursorState{V: cursorVersion, Entity: "contact", Links: []string{f.url() + "/contacts?$select=contactid&$deltatoken=1%212"}})
			}
			_, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact"}, Cursor: cursor})
			se := sdk.AsError(err)
			if err == nil || se.Kind != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			if tc.want == sdk.ErrThrottled && (se.RetryAfter != 3*time.Second || se.ThrottleScope != sdk.ThrottleEndpoint) {
				t.Errorf("throttled for %s (%s), want 3s for the endpoint", se.RetryAfter, se.ThrottleScope)
			}
		})
	}
}

// TestCursorChecks: a cursor of another entity or org, or no cursor at all,
// asks for a resync before any request.
func TestCursorChecks(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("unexpected request %s", r.URL) })
	c := connectorFor(t, f)
	for name, cur := range map[string]sdk.Cursor{
		"garbage":      sdk.Cursor("x"),
		"other entity": encode(cursorState{V: cursorVersion, Entity: "task", Links: []string{""}}),
		"other org":    encode(cursorState{V: cursorVersion, Entity: "contact", Links: []string{"https://evil.example/api/data/v9.2/contacts?$deltatoken=1"}}),
		"other table":  encode(cursorState{V: cursorVersion, Entity: "contact", Links: []string{f.url() + "/tasks?$deltatoken=1"}}),
		"old version":  encode(cursorState{V: 0, Entity: "contact", Links: []string{""}}),
	} {
		for _, call := range []func() error{
			func() error { _, err := c.PrepareSync(t.Context(), sdk.Feed{Name: "contact"}, cur); return err },
			func() error { return c.PostSync(t.Context(), sdk.Feed{Name: "contact"}, cur) },
			func() error {
				_, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact"}, Cursor: cur})
				return err
			},
		} {
			if err := call(); !sdk.IsKind(err, sdk.ErrResyncRequired) {
				t.Errorf("%s cursor: got %v, want resync_required", name, err)
			}
		}
	}
	if _, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "contact", Scope: "alice"}}); !sdk.IsKind(err, sdk.ErrPermanent) {
		t.Errorf("a scoped feed: got %v, want a permanent error (the feeds are the endpoint's)", err)
	}
	if _, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "email"}}); !sdk.IsKind(err, sdk.ErrPermanent) {
		t.Errorf("an unknown feed: got %v, want a permanent error", err)
	}
}
