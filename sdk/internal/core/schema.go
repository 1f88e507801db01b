package core

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// SchemaVersion is the version of the canonical model. It grows when fields
// are added; fields are never silently dropped.
const SchemaVersion = 1

// Type is the type of a canonical field.
type Type struct {
	Kind   Kind
	Elem   *Type    // list: the item type
	Object []Field  // map: the known keys (an object); nil = free-form map
	Enum   []string // string: the allowed values, if closed
	Format string   // string: "date" (YYYY-MM-DD), "email", "html-or-text"
}

// Field is one canonical field: its name, type and meaning.
type Field struct {
	Name string
	Type Type
	Doc  string
}

// EntitySchema is the canonical schema of one entity.
type EntitySchema struct {
	Name    string
	Version int
	Doc     string
	Fields  []Field
}

// Field returns the named field, if the schema has it.
func (s *EntitySchema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// FieldNames returns the schema's field names in order.
func (s *EntitySchema) FieldNames() []string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return names
}

func (t Type) String() string {
	switch {
	case t.Kind == KindList && t.Elem != nil:
		return "list(" + t.Elem.String() + ")"
	case t.Kind == KindMap && t.Object != nil:
		return "object"
	case t.Kind == KindString && t.Format != "":
		return "string:" + t.Format
	}
	return t.Kind.String()
}

var (
	tString    = Type{Kind: KindString}
	tText      = Type{Kind: KindString, Format: "html-or-text"}
	tInt       = Type{Kind: KindInt}
	tBool      = Type{Kind: KindBool}
	tTime      = Type{Kind: KindTime}
	tDate      = Type{Kind: KindString, Format: "date"}
	tEmail     = Type{Kind: KindString, Format: "email"}
	tStrings   = listOf(tString)
	importance = enum("low", "normal", "high")
)

func listOf(t Type) Type { return Type{Kind: KindList, Elem: &t} }

func object(fields ...Field) Type { return Type{Kind: KindMap, Object: fields} }

func enum(values ...string) Type { return Type{Kind: KindString, Enum: values} }

func f(name string, t Type, doc string) Field { return Field{Name: name, Type: t, Doc: doc} }

var (
	emailAddress = object(
		f("address", tEmail, "the e-mail address"),
		f("name", tString, "the display name that goes with it"),
		f("kind", enum("work", "home", "other"), "which address of the contact it is"),
	)
	phone = object(
		f("number", tString, "the number as the user typed it"),
		f("kind", enum("business", "home", "mobile", "fax", "pager", "other"), "which phone it is"),
	)
	postalAddress = object(
		f("kind", enum("business", "home", "other"), "which address it is"),
		f("street", tString, "street lines, joined with newlines"),
		f("city", tString, "city"),
		f("state", tString, "state or province"),
		f("postal_code", tString, "postal code"),
		f("country", tString, "country or region"),
	)
	attendee = object(
		f("address", tEmail, "the attendee's e-mail address"),
		f("name", tString, "display name"),
		f("role", enum("required", "optional", "resource"), "how the attendee is invited"),
		f("response", enum("none", "accepted", "tentative", "declined", "organizer"), "the attendee's answer"),
	)
	reference = object(
		f("entity", tString, "the CRM entity of the referenced record (contact, account, opportunity...)"),
		f("id", tString, "the referenced record's id on the CRM side"),
		f("name", tString, "its display name, for the mailbox side"),
	)
	recurrence = object(
		f("pattern", enum("daily", "weekly", "absolute_monthly", "relative_monthly", "absolute_yearly", "relative_yearly"), "how occurrences repeat"),
		f("interval", tInt, "every n days, weeks, months or years"),
		f("days_of_week", listOf(enum("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")), "weekly and relative patterns: which days"),
		f("day_of_month", tInt, "absolute monthly and yearly patterns: which day"),
		f("month", tInt, "yearly patterns: which month (1-12)"),
		f("index", enum("first", "second", "third", "fourth", "last"), "relative patterns: which week of the month"),
		f("first_day_of_week", enum("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"), "weekly patterns: the first day of the week"),
		f("range", enum("end_date", "no_end", "numbered"), "how the series ends"),
		f("start_date", tDate, "the first day of the series, in the series' zone"),
		f("end_date", tDate, "range end_date: the last day of the series"),
		f("count", tInt, "range numbered: how many occurrences"),
		f("zone", tString, "the IANA zone the pattern is evaluated in"),
		f("exceptions", listOf(object(
			f("original_start", tTime, "the start the occurrence had in the pattern"),
			f("start", tTime, "its new start"),
			f("end", tTime, "its new end"),
			f("subject", tString, "its subject, if changed"),
			f("location", tString, "its location, if changed"),
		)), "occurrences moved or changed"),
		f("cancelled", listOf(tTime), "original starts of cancelled occurrences"),
	)
	appointmentFields = []Field{
		f("subject", tString, "the title"),
		f("body", tText, "the description, as html or text (see body_type)"),
		f("body_type", enum("text", "html"), "the format of body"),
		f("start", tTime, "the start instant, with the IANA zone it was set in"),
		f("end", tTime, "the end instant, with its zone"),
		f("all_day", tBool, "an all-day event: start and end are midnights in the event's zone"),
		f("location", tString, "where"),
		f("organizer", tEmail, "the organizer's e-mail address"),
		f("attendees", listOf(attendee), "who is invited, with role and answer"),
		f("recurrence", recurrence, "the series pattern, exceptions and cancelled occurrences; absent for a single event"),
		f("show_as", enum("free", "tentative", "busy", "oof", "working_elsewhere", "unknown"), "free/busy status"),
		f("sensitivity", enum("normal", "personal", "private", "confidential"), "privacy"),
		f("importance", importance, "importance"),
		f("reminder_minutes", tInt, "minutes before start; absent when no reminder is set"),
		f("categories", tStrings, "the mailbox's category names"),
		f("status", enum("free", "tentative", "confirmed", "cancelled", "completed"), "the appointment's state"),
		f("regarding", reference, "the CRM record the appointment is about"),
		f("ical_uid", tString, "the iCalendar UID, the same in every attendee's copy of a meeting"),
	}
)

