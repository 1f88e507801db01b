package graphemu

import (
	"net/url"
	"strings"
	"testing"
)

// round follows nextLinks from first to the deltaLink and returns the
// entries of every page and the deltaLink.
func (en *env) round(first string, headers ...string) (pages [][]map[string]any, deltaLink string) {
	en.t.Helper()
	next := first
	for i := 0; next != ""; i++ {
		if i > 100 {
			en.t.Fatal("delta round does not end")
		}
		r := en.do("GET", next, nil, headers...).must(en.t, 200)
		pages = append(pages, r.values())
		next = str(r.body["@odata.nextLink"])
		if next == "" {
			deltaLink = str(r.body["@odata.deltaLink"])
			if deltaLink == "" {
				en.t.Fatalf("last page without @odata.deltaLink: %s", r.raw)
			}
		} else if r.body["@odata.deltaLink"] != nil {
			en.t.Fatalf("page with both links: %s", r.raw)
		}
	}
	return pages, deltaLink
}

func flat(pages [][]map[string]any) []map[string]any {
	var out []map[string]any
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

func removed(v map[string]any) string {
	r, _ := v["@removed"].(map[string]any)
	return str(r["reason"])
}

func TestContactsDelta(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	fid := en.emu.mailboxes[0].contactFolderID
	ids := map[string]string{}
	for _, n := range []string{"A", "B", "C", "D", "E"} {
		ids[n] = str(en.do("POST", base+"/contacts", map[string]any{"givenName": n}).must(t, 201).body["id"])
	}
	first := base + "/contactFolders/" + fid + "/contacts/delta"
	pages, link := en.round(first, "Prefer", "odata.maxpagesize=2")
	if len(pages) != 3 || len(flat(pages)) != 5 {
		t.Fatalf("first round: %d pages, %d entries", len(pages), len(flat(pages)))
	}
	r := en.do("GET", first, nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
	checkShape(t, "contacts-delta-page.json", r.body, nil)
	for _, v := range flat(pages) {
		checkSchema(t, "contact", v)
	}
	if strings.Contains(link, "A") && strings.Contains(link, "?") && !strings.Contains(link, "$deltatoken=") {
		t.Fatalf("deltaLink %s", link)
	}

	// Nothing changed: an empty page and a new link.
	pages, link2 := en.round(link)
	if len(flat(pages)) != 0 {
		t.Fatalf("no change, but %v", flat(pages))
	}

	en.do("PATCH", base+"/contacts/"+ids["B"], map[string]any{"surname": "Changed"}).must(t, 200)
	en.do("DELETE", base+"/contacts/"+ids["C"], nil).must(t, 204)
	ids["F"] = str(en.do("POST", base+"/contacts", map[string]any{"givenName": "F"}).must(t, 201).body["id"])
	gone := str(en.do("POST", base+"/contacts", map[string]any{"givenName": "G"}).must(t, 201).body["id"])
	en.do("DELETE", base+"/contacts/"+gone, nil).must(t, 204) // created and deleted between rounds: never seen

	check := func(link string) string {
		pages, next := en.round(link)
		got := map[string]string{}
		for _, v := range flat(pages) {
			got[str(v["id"])] = firstNonEmpty(removed(v), str(v["surname"]), str(v["givenName"]))
		}
		want := map[string]string{ids["B"]: "Changed", ids["C"]: "deleted", ids["F"]: "F"}
		if len(got) != len(want) {
			t.Fatalf("second round %v, want %v", got, want)
		}
		for id, w := range want {
			if got[id] != w {
				t.Fatalf("second round %v, want %v", got, want)
			}
		}
		return next
	}
	next := check(link2)
	check(link2) // a deltaLink replayed answers the same changes again
	check(link)  // and so does an older one, which saw nothing of them either
	if pages, _ := en.round(next); len(flat(pages)) != 0 {
		t.Fatalf("after the second round: %v", flat(pages))
	}

	// $select applies on every page of the round.
	pages, _ = en.round(base+"/contacts/delta?$select=displayName", "Prefer", "odata.maxpagesize=2")
	for _, v := range flat(pages) {
		for k := range v {
			if k != "id" && k != "displayName" && !strings.HasPrefix(k, "@") {
				t.Fatalf("$select=displayName returned %s", k)
			}
		}
	}
}

func TestDeltaSameItemOnSeveralPages(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	for _, n := range []string{"A", "B", "C", "D"} {
		en.do("POST", base+"/contacts", map[string]any{"givenName": n}).must(t, 201)
	}
	p1 := en.do("GET", base+"/contacts/delta", nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
	changed := str(p1.values()[0]["id"])
	en.do("PATCH", base+"/contacts/"+changed, map[string]any{"surname": "Again"}).must(t, 200)
	pages, _ := en.round(str(p1.body["@odata.nextLink"]), "Prefer", "odata.maxpagesize=2")
	seen := 0
	for _, v := range flat(pages) {
		if v["id"] == changed {
			seen++
			if v["surname"] != "Again" {
				t.Fatalf("later page shows the old state: %v", v)
			}
		}
	}
	if seen != 1 {
		t.Fatalf("an item changed mid-round should come again later in the round; seen %d times", seen)
	}
}

func TestDeltaTokenExpiry(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	for _, n := range []string{"A", "B", "C"} {
		en.do("POST", base+"/contacts", map[string]any{"givenName": n}).must(t, 201)
	}
	p1 := en.do("GET", base+"/contacts/delta", nil, "Prefer", "odata.maxpagesize=2").must(t, 200)
	_, link := en.round(base + "/contacts/delta")
	en.emu.ExpireDeltaTokens()
	for _, u := range []string{link, str(p1.body["@odata.nextLink"])} {
		r := en.do("GET", u, nil).must(t, 410)
		if r.errCode() != "syncStateNotFound" || r.header.Get("Location") == "" {
			t.Fatalf("expired token: %s, Location %q", r.raw, r.header.Get("Location"))
		}
		pages, _ := en.round(r.header.Get("Location"))
		if len(flat(pages)) != 3 {
			t.Fatalf("restart from Location: %d entries", len(flat(pages)))
		}
	}
	// Over the control API, and for a calendar view: Location keeps the window.
	cv := base + "/calendarView/delta?startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-02-01T00:00:00Z"
	_, evLink := en.round(cv)
	en.controlPost("/_emulator/expire-delta-tokens", nil, 204)
	r := en.do("GET", evLink, nil).must(t, 410)
	loc, _ := url.Parse(r.header.Get("Location"))
	if loc.Query().Get("startDateTime") != "2026-01-01T00:00:00Z" || loc.Query().Get("endDateTime") != "2026-02-01T00:00:00Z" {
		t.Fatalf("Location %s", loc)
	}
	en.round(loc.String())

	// A token of another run of the emulator (same user, same folder ids).
	other := newEnv(t, Options{})
	_, otherLink := other.round(other.srv.URL + base + "/contacts/delta")
	if r := en.do("GET", strings.Replace(otherLink, other.srv.URL, en.srv.URL, 1), nil).must(t, 410); r.errCode() != "syncStateNotFound" {
		t.Fatalf("token of another run: %s", r.raw)
	}
	if r := en.do("GET", base+"/contacts/delta?$deltatoken=garbage", nil).must(t, 400); r.errCode() != "BadRequest" {
		t.Fatalf("garbage token: %s", r.raw)
	}
	// A contacts token is not a calendar's.
	if r := en.do("GET", strings.Replace(link, "/contacts/delta", "/calendarView/delta", 1), nil); r.status != 400 && r.status != 410 {
		t.Fatalf("a contacts token on calendarView/delta: %d", r.status)
	}
}

func TestDeltaRejectsUnsupportedOptions(t *testing.T) {
	en := newEnv(t, Options{})
	base := "/v1.0/users/" + alice
	for _, u := range []string{
		base + "/contacts/delta?$filter=" + url.QueryEscape("givenName eq 'A'"),
		base + "/contacts/delta?$expand=singleValueExtendedProperties",
		base + "/calendarView/delta?startDateTime=2026-01-01T00:00:00Z&endDateTime=2026-02-01T00:00:00Z&$select=subject",
		base + "/todo/lists/" + en.emu.mailboxes[0].listID + "/tasks/delta?$orderby=title",
	} {
		r := en.do("GET", u, nil).must(t, 501)
		if r.errCode() != "NotImplemented" {
			t.Errorf("%s: %s", u, r.raw)
		}
		checkShape(t, "error-501-delta-unsupported-property.json", r.body, nil)
	}
	if r := en.do("GET", base+"/calendarView/delta", nil).must(t, 400); r.errCode() != "ErrorInvalidParameter" {
		t.Fatalf("calendarView/delta without a window: %s", r.raw)
	}
}
