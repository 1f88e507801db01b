package exchange

import (
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// graphContact is the part of a Graph contact that syncgate reads.
type graphContact struct {
	ID                 string           `json:"id"`
	ETag               string           `json:"@odata.etag"`
	ChangeKey          string           `json:"changeKey"`
	LastModified       string           `json:"lastModifiedDateTime"`
	ParentFolderID     string           `json:"parentFolderId"`
	GivenName          *string          `json:"givenName"`
	MiddleName         *string          `json:"middleName"`
	Surname            *string          `json:"surname"`
	DisplayName        *string          `json:"displayName"`
	JobTitle           *string          `json:"jobTitle"`
	CompanyName        *string          `json:"companyName"`
	Department         *string          `json:"department"`
	EmailAddresses     []emailAddress   `json:"emailAddresses"`
	BusinessPhones     []string         `json:"businessPhones"`
	HomePhones         []string         `json:"homePhones"`
	MobilePhone        *string          `json:"mobilePhone"`
	BusinessAddress    *physicalAddress `json:"businessAddress"`
	HomeAddress        *physicalAddress `json:"homeAddress"`
	OtherAddress       *physicalAddress `json:"otherAddress"`
	Birthday           *string          `json:"birthday"`
	PersonalNotes      *string          `json:"personalNotes"`
	Categories         []string         `json:"categories"`
	BusinessHomePage   *string          `json:"businessHomePage"`
	ExtendedProperties []extProp        `json:"singleValueExtendedProperties"`
}

type emailAddress struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

type physicalAddress struct {
	Street          string `json:"street,omitempty"`
	City            string `json:"city,omitempty"`
	State           string `json:"state,omitempty"`
	PostalCode      string `json:"postalCode,omitempty"`
	CountryOrRegion string `json:"countryOrRegion,omitempty"`
}

func (a *physicalAddress) empty() bool { return a == nil || *a == (physicalAddress{}) }

// contactAddressProps maps the canonical address kinds to Graph's three
// fixed address properties.
var contactAddressProps = []struct{ kind, prop string }{
	{"business", "businessAddress"}, {"home", "homeAddress"}, {"other", "otherAddress"},
}

// contactFields maps a Graph contact to the canonical contact. Graph's
// e-mail addresses have no kind: they read back as "work" (README lists
// what does not map).
func contactFields(c *graphContact) sdk.Fields {
	f := sdk.Fields{}
	setStr(f, "given_name", c.GivenName)
	setStr(f, "middle_name", c.MiddleName)
	setStr(f, "surname", c.Surname)
	setStr(f, "display_name", c.DisplayName)
	setStr(f, "job_title", c.JobTitle)
	setStr(f, "company", c.CompanyName)
	setStr(f, "department", c.Department)
	setStr(f, "notes", c.PersonalNotes)
	setStr(f, "web_page", c.BusinessHomePage)
	var emails []sdk.Value
	for _, e := range c.EmailAddresses {
		if e.Address == "" {
			continue
		}
		m := map[string]sdk.Value{"address": sdk.String(e.Address), "kind": sdk.String("work")}
		if e.Name != "" {
			m["name"] = sdk.String(e.Name)
		}
		emails = append(emails, sdk.Map(m))
	}
	if len(emails) > 0 {
		f["emails"] = sdk.List(emails...)
	}
	var phones []sdk.Value
	phone := func(number, kind string) {
		if number != "" {
			phones = append(phones, sdk.Map(map[string]sdk.Value{"number": sdk.String(number), "kind": sdk.String(kind)}))
		}
	}
	for _, p := range c.BusinessPhones {
		phone(p, "business")
	}
	for _, p := range c.HomePhones {
		phone(p, "home")
	}
	if c.MobilePhone != nil {
		phone(*c.MobilePhone, "mobile")
	}
	if len(phones) > 0 {
		f["phones"] = sdk.List(phones...)
	}
	var addrs []sdk.Value
	for i, a := range []*physicalAddress{c.BusinessAddress, c.HomeAddress, c.OtherAddress} {
		if a.empty() {
			continue
		}
		m := map[string]sdk.Value{"kind": sdk.String(contactAddressProps[i].kind)}
		for k, v := range map[string]string{"street": a.Street, "city": a.City, "state": a.State, "postal_code": a.PostalCode, "country": a.CountryOrRegion} {
			if v != "" {
				m[k] = sdk.String(v)
			}
		}
		addrs = append(addrs, sdk.Map(m))
	}
	if len(addrs) > 0 {
		f["addresses"] = sdk.List(addrs...)
	}
	if c.Birthday != nil && len(*c.Birthday) >= 10 {
		f["birthday"] = sdk.String((*c.Birthday)[:10])
	}
	if len(c.Categories) > 0 {
		f["categories"] = sdk.Strings(c.Categories...)
	}
	return f
}

// contactBody maps canonical fields to the Graph properties to write. Only
// the fields present are written (an update is a patch); a null clears.
func contactBody(f sdk.Fields) map[string]any {
	b := map[string]any{}
	for canon, prop := range map[string]string{
		"given_name": "givenName", "middle_name": "middleName", "surname": "surname", "display_name": "displayName",
		"job_title": "jobTitle", "company": "companyName", "department": "department", "notes": "personalNotes",
		"web_page": "businessHomePage",
	} {
		if v, ok := f[canon]; ok {
			b[prop] = nullableStr(v)
		}
	}
	if v, ok := f["emails"]; ok {
		emails := []emailAddress{}
		for _, e := range v.ListVal() {
			m := e.MapVal()
			emails = append(emails, emailAddress{Address: m["address"].Str(), Name: m["name"].Str()})
		}
		b["emailAddresses"] = emails
	}
	if v, ok := f["phones"]; ok {
		business, home := []string{}, []string{}
		var mobile any
		for _, p := range v.ListVal() {
			m := p.MapVal()
			switch n := m["number"].Str(); m["kind"].Str() {
			case "home":
				home = append(home, n)
			case "mobile":
				mobile = n
			default: // business, and the kinds Graph has no property for
				business = append(business, n)
			}
		}
		b["businessPhones"], b["homePhones"], b["mobilePhone"] = business, home, mobile
	}
	if v, ok := f["addresses"]; ok {
		for _, ap := range contactAddressProps {
			b[ap.prop] = physicalAddress{} // an address the list leaves out is cleared
		}
		for _, a := range v.ListVal() {
			m := a.MapVal()
			prop := "otherAddress"
			for _, ap := range contactAddressProps {
				if ap.kind == m["kind"].Str() {
					prop = ap.prop
				}
			}
			b[prop] = physicalAddress{Street: m["street"].Str(), City: m["city"].Str(), State: m["state"].Str(),
				PostalCode: m["postal_code"].Str(), CountryOrRegion: m["country"].Str()}
		}
	}
	if v, ok := f["birthday"]; ok {
		if v.IsNull() || v.Str() == "" {
			b["birthday"] = nil
		} else {
			// Outlook keeps a birthday as a timestamp; noon UTC keeps
			// the date the same in every zone a client shows it in.
			b["birthday"] = v.Str() + "T12:00:00Z"
		}
	}
	if v, ok := f["categories"]; ok {
		b["categories"] = stringList(v)
	}
	return b
}

func setStr(f sdk.Fields, name string, s *string) {
	if s != nil && *s != "" {
		f[name] = sdk.String(*s)
	}
}

func nullableStr(v sdk.Value) any {
	if v.IsNull() {
		return nil
	}
	return v.Str()
}

func stringList(v sdk.Value) []string {
	out := []string{}
	for _, s := range v.ListVal() {
		out = append(out, s.Str())
	}
	return out
}

// extProp is a single-value extended property.
type extProp struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// The syncgate extended properties: named string properties in syncgate's
// own property set, so no other application's properties are touched.
const (
	propSet        = "{6d1c3c5e-2f0a-4b8e-9a57-3e7f1b2c4d90}"
	propSyncgateID = "String " + propSet + " Name SyncgateId"   // the syncgate id, for lookups by value
	propData       = "String " + propSet + " Name SyncgateData" // events: JSON eventData, the syncgate id included
)

// findProp returns the value of the extended property id, compared as Graph
// does: the GUID and the kind are case-insensitive.
func findProp(props []extProp, id string) string {
	for _, p := range props {
		if strings.EqualFold(p.ID, id) {
			return p.Value
		}
	}
	return ""
}

// expandProp is the $expand that returns one extended property, in the
// form Graph documents (one id per expand, which is why an event keeps all
// of syncgate's data in one property).
func expandProp(id string) string {
	return "singleValueExtendedProperties($filter=id eq " + odataQuote(id) + ")"
}

// filterByKey is the $filter that finds items stamped with a syncgate id.
func filterByKey(key string) string {
	return "singleValueExtendedProperties/Any(ep: ep/id eq " + odataQuote(propSyncgateID) + " and ep/value eq " + odataQuote(key) + ")"
}