// Schemas is the canonical model: one schema per entity.
var Schemas = map[string]*EntitySchema{
	"contact": {
		Name: "contact", Version: 1, Doc: "a person in an address book or the CRM",
		Fields: []Field{
			f("given_name", tString, "first name"),
			f("middle_name", tString, "middle name"),
			f("surname", tString, "last name"),
			f("display_name", tString, "the name as shown"),
			f("job_title", tString, "job title"),
			f("company", tString, "company name"),
			f("department", tString, "department"),
			f("emails", listOf(emailAddress), "e-mail addresses, in order (the first is the primary)"),
			f("phones", listOf(phone), "phone numbers"),
			f("addresses", listOf(postalAddress), "postal addresses"),
			f("birthday", tDate, "date of birth"),
			f("notes", tText, "free text"),
			f("categories", tStrings, "the mailbox's category names"),
			f("web_page", tString, "a web address"),
		},
	},
	"appointment": {
		Name: "appointment", Version: 1, Doc: "a calendar event or meeting",
		Fields: appointmentFields,
	},
	"task": {
		Name: "task", Version: 1, Doc: "a to-do item",
		Fields: []Field{
			f("subject", tString, "the title"),
			f("body", tText, "the description"),
			f("body_type", enum("text", "html"), "the format of body"),
			f("start", tTime, "when work starts"),
			f("due", tTime, "when it is due"),
			f("completed_at", tTime, "when it was completed"),
			f("status", enum("not_started", "in_progress", "completed", "waiting", "deferred"), "progress state"),
			f("percent_complete", tInt, "0-100"),
			f("importance", importance, "importance"),
			f("reminder", tTime, "when to remind; absent when no reminder is set"),
			f("categories", tStrings, "the mailbox's category names"),
			f("regarding", reference, "the CRM record the task is about"),
		},
	},
	"service_appointment": {
		Name: "service_appointment", Version: 1,
		Doc: "an appointment scheduled in the CRM for resources and customers; written to each resource's own calendar",
		Fields: append(append([]Field(nil), appointmentFields...),
			f("resources", listOf(attendee), "the people and equipment booked (each bound resource gets its own copy)"),
			f("customers", listOf(attendee), "the customers served"),
			f("service", tString, "the name of the service"),
		),
	},
	"email": {
		Name: "email", Version: 1, Doc: "a tracked e-mail message",
		Fields: []Field{
			f("subject", tString, "subject line"),
			f("from", tEmail, "the sender"),
			f("to", listOf(tEmail), "recipients"),
			f("cc", listOf(tEmail), "copy recipients"),
			f("sent_at", tTime, "when it was sent"),
			f("received_at", tTime, "when it was received"),
			f("body", tText, "the body"),
			f("body_type", enum("text", "html"), "the format of body"),
			f("internet_message_id", tString, "the Message-ID header"),
			f("direction", enum("incoming", "outgoing"), "seen from the mailbox"),
			f("regarding", reference, "the CRM record the message is about"),
		},
	},
}

