package caldav

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/emersion/go-vcard"

	"github.com/syncgate/syncgate/sdk"
)

// propDerivedFN marks an FN that syncgate composed because the contact had
// no display name (vCard requires FN): it reads back as no display name
// until someone edits it.
const propDerivedFN = "X-SYNCGATE-FN"

// mappedCardFields are the vCard properties the connector owns: an update
// rewrites them and keeps every other one (PHOTO, IMPP, NICKNAME...).
var mappedCardFields = []string{
	vcard.FieldName, vcard.FieldFormattedName, vcard.FieldTitle, vcard.FieldOrganization, vcard.FieldEmail,
	vcard.FieldTelephone, vcard.FieldAddress, vcard.FieldBirthday, vcard.FieldNote, vcard.FieldCategories,
	vcard.FieldURL, propID, propDerivedFN,
}

func parseCard(data string) (vcard.Card, error) {
	card, err := vcard.NewDecoder(strings.NewReader(data)).Decode()
	if err != nil {
		return nil, fmt.Errorf("the vCard does not parse: %w", err)
	}
	return card, nil
}

func encodeCard(card vcard.Card) ([]byte, error) {
	var b bytes.Buffer
	err := vcard.NewEncoder(&b).Encode(card)
	return b.Bytes(), err
}

func cardKey(card vcard.Card) string { return card.Value(propID) }

var (
	phoneKinds = []struct{ kind, typ string }{{"mobile", "cell"}, {"fax", "fax"}, {"pager", "pager"}, {"business", "work"}, {"home", "home"}, {"other", "other"}}
	addrKinds  = []struct{ kind, typ string }{{"business", "work"}, {"home", "home"}, {"other", "other"}}
	mailKinds  = []struct{ kind, typ string }{{"work", "work"}, {"home", "home"}, {"other", "other"}}
)

func kindOf(f *vcard.Field, kinds []struct{ kind, typ string }) string {
	for _, k := range kinds {
		if f.Params.HasType(k.typ) {
			return k.kind
		}
	}
	return ""
}

func typeOf(kind string, kinds []struct{ kind, typ string }) string {
	for _, k := range kinds {
		if k.kind == kind {
			return k.typ
		}
	}
	return ""
}

// readCard maps a vCard to a canonical contact.
func readCard(card vcard.Card) sdk.Fields {
	f := sdk.Fields{}
	set := func(field, v string) {
		if v = strings.TrimSpace(v); v != "" {
			f[field] = sdk.String(v)
		}
	}
	if n := card.Name(); n != nil {
		set("given_name", n.GivenName)
		set("middle_name", n.AdditionalName)
		set("surname", n.FamilyName)
	}
	fn := card.Value(vcard.FieldFormattedName)
	if card.Value(propDerivedFN) == "" || fn != composedName(f) {
		set("display_name", fn)
	}
	set("job_title", card.Value(vcard.FieldTitle))
	if org := card.Value(vcard.FieldOrganization); org != "" {
		company, dept, _ := strings.Cut(org, ";")
		set("company", company)
		set("department", dept)
	}
	var emails, phones, addrs []sdk.Value
	for _, e := range card[vcard.FieldEmail] {
		m := map[string]sdk.Value{"address": sdk.String(e.Value)}
		if k := kindOf(e, mailKinds); k != "" {
			m["kind"] = sdk.String(k)
		}
		if n := e.Params.Get("X-NAME"); n != "" {
			m["name"] = sdk.String(n)
		}
		emails = append(emails, sdk.Map(m))
	}
	for _, t := range card[vcard.FieldTelephone] {
		m := map[string]sdk.Value{"number": sdk.String(t.Value)}
		if k := kindOf(t, phoneKinds); k != "" {
			m["kind"] = sdk.String(k)
		}
		phones = append(phones, sdk.Map(m))
	}
	for _, a := range card.Addresses() {
		m := map[string]sdk.Value{}
		for field, v := range map[string]string{"street": a.StreetAddress, "city": a.Locality, "state": a.Region, "postal_code": a.PostalCode, "country": a.Country} {
			if v != "" {
				m[field] = sdk.String(v)
			}
		}
		if k := kindOf(a.Field, addrKinds); k != "" {
			m["kind"] = sdk.String(k)
		}
		addrs = append(addrs, sdk.Map(m))
	}
	for field, l := range map[string][]sdk.Value{"emails": emails, "phones": phones, "addresses": addrs} {
		if len(l) > 0 {
			f[field] = sdk.List(l...)
		}
	}
	if b := card.Value(vcard.FieldBirthday); b != "" {
		b = strings.ReplaceAll(b, "-", "")
		if len(b) >= 8 && !strings.HasPrefix(b, "--") { // a birthday without year has no canonical form
			f["birthday"] = sdk.String(b[:4] + "-" + b[4:6] + "-" + b[6:8])
		}
	}
	set("notes", card.Value(vcard.FieldNote))
	var cats []sdk.Value
	for _, c := range card.Values(vcard.FieldCategories) {
		for _, x := range strings.Split(c, ",") {
			if x = strings.TrimSpace(x); x != "" {
				cats = append(cats, sdk.String(x))
			}
		}
	}
	if len(cats) > 0 {
		f["categories"] = sdk.List(cats...)
	}
	set("web_page", card.Value(vcard.FieldURL))
	return f
}

