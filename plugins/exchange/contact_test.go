package exchange

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// TestContactFixtures parses the documentation's contact samples and maps
// them to the canonical contact.
func TestContactFixtures(t *testing.T) {
	for _, name := range []string{"contact-get.json", "contact-create.json", "contact-update.json"} {
		t.Run(name, func(t *testing.T) {
			fx := loadFixture(t, name)
			var gc graphContact
			if err := json.Unmarshal(fx.Response.Body, &gc); err != nil {
				t.Fatal(err)
			}
			f := contactFields(&gc)
			if ds := sdk.Validate("contact", f); ds.HasErrors() {
				t.Errorf("not canonical: %v", ds.Err())
			}
			if gc.ID == "" || (name != "contact-create.json" && versionOf(gc.ETag, gc.ChangeKey) == "") {
				t.Errorf("id %q, version %q", gc.ID, versionOf(gc.ETag, gc.ChangeKey))
			}
			if f["display_name"].Str() != *gc.DisplayName {
				t.Errorf("display_name %v", f["display_name"])
			}
		})
	}
	fx := loadFixture(t, "contact-update.json")
	var gc graphContact
	json.Unmarshal(fx.Response.Body, &gc)
	f := contactFields(&gc)
	if len(f["emails"].ListVal()) == 0 || len(f["phones"].ListVal()) == 0 || f["birthday"].Str() != "1974-07-22" {
		t.Errorf("contact-update: emails %v phones %v birthday %v", f["emails"], f["phones"], f["birthday"])
	}
	fx = loadFixture(t, "contact-create.json")
	// The documented create request maps to canonical fields and back.
	var sent map[string]any
	json.Unmarshal(fx.Request.Body, &sent)
	var req graphContact
	json.Unmarshal(fx.Request.Body, &req)
	back := contactBody(contactFields(&req))
	for _, k := range []string{"givenName", "surname", "emailAddresses", "businessPhones"} {
		var got any
		b, _ := json.Marshal(back[k])
		json.Unmarshal(b, &got)
		if fmt.Sprint(got) != fmt.Sprint(sent[k]) {
			t.Errorf("%s: sent %v, maps back to %v", k, sent[k], back[k])
		}
	}
}

func TestContactRoundTrip(t *testing.T) {
	in := sdk.Fields{
		"given_name": sdk.String("Ada"), "middle_name": sdk.String("A."), "surname": sdk.String("Lovelace"), "display_name": sdk.String("Ada Lovelace"),
		"job_title": sdk.String("Analyst"), "company": sdk.String("Engines"), "department": sdk.String("R&D"),
		"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("ada@example.com"), "name": sdk.String("Ada"), "kind": sdk.String("work")})),
		"phones": sdk.List(
			sdk.Map(map[string]sdk.Value{"number": sdk.String("1"), "kind": sdk.String("business")}),
			sdk.Map(map[string]sdk.Value{"number": sdk.String("2"), "kind": sdk.String("home")}),
			sdk.Map(map[string]sdk.Value{"number": sdk.String("3"), "kind": sdk.String("mobile")})),
		"addresses": sdk.List(sdk.Map(map[string]sdk.Value{"kind": sdk.String("home"), "street": sdk.String("1 Main St"), "city": sdk.String("London"), "country": sdk.String("UK")})),
		"birthday":  sdk.String("1815-12-10"), "notes": sdk.String("notes"), "categories": sdk.Strings("Tracked to CRM"), "web_page": sdk.String("https://example.com"),
	}
	b, _ := json.Marshal(contactBody(in))
	var gc graphContact
	if err := json.Unmarshal(b, &gc); err != nil {
		t.Fatal(err)
	}
	out := contactFields(&gc)
	if !out.Equal(in) {
		t.Errorf("round trip:\n in %v\nout %v", in, out)
	}
	// A null clears; a field not mentioned is not written.
	patch := contactBody(sdk.Fields{"job_title": sdk.Null, "emails": sdk.Null})
	if v, ok := patch["jobTitle"]; !ok || v != nil {
		t.Errorf("a null job title writes %v", v)
	}
	if v := patch["emailAddresses"]; fmt.Sprint(v) != "[]" {
		t.Errorf("null emails write %v", v)
	}
	if _, ok := patch["givenName"]; ok {
		t.Error("a patch writes a field it does not carry")
	}
}

// contactsMailbox scripts a mailbox's contacts feed for delta tests.
func contactsMailbox(f *fakeGraph) {
	f.handle("GET /users/"+alice+"/contactFolders/contacts", reply(200, map[string]any{"id": "folder1", "displayName": "Contacts"}))
}