// Entities returns the names of the canonical entities, sorted.
func Entities() []string { return slices.Sorted(maps.Keys(Schemas)) }

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// Validate checks fields against the entity's canonical schema: unknown
// fields, wrong types, values outside an enum, malformed dates. Null is
// allowed everywhere (a field not set).
func Validate(entity string, fields Fields) Diagnostics {
	s, ok := Schemas[entity]
	if !ok {
		return Diagnostics{Errorf([]string{entity}, "unknown entity", "the canonical entities are %s", strings.Join(Entities(), ", "))}
	}
	var ds Diagnostics
	names := slices.Sorted(maps.Keys(fields))
	for _, name := range names {
		fd, ok := s.Field(name)
		if !ok {
			ds = append(ds, Errorf([]string{name}, "unknown field", "%s has no field %q; its fields are %s", entity, name, strings.Join(s.FieldNames(), ", ")))
			continue
		}
		ds = append(ds, validateValue([]string{name}, fd.Type, fields[name])...)
	}
	return ds
}

func validateValue(path []string, t Type, v Value) Diagnostics {
	if v.IsNull() {
		return nil
	}
	if v.Kind() != t.Kind {
		return Diagnostics{Errorf(path, "wrong type", "want %s, got %s %s", t, v.Kind(), v)}
	}
	var ds Diagnostics
	switch t.Kind {
	case KindString:
		if len(t.Enum) > 0 && !slices.Contains(t.Enum, v.Str()) {
			ds = append(ds, Errorf(path, "value not allowed", "%q is not one of %s", v.Str(), strings.Join(t.Enum, ", ")))
		}
		if t.Format == "date" && !dateRE.MatchString(v.Str()) {
			ds = append(ds, Errorf(path, "malformed date", "want YYYY-MM-DD, got %q", v.Str()))
		}
	case KindList:
		if t.Elem != nil {
			for i, item := range v.ListVal() {
				ds = append(ds, validateValue(append(append([]string(nil), path...), fmt.Sprint(i)), *t.Elem, item)...)
			}
		}
	case KindMap:
		if t.Object != nil {
			obj := EntitySchema{Fields: t.Object}
			for _, k := range slices.Sorted(maps.Keys(v.MapVal())) {
				p := append(append([]string(nil), path...), k)
				fd, ok := obj.Field(k)
				if !ok {
					ds = append(ds, Errorf(p, "unknown field", "its fields are %s", strings.Join(obj.FieldNames(), ", ")))
					continue
				}
				ds = append(ds, validateValue(p, fd.Type, v.MapVal()[k])...)
			}
		}
	}
	return ds
}

// SchemaMarkdown renders the canonical model as a Markdown reference: the one
// place where field names, types and meanings are written down for people.
func SchemaMarkdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The canonical model (schema version %d)\n\n", SchemaVersion)
	b.WriteString("Generated from `sdk/internal/core/schema.go` by `go test ./sdk -run TestModelDoc -update`; do not edit.\n\n")
	b.WriteString("Every field may be null (not set). Timestamps are instants with an IANA zone; dates are `YYYY-MM-DD`.\n")
	for _, name := range Entities() {
		s := Schemas[name]
		fmt.Fprintf(&b, "\n## %s (v%d)\n\n%s.\n\n| field | type | meaning |\n| --- | --- | --- |\n", s.Name, s.Version, upperFirst(s.Doc))
		writeFields(&b, "", s.Fields)
	}
	return b.String()
}

func writeFields(b *strings.Builder, prefix string, fields []Field) {
	for _, fd := range fields {
		typ := fd.Type.String()
		if len(fd.Type.Enum) > 0 {
			typ += ": " + strings.Join(fd.Type.Enum, " \\| ")
		}
		fmt.Fprintf(b, "| `%s%s` | %s | %s |\n", prefix, fd.Name, typ, fd.Doc)
		t := fd.Type
		sub := prefix + fd.Name
		if t.Kind == KindList && t.Elem != nil {
			t = *t.Elem
			sub += "[]"
		}
		if t.Object != nil {
			writeFields(b, sub+".", t.Object)
		}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
