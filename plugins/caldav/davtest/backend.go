package davtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
	"github.com/syncgate/syncgate/sdk/sdktest"
)

// Backend is the conformance suite's view of a server: out-of-band changes
// are PUTs and DELETEs of hand-written iCalendar and vCard text, as a
// user's client makes them.
type Backend struct {
	S        *Server
	manifest []byte
	Ents     []string
}

// NewBackend returns the conformance backend for s; manifest is the
// connector.hcl file beside the binary.
func NewBackend(s *Server, manifest []byte) *Backend {
	return &Backend{S: s, manifest: manifest, Ents: []string{"contact", "appointment", "task", "service_appointment"}}
}

// Manifest returns the manifest file.
func (b *Backend) Manifest() []byte { return b.manifest }

// Scope is the server's user: one endpoint is one account.
func (b *Backend) Scope() string { return b.S.User }

// Entities lists the entities to exercise.
func (b *Backend) Entities() []string { return b.Ents }

// FeedFor returns the entity's feed for the account.
func (b *Backend) FeedFor(entity string) sdk.Feed { return sdk.Feed{Name: entity, Scope: b.S.User} }

// Sample returns sdktest's samples, which the connector carries whole.
func (b *Backend) Sample(entity string, i int) sdk.Fields { return sdktest.Sample(entity, i) }

// Change returns sdktest's change.
func (b *Backend) Change(entity string, f sdk.Fields) sdk.Fields { return sdktest.Change(entity, f) }

// CollectionFor returns the collection a user's client would write entity to.
func (b *Backend) CollectionFor(entity string) string {
	switch entity {
	case "contact":
		return b.S.Contacts
	case "task":
		return b.S.Tasks
	}
	return b.S.Calendar
}

// CreateOutOfBand PUTs a new item.
func (b *Backend) CreateOutOfBand(ctx context.Context, entity string, f sdk.Fields) (string, error) {
	id := randomName()
	ext := ".ics"
	if entity == "contact" {
		ext = ".vcf"
	}
	href := b.CollectionFor(entity) + id + ext
	return href, b.put(ctx, href, entity, id, f, map[string]string{"If-None-Match": "*"})
}

// UpdateOutOfBand replaces an item's text, keeping its UID.
func (b *Backend) UpdateOutOfBand(ctx context.Context, entity, id string, f sdk.Fields) error {
	uid := strings.TrimSuffix(id[strings.LastIndex(id, "/")+1:], ".ics")
	uid = strings.TrimSuffix(uid, ".vcf")
	return b.put(ctx, id, entity, uid, f, nil)
}

// DeleteOutOfBand deletes an item.
func (b *Backend) DeleteOutOfBand(ctx context.Context, _, id string) error {
	_, _, err := b.S.Do(ctx, http.MethodDelete, id, "", nil)
	return err
}

// ExpireCursors makes the server forget its sync tokens.
func (b *Backend) ExpireCursors(context.Context) error { return b.S.ExpireSyncTokens() }

func (b *Backend) put(ctx context.Context, href, entity, uid string, f sdk.Fields, h map[string]string) error {
	body, ctype := Calendar(entity, uid, f), "text/calendar; charset=utf-8"
	if entity == "contact" {
		body, ctype = VCard(uid, f), "text/vcard; charset=utf-8"
	}
	hdr := map[string]string{"Content-Type": ctype}
	for k, v := range h {
		hdr[k] = v
	}
	_, _, err := b.S.Do(ctx, http.MethodPut, href, body, hdr)
	return err
}

func randomName() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "oob-" + hex.EncodeToString(b)
}