func deltaPageJSON(items []map[string]any, next, delta string) map[string]any {
	p := map[string]any{"value": items}
	if next != "" {
		p["@odata.nextLink"] = next
	}
	if delta != "" {
		p["@odata.deltaLink"] = delta
	}
	return p
}

func contactItem(id, etag string) map[string]any {
	return map[string]any{"id": id, "@odata.etag": etag, "displayName": id, "lastModifiedDateTime": "2026-11-01T10:00:00Z"}
}

// TestDeltaRound walks a round of three pages, an empty one among them:
// an item seen twice is reported once with its last version, an @removed
// entry is confirmed with a GET (404: deleted; still there: moved out of
// the folder), and the cursor is the delta link. The next round starts
// from the delta link, never from the original query.
func TestDeltaRound(t *testing.T) {
	f := newFakeGraph(t)
	contactsMailbox(f)
	base := f.srv.URL + "/v1.0/users/" + alice + "/contactFolders/folder1/contacts/delta"
	f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("Prefer"); !strings.Contains(p, "odata.maxpagesize=") {
			t.Errorf("delta without a page size: %q", p)
		}
		q := r.URL.Query()
		switch {
		case q.Get("$deltatoken") == "d1":
			reply(200, deltaPageJSON([]map[string]any{contactItem("c9", `W/"9"`)}, "", base+"?$deltatoken=d2"))(w, r)
		case q.Get("$skiptoken") == "":
			reply(200, deltaPageJSON([]map[string]any{contactItem("c1", `W/"1"`), contactItem("c2", `W/"2"`)}, base+"?$skiptoken=s1", ""))(w, r)
		case q.Get("$skiptoken") == "s1":
			reply(200, deltaPageJSON(nil, base+"?$skiptoken=s2", ""))(w, r)
		case q.Get("$skiptoken") == "s2":
			reply(200, deltaPageJSON([]map[string]any{
				contactItem("c1", `W/"1b"`),
				{"id": "gone", "@removed": map[string]any{"reason": "deleted"}},
				{"id": "moved", "@removed": map[string]any{"reason": "changed"}},
			}, "", base+"?$deltatoken=d1"))(w, r)
		}
	})
	f.handle("GET /users/"+alice+"/contacts/moved", reply(200, map[string]any{"id": "moved"}))
	c := f.connector(t, nil)
	feed := sdk.Feed{Name: feedContacts, Scope: alice}
	recs, cursor := drain(t, c, feed, nil, 2)
	got := map[string]string{}
	for _, r := range recs {
		got[r.ID] = r.Kind.String() + " " + r.Version
	}
	want := map[string]string{"c1": `upsert W/"1b"`, "c2": `upsert W/"2"`, "gone": "delete ", "moved": "scope_exit "}
	if fmt.Sprint(got) != fmt.Sprint(want) || len(recs) != 4 {
		t.Errorf("records %v, want %v", got, want)
	}
	if !strings.Contains(string(cursor), "d1") {
		t.Errorf("cursor %s is not the delta link", cursor)
	}
	recs, cursor = drain(t, c, feed, cursor, 10)
	if len(recs) != 1 || recs[0].ID != "c9" || !strings.Contains(string(cursor), "d2") {
		t.Errorf("second round: %v, cursor %s", recs, cursor)
	}
	if n := f.requestCount("GET", "/users/"+alice+"/contactFolders/contacts"); n != 1 {
		t.Errorf("the default folder was resolved %d times", n)
	}
}

// drain collects a whole round in pages of max records.
func drain(t *testing.T, c *Connector, feed sdk.Feed, cursor sdk.Cursor, max int) ([]sdk.ChangeRecord, sdk.Cursor) {
	t.Helper()
	req := sdk.SyncDataRequest{Feed: feed, Cursor: cursor, Max: max}
	var recs []sdk.ChangeRecord
	for range 1000 {
		page, err := c.GetSyncData(t.Context(), req)
		if err != nil {
			t.Fatalf("GetSyncData: %v", err)
		}
		if len(page.Records) > max {
			t.Errorf("a page of %d records, asked for %d", len(page.Records), max)
		}
		recs = append(recs, page.Records...)
		if len(page.NextPageToken) == 0 {
			if len(page.Cursor) == 0 {
				t.Fatal("the last page has no cursor")
			}
			return recs, page.Cursor
		}
		req.PageToken = page.NextPageToken
	}
	t.Fatal("no end")
	return nil, nil
}

func TestDeltaRoundLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		page func(base string, n int) map[string]any
		want string
	}{
		{"endless nextLinks", func(base string, n int) map[string]any {
			return deltaPageJSON(nil, fmt.Sprintf("%s?$skiptoken=%d", base, n+1), "")
		}, "did not end within 5 pages"},
		{"a page repeated under a new skip token", func(base string, n int) map[string]any {
			return deltaPageJSON([]map[string]any{contactItem("c1", `W/"1"`)}, fmt.Sprintf("%s?$skiptoken=%d", base, n+1), "")
		}, "repeats page 1"},
		{"the same nextLink twice", func(base string, n int) map[string]any {
			return deltaPageJSON([]map[string]any{contactItem(fmt.Sprint("c", n), `W/"1"`)}, base+"?$skiptoken=same", "")
		}, "same nextLink twice"},
		{"neither link", func(string, int) map[string]any { return deltaPageJSON(nil, "", "") }, "neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGraph(t)
			contactsMailbox(f)
			base := f.srv.URL + "/v1.0/users/" + alice + "/contactFolders/folder1/contacts/delta"
			n := 0
			f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", func(w http.ResponseWriter, r *http.Request) {
				n++
				reply(200, tc.page(base, n))(w, r)
			})
			c := f.connector(t, sdk.Fields{"max_delta_pages": sdk.Int(5)})
			_, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: feedContacts, Scope: alice}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if n > 6 {
				t.Errorf("%d pages read", n)
			}
		})
	}
}

func TestCursorChecks(t *testing.T) {
	f := newFakeGraph(t)
	c := f.connector(t, nil)
	feed := sdk.Feed{Name: feedContacts, Scope: alice}
	for _, cur := range []sdk.Cursor{
		sdk.Cursor("garbage"),
		encodeCursor(cursorState{Feed: feedTasks, Mailbox: alice, Link: f.srv.URL + "/v1.0/x"}),
		encodeCursor(cursorState{Feed: feedContacts, Mailbox: "bob@contoso.com", Link: f.srv.URL + "/v1.0/x"}),
	} {
		if _, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: feed, Cursor: cur}); !sdk.IsKind(err, sdk.ErrResyncRequired) {
			t.Errorf("cursor %s: %v", cur, err)
		}
	}
	if _, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: feed, PageToken: []byte("nope:3")}); !sdk.IsKind(err, sdk.ErrRetryable) {
		t.Errorf("unknown page token: %v", err)
	}
	if _, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: "mail", Scope: alice}}); !sdk.IsKind(err, sdk.ErrConfig) {
		t.Errorf("unknown feed: %v", err)
	}
}

// TestExpiredDeltaLink: Graph's 410 on a stored delta link is a resync.
func TestExpiredDeltaLink(t *testing.T) {
	f := newFakeGraph(t)
	f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", reply(410, `{"error":{"code":"SyncStateNotFound","message":"The sync state generation is not valid."}}`,
		"Location", f.srv.URL+"/v1.0/users/"+alice+"/contactFolders/folder1/contacts/delta"))
	c := f.connector(t, nil)
	cur := encodeCursor(cursorState{Feed: feedContacts, Mailbox: alice, Link: f.srv.URL + "/v1.0/users/" + alice + "/contactFolders/folder1/contacts/delta?$deltatoken=old"})
	if _, err := c.GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: feedContacts, Scope: alice}, Cursor: cur}); !sdk.IsKind(err, sdk.ErrResyncRequired) {
		t.Errorf("410: %v", err)
	}
}

