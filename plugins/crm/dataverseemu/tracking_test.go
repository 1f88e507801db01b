package dataverseemu

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// skiptokenRe is the documented paging cookie form.
var skiptokenRe = regexp.MustCompile(`\$skiptoken=%3Ccookie%20pagenumber=%22(\d+)%22%20pagingcookie=%22%253ccookie%2520page%253d%2522\d+%2522%253e%253ccontactid%2520last%253d%2522%257b[0-9A-F-]{36}%257d%2522%2520first%253d%2522%257b[0-9A-F-]{36}%257d%2522`)

func TestPagingWithMaxPageSize(t *testing.T) {
	h := newHarness(t, Options{})
	for i := 0; i < 5; i++ {
		h.create("contacts", map[string]any{"firstname": fmt.Sprint("C", i)})
	}
	seen := map[string]bool{}
	link := api + "contacts?$select=firstname&$count=true"
	var pages []int
	for link != "" {
		r := h.do("GET", link, nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
		if r.header.Get("Preference-Applied") != "odata.maxpagesize=2" {
			t.Errorf("Preference-Applied %q", r.header.Get("Preference-Applied"))
		}
		if fmt.Sprint(r.get("@odata.count")) != "5" {
			t.Errorf("@odata.count %v on every page, want 5", r.get("@odata.count"))
		}
		for _, v := range r.values() {
			id := v["contactid"].(string)
			if seen[id] {
				t.Errorf("row %s on two pages", id)
			}
			seen[id] = true
		}
		pages = append(pages, len(r.values()))
		link = r.str("@odata.nextLink")
		if link != "" {
			m := skiptokenRe.FindStringSubmatch(link)
			if m == nil || m[1] != fmt.Sprint(len(pages)+1) || !strings.Contains(link, "$select=firstname") {
				t.Fatalf("nextLink %s is not in the documented form", link)
			}
		}
	}
	if fmt.Sprint(pages) != "[2 2 1]" || len(seen) != 5 {
		t.Errorf("pages %v, %d rows", pages, len(seen))
	}
	// a row deleted between pages does not lose the place
	first := h.do("GET", api+"contacts?$select=firstname", nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
	h.do("DELETE", api+"contacts("+first.values()[1]["contactid"].(string)+")", nil).must(t, 204)
	second := h.do("GET", first.str("@odata.nextLink"), nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
	if len(second.values()) != 2 || second.values()[0]["contactid"] == first.values()[0]["contactid"] {
		t.Errorf("second page after a delete: %s", second.raw)
	}
	h.do("GET", api+"contacts", nil, "Prefer", "odata.maxpagesize=zero").must(t, 400)
}

func deltaRound(t *testing.T, h *harness, link string, pageSize int) (rows []map[string]any, deltaLink string, pages int) {
	t.Helper()
	for {
		r := h.do("GET", link, nil, "Prefer", fmt.Sprintf("odata.track-changes,odata.maxpagesize=%d", pageSize)).must(t, 200)
		if got := r.header.Get("Preference-Applied"); got != fmt.Sprintf("odata.track-changes,odata.maxpagesize=%d", pageSize) {
			t.Errorf("Preference-Applied %q", got)
		}
		pages++
		rows = append(rows, r.values()...)
		if next := r.str("@odata.nextLink"); next != "" {
			if r.str("@odata.deltaLink") != "" {
				t.Fatal("a page with both nextLink and deltaLink")
			}
			link = next
			continue
		}
		deltaLink = r.str("@odata.deltaLink")
		if deltaLink == "" {
			t.Fatalf("last page without @odata.deltaLink: %s", r.raw)
		}
		return rows, deltaLink, pages
	}
}

func TestChangeTrackingRounds(t *testing.T) {
	h := newHarness(t, Options{})
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, h.create("contacts", map[string]any{"firstname": fmt.Sprint("C", i)}))
	}
	start := api + "contacts?$select=contactid,versionnumber,modifiedon,_ownerid_value"
	rows, delta, pages := deltaRound(t, h, start, 2)
	if len(rows) != 5 || pages != 3 {
		t.Fatalf("initial round: %d rows in %d pages", len(rows), pages)
	}
	tok := regexp.MustCompile(`\$deltatoken=(\d+)%21\d\d%2f\d\d%2f\d{4}%20\d\d%3a\d\d%3a\d\d$`)
	if !tok.MatchString(delta) || !strings.Contains(delta, "$select=contactid,versionnumber,modifiedon,_ownerid_value") {
		t.Fatalf("deltaLink %s is not in the documented form", delta)
	}

	// nothing changed: an empty round and a new link
	rows, delta2, _ := deltaRound(t, h, delta, 2)
	if len(rows) != 0 || delta2 == "" {
		t.Fatalf("empty round: %v", rows)
	}

	created := h.create("contacts", map[string]any{"firstname": "New"})
	h.do("PATCH", api+"contacts("+ids[1]+")", map[string]any{"lastname": "Changed"}).must(t, 204)
	h.do("DELETE", api+"contacts("+ids[2]+")", nil).must(t, 204)
	rows, delta3, _ := deltaRound(t, h, delta2, 2)
	if len(rows) != 3 {
		t.Fatalf("round after 3 changes: %v", rows)
	}
	got := map[string]string{}
	for _, r := range rows {
		if ctx, _ := r["@odata.context"].(string); strings.HasSuffix(ctx, "$metadata#contacts/$deletedEntity") {
			if r["reason"] != "deleted" || len(r) != 3 {
				t.Errorf("deleted entry %v", r)
			}
			got[r["id"].(string)] = "deleted"
			continue
		}
		if len(r) != 5 || r["_ownerid_value"] != h.e.UserID("alice@example.com") { // etag + 4 selected columns
			t.Errorf("changed row %v, want the selected columns", r)
		}
		got[r["contactid"].(string)] = "upsert"
	}
	want := map[string]string{created: "upsert", ids[1]: "upsert", ids[2]: "deleted"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	// an old link still answers from its own version
	if rows, _, _ := deltaRound(t, h, delta2, 5000); len(rows) != 3 {
		t.Errorf("replaying an older deltaLink: %d changes, want 3", len(rows))
	}
	// a row changed twice is reported once, as it is now
	h.do("PATCH", api+"contacts("+ids[3]+")", map[string]any{"lastname": "1"}).must(t, 204)
	h.do("PATCH", api+"contacts("+ids[3]+")", map[string]any{"lastname": "2"}).must(t, 204)
	if rows, _, _ := deltaRound(t, h, delta3, 5000); len(rows) != 1 {
		t.Errorf("two updates of one row: %d entries", len(rows))
	}
	// $count on a round counts its changes
	r := h.do("GET", delta3+"&$count=true", nil).must(t, 200)
	if fmt.Sprint(r.get("@odata.count")) != "1" || !strings.HasSuffix(r.str("@odata.context"), "/$delta") {
		t.Errorf("$count on a delta round: %s", r.raw)
	}
}

func TestChangeTrackingPagesLargeRounds(t *testing.T) {
	h := newHarness(t, Options{})
	_, delta, _ := deltaRound(t, h, api+"tasks?$select=subject", 2)
	for i := 0; i < 5; i++ {
		h.create("tasks", map[string]any{"subject": fmt.Sprint("T", i)})
	}
	rows, next, pages := deltaRound(t, h, delta, 2)
	if len(rows) != 5 || pages != 3 {
		t.Fatalf("%d changes in %d pages", len(rows), pages)
	}
	// a change made while the round was being paged shows in the next round
	h.create("tasks", map[string]any{"subject": "late"})
	if rows, _, _ := deltaRound(t, h, next, 2); len(rows) != 1 || rows[0]["subject"] != "late" {
		t.Errorf("next round %v", rows)
	}
}

func TestChangeTrackingRejectsQueryOptions(t *testing.T) {
	h := newHarness(t, Options{})
	for _, q := range []string{"$filter=firstname eq 'a'", "$orderby=firstname", "$expand=ownerid", "$top=1"} {
		opt, _, _ := strings.Cut(q, "=")
		h.do("GET", api+"contacts?"+q, nil, "Prefer", "odata.track-changes").
			wantError(t, 400, codeQuery, "The query option "+opt+" is not supported with change tracking")
	}
	// a paging cookie of a plain query is not a change-tracking one
	for i := 0; i < 3; i++ {
		h.create("contacts", map[string]any{"firstname": "x"})
	}
	next := h.do("GET", api+"contacts", nil, "Prefer", "odata.maxpagesize=1").str("@odata.nextLink")
	h.do("GET", next, nil, "Prefer", "odata.track-changes").must(t, 400)
}

func TestDeltaTokenExpiry(t *testing.T) {
	h := newHarness(t, Options{TokenExpiry: time.Hour})
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	h.e.mu.Lock()
	h.e.now = func() time.Time { return now }
	h.e.mu.Unlock()
	h.token = h.fetchToken() // issued against the fake clock
	_, delta, _ := deltaRound(t, h, api+"contacts?$select=firstname", 10)
	_, recent, _ := deltaRound(t, h, delta, 10)

	h.e.mu.Lock()
	now = now.Add(59 * time.Minute)
	h.e.mu.Unlock()
	_, fresh, _ := deltaRound(t, h, recent, 10) // within its lifetime

	h.e.mu.Lock()
	now = now.Add(2 * time.Minute)
	h.e.mu.Unlock()
	h.token = h.fetchToken() // the bearer token lives an hour too
	h.do("GET", delta, nil, "Prefer", "odata.track-changes").
		wantError(t, 400, codeExpired, "Version stamp associated with the client has expired. Please perform a full sync.")
	deltaRound(t, h, fresh, 10) // issued a minute ago

	h.e.ExpireTokens()
	h.do("GET", fresh, nil).wantError(t, 400, codeExpired, "Please perform a full sync")
	// a full sync gives a working link again
	_, again, _ := deltaRound(t, h, api+"contacts?$select=firstname", 10)
	deltaRound(t, h, again, 10)

	// tokens this organization never issued, or issued for another table
	u, _ := url.Parse(again)
	tokv := u.Query().Get("$deltatoken")
	h.do("GET", api+"contacts?$deltatoken=12345%2101%2f01%2f2026%2000%3a00%3a00", nil).must(t, 400)
	h.do("GET", api+"tasks?$deltatoken="+url.QueryEscape(tokv), nil).wantError(t, 400, codeExpired, "full sync")
}