var esc = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`)

// VCard writes a vCard 3.0 as a client would, from the fields sdktest
// samples use.
func VCard(uid string, f sdk.Fields) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	w("BEGIN:VCARD")
	w("VERSION:3.0")
	w("UID:%s", uid)
	w("N:%s;%s;%s;;", esc.Replace(f["surname"].Str()), esc.Replace(f["given_name"].Str()), esc.Replace(f["middle_name"].Str()))
	w("FN:%s", esc.Replace(f["display_name"].Str()))
	if c := f["company"].Str(); c != "" {
		w("ORG:%s", esc.Replace(c))
	}
	if j := f["job_title"].Str(); j != "" {
		w("TITLE:%s", esc.Replace(j))
	}
	for _, e := range f["emails"].ListVal() {
		m := e.MapVal()
		w("EMAIL;TYPE=%s;X-NAME=%s:%s", strings.ToUpper(m["kind"].Str()), m["name"].Str(), m["address"].Str())
	}
	types := map[string]string{"business": "WORK", "home": "HOME", "mobile": "CELL", "fax": "FAX", "pager": "PAGER", "other": "OTHER"}
	for _, p := range f["phones"].ListVal() {
		m := p.MapVal()
		w("TEL;TYPE=%s:%s", types[m["kind"].Str()], m["number"].Str())
	}
	if bd := f["birthday"].Str(); bd != "" {
		w("BDAY:%s", bd)
	}
	for _, c := range f["categories"].ListVal() {
		w("CATEGORIES:%s", esc.Replace(c.Str()))
	}
	if n := f["notes"].Str(); n != "" {
		w("NOTE:%s", esc.Replace(n))
	}
	w("END:VCARD")
	return b.String()
}

// Calendar writes a VCALENDAR with one VEVENT or VTODO as a client would,
// with local times and TZID, from the fields sdktest samples use.
func Calendar(entity, uid string, f sdk.Fields) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	at := func(name string, v sdk.Value) {
		if v.IsNull() {
			return
		}
		if z := v.Zone(); z != "" {
			w("%s;TZID=%s:%s", name, z, v.TimeVal().Format("20060102T150405"))
		} else {
			w("%s:%s", name, v.TimeVal().UTC().Format("20060102T150405Z"))
		}
	}
	comp := "VEVENT"
	if entity == "task" {
		comp = "VTODO"
	}
	w("BEGIN:VCALENDAR")
	w("VERSION:2.0")
	w("PRODID:-//davtest//hand-written//EN")
	w("BEGIN:%s", comp)
	w("UID:%s", uid)
	w("DTSTAMP:%s", time.Now().UTC().Format("20060102T150405Z"))
	w("SUMMARY:%s", esc.Replace(f["subject"].Str()))
	if d := f["body"].Str(); d != "" {
		w("DESCRIPTION:%s", esc.Replace(d))
	}
	at("DTSTART", f["start"])
	if entity == "task" {
		at("DUE", f["due"])
		w("STATUS:%s", map[string]string{"not_started": "NEEDS-ACTION", "in_progress": "IN-PROCESS", "completed": "COMPLETED"}[f["status"].Str()])
		w("PERCENT-COMPLETE:%d", f["percent_complete"].IntVal())
	} else {
		at("DTEND", f["end"])
		if l := f["location"].Str(); l != "" {
			w("LOCATION:%s", esc.Replace(l))
		}
		if o := f["organizer"].Str(); o != "" {
			w("ORGANIZER:mailto:%s", o)
		}
		party := func(v sdk.Value, list string) {
			m := v.MapVal()
			params := ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION"
			if m["role"].Str() == "resource" {
				params += ";CUTYPE=RESOURCE"
			}
			if list != "" {
				params += ";X-SYNCGATE-LIST=" + list
			}
			w("ATTENDEE%s:mailto:%s", params, m["address"].Str())
		}
		for _, a := range f["attendees"].ListVal() {
			party(a, "")
		}
		for _, a := range f["resources"].ListVal() {
			party(a, "resources")
		}
		for _, a := range f["customers"].ListVal() {
			party(a, "customers")
		}
		if f["show_as"].Str() == "busy" {
			w("TRANSP:OPAQUE")
		}
		if s := f["service"].Str(); s != "" {
			w("X-SYNCGATE-SERVICE:%s", esc.Replace(s))
		}
		if entity == "service_appointment" {
			w("X-SYNCGATE-ENTITY:service_appointment")
		}
	}
	if p, ok := map[string]int{"high": 1, "normal": 5, "low": 9}[f["importance"].Str()]; ok {
		w("PRIORITY:%d", p)
	}
	for _, c := range f["categories"].ListVal() {
		w("CATEGORIES:%s", esc.Replace(c.Str()))
	}
	if r := f["reminder_minutes"]; !r.IsNull() {
		w("BEGIN:VALARM")
		w("ACTION:DISPLAY")
		w("DESCRIPTION:Reminder")
		w("TRIGGER:-PT%dM", r.IntVal())
		w("END:VALARM")
	}
	w("END:%s", comp)
	w("END:VCALENDAR")
	return b.String()
}