func composedName(f sdk.Fields) string {
	var parts []string
	for _, k := range []string{"given_name", "middle_name", "surname"} {
		if s := f[k].Str(); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		if e := f["emails"].ListVal(); len(e) > 0 {
			return e[0].MapVal()["address"].Str()
		}
		return f["company"].Str()
	}
	return strings.Join(parts, " ")
}

// writeCard writes canonical contact fields into card (new or parsed).
func writeCard(card vcard.Card, f sdk.Fields, key, uid string) {
	for _, k := range mappedCardFields {
		delete(card, k)
	}
	if card.Get(vcard.FieldVersion) == nil {
		card.SetValue(vcard.FieldVersion, "3.0")
	}
	if card.Get(vcard.FieldUID) == nil {
		card.SetValue(vcard.FieldUID, uid)
	}
	if key != "" {
		card.SetValue(propID, key)
	}
	// go-vcard does not escape ';' inside structured values; a comma
	// stands in for it, so that N and ADR keep their shape.
	comp := func(s string) string { return strings.ReplaceAll(s, ";", ",") }
	card.SetName(&vcard.Name{GivenName: comp(f["given_name"].Str()), AdditionalName: comp(f["middle_name"].Str()), FamilyName: comp(f["surname"].Str())})
	if dn := f["display_name"].Str(); dn != "" {
		card.SetValue(vcard.FieldFormattedName, dn)
	} else {
		card.SetValue(vcard.FieldFormattedName, composedName(f))
		card.SetValue(propDerivedFN, "1")
	}
	set := func(field, v string) {
		if v != "" {
			card.SetValue(field, v)
		}
	}
	set(vcard.FieldTitle, f["job_title"].Str())
	if c, d := f["company"].Str(), f["department"].Str(); c != "" || d != "" {
		org := comp(c)
		if d != "" {
			org += ";" + comp(d)
		}
		card.SetValue(vcard.FieldOrganization, org)
	}
	for _, e := range f["emails"].ListVal() {
		m := e.MapVal()
		fl := &vcard.Field{Value: m["address"].Str(), Params: vcard.Params{}}
		if t := typeOf(m["kind"].Str(), mailKinds); t != "" {
			fl.Params.Add(vcard.ParamType, t)
		}
		if n := m["name"].Str(); n != "" {
			fl.Params.Set("X-NAME", n)
		}
		card.Add(vcard.FieldEmail, fl)
	}
	for _, p := range f["phones"].ListVal() {
		m := p.MapVal()
		fl := &vcard.Field{Value: m["number"].Str(), Params: vcard.Params{}}
		if t := typeOf(m["kind"].Str(), phoneKinds); t != "" {
			fl.Params.Add(vcard.ParamType, t)
		}
		card.Add(vcard.FieldTelephone, fl)
	}
	for _, a := range f["addresses"].ListVal() {
		m := a.MapVal()
		adr := &vcard.Address{Field: &vcard.Field{Params: vcard.Params{}}, StreetAddress: comp(m["street"].Str()), Locality: comp(m["city"].Str()),
			Region: comp(m["state"].Str()), PostalCode: comp(m["postal_code"].Str()), Country: comp(m["country"].Str())}
		if t := typeOf(m["kind"].Str(), addrKinds); t != "" {
			adr.Params.Add(vcard.ParamType, t)
		}
		card.AddAddress(adr)
	}
	set(vcard.FieldBirthday, f["birthday"].Str())
	set(vcard.FieldNote, f["notes"].Str())
	for _, c := range f["categories"].ListVal() {
		card.Add(vcard.FieldCategories, &vcard.Field{Value: c.Str()})
	}
	set(vcard.FieldURL, f["web_page"].Str())
}
