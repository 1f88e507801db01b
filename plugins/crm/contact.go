package crm

import (
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// Contacts map onto the contact table's own columns; README.md lists each
// field and what does not map.

var contactText = []struct{ field, col string }{
	{"given_name", "firstname"},
	{"middle_name", "middlename"},
	{"surname", "lastname"},
	{"job_title", "jobtitle"},
	{"department", "department"},
	{"notes", "description"},
	{"web_page", "websiteurl"},
}

// The three e-mail slots, in order; a slot has no kind of its own, so each
// reads back with the kind of its position.
var emailSlots = []struct{ col, kind string }{
	{"emailaddress1", "work"}, {"emailaddress2", "home"}, {"emailaddress3", "other"},
}

// Phone columns by kind, in the order they read back: one number of each
// kind (Dataverse's second business and home phones and its pager are not
// used; see README.md).
var phoneCols = []struct {
	kind string
	cols []string
}{
	{"business", []string{"telephone1"}},
	{"home", []string{"telephone2"}},
	{"mobile", []string{"mobilephone"}},
	{"fax", []string{"fax"}},
	{"other", []string{"telephone3"}},
}

// Address blocks by kind, as Dynamics' own Outlook synchronisation pairs
// them: the business address in address1 (three street lines), the home
// address in address2, whose street is kept whole in its first line.
var addressBlocks = []struct {
	kind, prefix string
	lines        []string
}{
	{"business", "address1_", []string{"line1", "line2", "line3"}},
	{"home", "address2_", []string{"line1"}},
}

var addressParts = []struct{ field, col string }{
	{"city", "city"}, {"state", "stateorprovince"}, {"postal_code", "postalcode"}, {"country", "country"},
}

func contactColumns() []string {
	cols := []string{"fullname", "birthdate"}
	for _, c := range contactText {
		cols = append(cols, c.col)
	}
	for _, s := range emailSlots {
		cols = append(cols, s.col)
	}
	for _, p := range phoneCols {
		cols = append(cols, p.cols...)
	}
	for _, a := range addressBlocks {
		for _, l := range a.lines {
			cols = append(cols, a.prefix+l)
		}
		for _, p := range addressParts {
			cols = append(cols, a.prefix+p.col)
		}
	}
	return cols
}

func readContact(r row) sdk.Fields {
	f := sdk.Fields{}
	for _, c := range contactText {
		setStr(f, c.field, r, c.col)
	}
	setStr(f, "display_name", r, "fullname")
	if b := r.str("birthdate"); len(b) >= 10 {
		f["birthday"] = sdk.String(b[:10])
	}
	var emails []sdk.Value
	for _, s := range emailSlots {
		if a := r.str(s.col); a != "" {
			emails = append(emails, sdk.Map(map[string]sdk.Value{"address": sdk.String(a), "kind": sdk.String(s.kind)}))
		}
	}
	if len(emails) > 0 {
		f["emails"] = sdk.List(emails...)
	}
	var phones []sdk.Value
	for _, p := range phoneCols {
		for _, col := range p.cols {
			if n := r.str(col); n != "" {
				phones = append(phones, sdk.Map(map[string]sdk.Value{"number": sdk.String(n), "kind": sdk.String(p.kind)}))
			}
		}
	}
	if len(phones) > 0 {
		f["phones"] = sdk.List(phones...)
	}
	var addrs []sdk.Value
	for _, a := range addressBlocks {
		m := map[string]sdk.Value{}
		var lines []string
		for _, l := range a.lines {
			if s := r.str(a.prefix + l); s != "" {
				lines = append(lines, s)
			}
		}
		if len(lines) > 0 {
			m["street"] = sdk.String(strings.Join(lines, "\n"))
		}
		for _, p := range addressParts {
			if s := r.str(a.prefix + p.col); s != "" {
				m[p.field] = sdk.String(s)
			}
		}
		if len(m) > 0 {
			m["kind"] = sdk.String(a.kind)
			addrs = append(addrs, sdk.Map(m))
		}
	}
	if len(addrs) > 0 {
		f["addresses"] = sdk.List(addrs...)
	}
	return f
}

// writeContact turns the fields an op carries into columns. Only the fields
// present are written (an update is a patch); a list field rewrites every
// column it spans, so that an entry removed from the list is cleared.
func writeContact(f sdk.Fields) (row, error) {
	out := row{}
	for _, c := range contactText {
		if v, ok := f[c.field]; ok {
			if err := wantKind(c.field, v, sdk.KindString); err != nil {
				return nil, err
			}
			out[c.col] = strOrNil(v)
		}
	}
	if v, ok := f["birthday"]; ok {
		out["birthdate"] = strOrNil(v)
	}
	if v, ok := f["emails"]; ok {
		list := v.ListVal()
		if len(list) > len(emailSlots) {
			return nil, errf("a Dataverse contact holds %d e-mail addresses, this one has %d", len(emailSlots), len(list))
		}
		for i, s := range emailSlots {
			out[s.col] = nil
			if i < len(list) {
				out[s.col] = strOrNil(list[i].MapVal()["address"])
			}
		}
	}
	if v, ok := f["phones"]; ok {
		used := map[string]int{}
		for _, p := range phoneCols {
			for _, col := range p.cols {
				out[col] = nil
			}
		}
		for _, ph := range v.ListVal() {
			m := ph.MapVal()
			kind := m["kind"].Str()
			if kind == "" {
				kind = "other"
			}
			placed := false
			for _, p := range phoneCols {
				if p.kind == kind && used[kind] < len(p.cols) {
					out[p.cols[used[kind]]] = strOrNil(m["number"])
					used[kind]++
					placed = true
				}
			}
			if !placed {
				return nil, errf("a Dataverse contact has no room for another %s phone (%s)", kind, m["number"].Str())
			}
		}
	}
	if v, ok := f["addresses"]; ok {
		seen := map[string]bool{}
		for _, a := range addressBlocks {
			for _, l := range a.lines {
				out[a.prefix+l] = nil
			}
			for _, p := range addressParts {
				out[a.prefix+p.col] = nil
			}
		}
		for _, ad := range v.ListVal() {
			m := ad.MapVal()
			kind := m["kind"].Str()
			if kind == "" {
				kind = "business"
			}
			if seen[kind] {
				return nil, errf("a Dataverse contact holds one %s address, this one has more", kind)
			}
			seen[kind] = true
			placed := false
			for _, a := range addressBlocks {
				if a.kind != kind {
					continue
				}
				placed = true
				lines := strings.SplitN(m["street"].Str(), "\n", len(a.lines))
				for i, l := range a.lines {
					if i < len(lines) && lines[i] != "" {
						out[a.prefix+l] = lines[i]
					}
				}
				for _, p := range addressParts {
					out[a.prefix+p.col] = strOrNil(m[p.field])
				}
			}
			if !placed {
				return nil, errf("a Dataverse contact has a business and a home address, no %s address", kind)
			}
		}
	}
	return out, nil
}