// TestContactWrites: a create stamps the syncgate id, a create that may
// exist looks the id up first, an update sends If-Match, and a 412 is a
// conflict with the version the item has now.
func TestContactWrites(t *testing.T) {
	f := newFakeGraph(t)
	var created map[string]any
	f.handle("POST /users/"+alice+"/contacts", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &created)
		reply(201, map[string]any{"id": "new1", "@odata.etag": `W/"v1"`})(w, r)
	})
	f.handle("GET /users/"+alice+"/contacts", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Query().Get("$filter"), "ep/value eq 'key-2'") {
			reply(200, map[string]any{"value": []any{}})(w, r)
			return
		}
		reply(200, map[string]any{"value": []any{map[string]any{"id": "old2"}}})(w, r)
	})
	f.handle("GET /users/"+alice+"/contacts/old2", reply(200, map[string]any{"id": "old2", "@odata.etag": `W/"o2"`}))
	f.handle("PATCH /users/"+alice+"/contacts/c1", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Match") != `W/"cur"` {
			reply(412, `{"error":{"code":"ErrorIrresolvableConflict","message":"The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."}}`)(w, r)
			return
		}
		reply(200, map[string]any{"id": "c1", "@odata.etag": `W/"next"`})(w, r)
	})
	f.handle("GET /users/"+alice+"/contacts/c1", reply(200, map[string]any{"id": "c1", "@odata.etag": `W/"cur"`}))
	f.handle("DELETE /users/"+alice+"/contacts/c1", reply(412, `{"error":{"code":"ErrorIrresolvableConflict"}}`))
	c := f.connector(t, nil)
	res, err := c.Apply(t.Context(), alice, "contact", []sdk.Op{
		{Kind: sdk.OpCreate, CorrelationKey: "key-1", Fields: sdk.Fields{"display_name": sdk.String("A")}},
		{Kind: sdk.OpCreate, CorrelationKey: "key-2", MayExist: true, Fields: sdk.Fields{"display_name": sdk.String("B")}},
		{Kind: sdk.OpUpdate, ID: "c1", IfMatch: `W/"old"`, Fields: sdk.Fields{"display_name": sdk.String("C")}},
		{Kind: sdk.OpUpdate, ID: "c1", IfMatch: `W/"cur"`, Fields: sdk.Fields{"display_name": sdk.String("C")}},
		{Kind: sdk.OpDelete, ID: "c1", IfMatch: `W/"old"`},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Err != nil || r.ID != "new1" || r.Version != `W/"v1"` {
		t.Errorf("create: %+v", r)
	}
	if props := fmt.Sprint(created["singleValueExtendedProperties"]); !strings.Contains(props, "key-1") || !strings.Contains(props, "SyncgateId") {
		t.Errorf("the create does not stamp the syncgate id: %s", props)
	}
	if r := res[1]; r.Err != nil || r.ID != "old2" || r.Version != `W/"o2"` {
		t.Errorf("create that may exist: %+v", r)
	}
	if r := res[2]; r.Err == nil || r.Err.Kind != sdk.ErrConflict || r.Err.CurrentVersion != `W/"cur"` {
		t.Errorf("stale update: %+v", r)
	}
	if r := res[3]; r.Err != nil || r.Version != `W/"next"` {
		t.Errorf("update: %+v", r)
	}
	if r := res[4]; r.Err == nil || r.Err.Kind != sdk.ErrConflict || r.Err.CurrentVersion != `W/"cur"` {
		t.Errorf("stale delete: %+v", r)
	}
	if n := f.requestCount("POST", "/users/"+alice+"/contacts"); n != 1 {
		t.Errorf("%d creates posted, want 1 (the second existed)", n)
	}
}

// TestRoundWaitsOutThrottling: a page answered 429 inside a round is asked
// again after its Retry-After, so the pages read so far are not lost; a
// Retry-After too long to wait in place fails the round as throttled for
// the mailbox.
func TestRoundWaitsOutThrottling(t *testing.T) {
	for _, tc := range []struct {
		retryAfter string
		wantErr    bool
	}{{"0.01", false}, {"120", true}} {
		f := newFakeGraph(t)
		contactsMailbox(f)
		base := f.srv.URL + "/v1.0/users/" + alice + "/contactFolders/folder1/contacts/delta"
		throttled := 0
		f.handle("GET /users/"+alice+"/contactFolders/folder1/contacts/delta", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("$skiptoken") == "" {
				reply(200, deltaPageJSON([]map[string]any{contactItem("c1", `W/"1"`)}, base+"?$skiptoken=2", ""))(w, r)
				return
			}
			if throttled < 2 {
				throttled++
				reply(429, `{"error":{"code":"TooManyRequests"}}`, "Retry-After", tc.retryAfter)(w, r)
				return
			}
			reply(200, deltaPageJSON([]map[string]any{contactItem("c2", `W/"2"`)}, "", base+"?$deltatoken=d"))(w, r)
		})
		page, err := f.connector(t, nil).GetSyncData(t.Context(), sdk.SyncDataRequest{Feed: sdk.Feed{Name: feedContacts, Scope: alice}})
		if tc.wantErr {
			if e := sdk.AsError(err); e == nil || e.Kind != sdk.ErrThrottled || e.RetryAfter != 120*time.Second || e.ThrottleScope != sdk.ThrottleScopeWide {
				t.Errorf("Retry-After %s: got %v, want throttled for the mailbox", tc.retryAfter, err)
			}
			continue
		}
		if err != nil || len(page.Records) != 2 || throttled != 2 {
			t.Errorf("Retry-After %s: %v, %d records after %d throttles", tc.retryAfter, err, len(page.Records), throttled)
		}
	}
}
