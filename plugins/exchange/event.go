package exchange

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // zone rules for every IANA name Graph's Windows zones map to, whatever the host has

	"github.com/syncgate/syncgate/internal/winzones"
	"github.com/syncgate/syncgate/sdk"
)

// graphEvent is the part of a Graph event that syncgate reads.
type graphEvent struct {
	ID                    string          `json:"id"`
	ETag                  string          `json:"@odata.etag"`
	ChangeKey             string          `json:"changeKey"`
	LastModified          string          `json:"lastModifiedDateTime"`
	Type                  string          `json:"type"`
	SeriesMasterID        string          `json:"seriesMasterId"`
	OriginalStart         string          `json:"originalStart"`
	Subject               *string         `json:"subject"`
	Body                  *itemBody       `json:"body"`
	Start                 *dateTimeZone   `json:"start"`
	End                   *dateTimeZone   `json:"end"`
	OriginalStartTimeZone string          `json:"originalStartTimeZone"`
	OriginalEndTimeZone   string          `json:"originalEndTimeZone"`
	IsAllDay              bool            `json:"isAllDay"`
	IsCancelled           bool            `json:"isCancelled"`
	Location              *eventLocation  `json:"location"`
	Organizer             *recipient      `json:"organizer"`
	Attendees             []graphAttendee `json:"attendees"`
	Recurrence            *recurrence     `json:"recurrence"`
	ShowAs                string          `json:"showAs"`
	Sensitivity           string          `json:"sensitivity"`
	Importance            string          `json:"importance"`
	IsReminderOn          bool            `json:"isReminderOn"`
	ReminderMinutes       *int64          `json:"reminderMinutesBeforeStart"`
	Categories            []string        `json:"categories"`
	ICalUID               string          `json:"iCalUId"`
	CancelledOccurrences  []string        `json:"cancelledOccurrences"`
	ExceptionOccurrences  []graphEvent    `json:"exceptionOccurrences"`
	ExtendedProperties    []extProp       `json:"singleValueExtendedProperties"`
}

type itemBody struct {
	ContentType string `json:"contentType"`
	Content     string `json:"content"`
}

type dateTimeZone struct {
	DateTime string `json:"dateTime"`
	TimeZone string `json:"timeZone"`
}

type eventLocation struct {
	DisplayName string `json:"displayName"`
}

type recipient struct {
	EmailAddress emailAddress `json:"emailAddress"`
}

type graphAttendee struct {
	EmailAddress emailAddress `json:"emailAddress"`
	Type         string       `json:"type,omitempty"`
	Status       *struct {
		Response string `json:"response,omitempty"`
	} `json:"status,omitempty"`
}

type recurrence struct {
	Pattern recurrencePattern `json:"pattern"`
	Range   recurrenceRange   `json:"range"`
}

type recurrencePattern struct {
	Type           string   `json:"type"`
	Interval       int64    `json:"interval"`
	Month          int64    `json:"month,omitempty"`
	DayOfMonth     int64    `json:"dayOfMonth,omitempty"`
	DaysOfWeek     []string `json:"daysOfWeek,omitempty"`
	FirstDayOfWeek string   `json:"firstDayOfWeek,omitempty"`
	Index          string   `json:"index,omitempty"`
}

type recurrenceRange struct {
	Type                string `json:"type"`
	StartDate           string `json:"startDate"`
	EndDate             string `json:"endDate,omitempty"`
	RecurrenceTimeZone  string `json:"recurrenceTimeZone,omitempty"`
	NumberOfOccurrences int64  `json:"numberOfOccurrences,omitempty"`
}

// Graph's enum spellings and the canonical ones, where they differ.
var (
	showAsNames   = map[string]string{"workingElsewhere": "working_elsewhere"}
	responseNames = map[string]string{"tentativelyAccepted": "tentative", "notResponded": "none"}
	patternNames  = map[string]string{"absoluteMonthly": "absolute_monthly", "relativeMonthly": "relative_monthly", "absoluteYearly": "absolute_yearly", "relativeYearly": "relative_yearly"}
	rangeNames    = map[string]string{"endDate": "end_date", "noEnd": "no_end"}
)

// toCanon maps a Graph enum value to the canonical spelling; fromCanon
// maps back.
func toCanon(names map[string]string, v string) string {
	if c, ok := names[v]; ok {
		return c
	}
	return v
}

func fromCanon(names map[string]string, v string) string {
	for g, c := range names {
		if c == v {
			return g
		}
	}
	return v
}

// ianaZone maps a zone name Graph gives (Windows or IANA) to IANA; ok is
// false for a zone the CLDR table does not know (a custom zone): the
// instant is then kept in UTC.
func ianaZone(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	z, ok := winzones.IANA(name)
	if !ok {
		return "", false
	}
	if z == "UTC" || z == "Etc/UTC" {
		return "", true
	}
	return z, true
}

// graphTime reads a dateTimeTimeZone as an instant, keeping zone (the
// event's own zone, "" for UTC) as the zone it is expressed in.
func graphTime(dt *dateTimeZone, zone string) (sdk.Value, bool) {
	if dt == nil || dt.DateTime == "" {
		return sdk.Null, false
	}
	loc := time.UTC
	if z, ok := ianaZone(dt.TimeZone); ok && z != "" {
		if l, err := time.LoadLocation(z); err == nil {
			loc = l
		}
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", dt.DateTime, loc)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, dt.DateTime); err != nil {
			return sdk.Null, false
		}
	}
	return sdk.TimeIn(t, zone), true
}

// toGraphTime writes an instant in its zone: local wall time plus the
// Windows name of the zone (an IANA name Graph also accepts when CLDR has
// no Windows name for it).
func toGraphTime(v sdk.Value) *dateTimeZone {
	t := v.TimeVal()
	zone := v.Zone()
	if zone == "" {
		return &dateTimeZone{DateTime: t.UTC().Format("2006-01-02T15:04:05"), TimeZone: "UTC"}
	}
	win, ok := winzones.Windows(zone)
	if !ok {
		win = zone
	}
	return &dateTimeZone{DateTime: t.Format("2006-01-02T15:04:05"), TimeZone: win}
}

// eventFields maps a Graph event (a series master with its exceptions, or
// a single event) to the canonical appointment or service appointment.
func eventFields(e *graphEvent, entity string) sdk.Fields {
	f := sdk.Fields{}
	setStr(f, "subject", e.Subject)
	if e.Body != nil && e.Body.Content != "" {
		f["body"] = sdk.String(e.Body.Content)
		f["body_type"] = sdk.String(strings.ToLower(e.Body.ContentType))
		if f["body_type"].Str() != "html" {
			f["body_type"] = sdk.String("text")
		}
	}
	// The event's own zone is originalStartTimeZone when Graph answers
	// in UTC as asked; without it, the zone the times are written in.
	startZone, ok := ianaZone(e.OriginalStartTimeZone)
	if !ok && e.Start != nil {
		startZone, _ = ianaZone(e.Start.TimeZone)
	}
	endZone, ok := ianaZone(e.OriginalEndTimeZone)
	if !ok && e.End != nil {
		endZone, ok = ianaZone(e.End.TimeZone)
	}
	if !ok {
		endZone = startZone
	}
	if v, ok := graphTime(e.Start, startZone); ok {
		f["start"] = v
	}
	if v, ok := graphTime(e.End, endZone); ok {
		f["end"] = v
	}
	f["all_day"] = sdk.Bool(e.IsAllDay)
	if e.Location != nil && e.Location.DisplayName != "" {
		f["location"] = sdk.String(e.Location.DisplayName)
	}
	if e.Organizer != nil && e.Organizer.EmailAddress.Address != "" {
		f["organizer"] = sdk.String(e.Organizer.EmailAddress.Address)
	}
	data := dataOf(e)
	attendees := e.Attendees
	if len(attendees) == 0 {
		attendees = data.Attendees
	}
	if l := attendeeList(attendees); len(l) > 0 {
		f["attendees"] = sdk.List(l...)
	}
	if e.Recurrence != nil && e.Recurrence.Pattern.Type != "" {
		f["recurrence"] = recurrenceValue(e)
	}
	for name, v := range map[string]string{"show_as": toCanon(showAsNames, e.ShowAs), "sensitivity": e.Sensitivity, "importance": e.Importance} {
		if v != "" {
			f[name] = sdk.String(v)
		}
	}
	if e.IsReminderOn && e.ReminderMinutes != nil {
		f["reminder_minutes"] = sdk.Int(*e.ReminderMinutes)
	}
	if len(e.Categories) > 0 {
		f["categories"] = sdk.Strings(e.Categories...)
	}
	if e.IsCancelled {
		f["status"] = sdk.String("cancelled")
	}
	if e.ICalUID != "" {
		f["ical_uid"] = sdk.String(e.ICalUID)
	}
	if data.Regarding != nil {
		js, _ := json.Marshal(data.Regarding)
		if ref := referenceValue(string(js)); !ref.IsNull() {
			f["regarding"] = ref
		}
	}
	if entity == "service_appointment" {
		if l := attendeeList(data.Resources); len(l) > 0 {
			f["resources"] = sdk.List(l...)
		}
		if l := attendeeList(data.Customers); len(l) > 0 {
			f["customers"] = sdk.List(l...)
		}
		if data.Service != "" {
			f["service"] = sdk.String(data.Service)
		}
	}
	return f
}

// eventData is what syncgate keeps on an event beyond Graph's properties,
// as JSON in the SyncgateData extended property: the syncgate id, the
// service appointment marker and fields, attendees kept off Graph's list
// (so that no invitation is sent), and the CRM reference.
type eventData struct {
	Key       string          `json:"key,omitempty"`
	Entity    string          `json:"entity,omitempty"`
	Attendees []graphAttendee `json:"attendees,omitempty"`
	Regarding *reference      `json:"regarding,omitempty"`
	Resources []graphAttendee `json:"resources,omitempty"`
	Customers []graphAttendee `json:"customers,omitempty"`
	Service   string          `json:"service,omitempty"`
}

func dataOf(e *graphEvent) eventData {
	var d eventData
	json.Unmarshal([]byte(findProp(e.ExtendedProperties, propData)), &d)
	return d
}

func attendeeList(as []graphAttendee) []sdk.Value {
	var out []sdk.Value
	for _, a := range as {
		if a.EmailAddress.Address == "" {
			continue
		}
		m := map[string]sdk.Value{"address": sdk.String(a.EmailAddress.Address)}
		if a.EmailAddress.Name != "" {
			m["name"] = sdk.String(a.EmailAddress.Name)
		}
		if a.Type != "" {
			m["role"] = sdk.String(a.Type)
		}
		resp := "none"
		if a.Status != nil && a.Status.Response != "" {
			resp = toCanon(responseNames, a.Status.Response)
		}
		m["response"] = sdk.String(resp)
		out = append(out, sdk.Map(m))
	}
	return out
}

func graphAttendees(v sdk.Value) []graphAttendee {
	out := []graphAttendee{}
	for _, a := range v.ListVal() {
		m := a.MapVal()
		ga := graphAttendee{EmailAddress: emailAddress{Address: m["address"].Str(), Name: m["name"].Str()}, Type: m["role"].Str()}
		if ga.Type == "" {
			ga.Type = "required"
		}
		if r := m["response"].Str(); r != "" {
			ga.Status = &struct {
				Response string `json:"response,omitempty"`
			}{fromCanon(responseNames, r)}
		}
		out = append(out, ga)
	}
	return out
}

// reference is the canonical regarding reference, kept as JSON in an
// extended property (Graph has no place for a CRM reference).
type reference struct {
	Entity string `json:"entity,omitempty"`
	ID     string `json:"id,omitempty"`
	Name   string `json:"name,omitempty"`
}

func referenceValue(js string) sdk.Value {
	var r reference
	if js == "" || json.Unmarshal([]byte(js), &r) != nil || (r.Entity == "" && r.ID == "") {
		return sdk.Null
	}
	m := map[string]sdk.Value{}
	for k, v := range map[string]string{"entity": r.Entity, "id": r.ID, "name": r.Name} {
		if v != "" {
			m[k] = sdk.String(v)
		}
	}
	return sdk.Map(m)
}

func referenceOf(v sdk.Value) *reference {
	if v.IsNull() {
		return nil
	}
	m := v.MapVal()
	return &reference{Entity: m["entity"].Str(), ID: m["id"].Str(), Name: m["name"].Str()}
}

var trailingDate = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})$`)

// recurrenceValue folds a series master's pattern, its exceptions and its
// cancelled occurrences into the canonical recurrence.
func recurrenceValue(e *graphEvent) sdk.Value {
	p, r := e.Recurrence.Pattern, e.Recurrence.Range
	m := map[string]sdk.Value{
		"pattern":  sdk.String(toCanon(patternNames, p.Type)),
		"interval": sdk.Int(max(p.Interval, 1)),
		"range":    sdk.String(toCanon(rangeNames, r.Type)),
	}
	if len(p.DaysOfWeek) > 0 {
		m["days_of_week"] = sdk.Strings(p.DaysOfWeek...)
	}
	if p.DayOfMonth > 0 {
		m["day_of_month"] = sdk.Int(p.DayOfMonth)
	}
	if p.Month > 0 {
		m["month"] = sdk.Int(p.Month)
	}
	if p.Index != "" && strings.HasPrefix(p.Type, "relative") {
		m["index"] = sdk.String(p.Index)
	}
	if p.FirstDayOfWeek != "" && p.Type == "weekly" {
		m["first_day_of_week"] = sdk.String(p.FirstDayOfWeek)
	}
	if r.StartDate != "" {
		m["start_date"] = sdk.String(r.StartDate[:min(len(r.StartDate), 10)])
	}
	if r.EndDate != "" && r.Type == "endDate" {
		m["end_date"] = sdk.String(r.EndDate[:min(len(r.EndDate), 10)])
	}
	if r.NumberOfOccurrences > 0 && r.Type == "numbered" {
		m["count"] = sdk.Int(r.NumberOfOccurrences)
	}
	zone, _ := ianaZone(r.RecurrenceTimeZone)
	if zone == "" {
		zone, _ = ianaZone(e.OriginalStartTimeZone)
	}
	if zone != "" {
		m["zone"] = sdk.String(zone)
	}
	var exceptions []sdk.Value
	for i := range e.ExceptionOccurrences {
		x := &e.ExceptionOccurrences[i]
		xm := map[string]sdk.Value{}
		if t := parseGraphTime(x.OriginalStart); !t.IsZero() {
			xm["original_start"] = sdk.TimeIn(t, zone)
		}
		if v, ok := graphTime(x.Start, zone); ok {
			xm["start"] = v
		}
		if v, ok := graphTime(x.End, zone); ok {
			xm["end"] = v
		}
		if x.Subject != nil && (e.Subject == nil || *x.Subject != *e.Subject) {
			xm["subject"] = sdk.String(*x.Subject)
		}
		if x.Location != nil && (e.Location == nil || x.Location.DisplayName != e.Location.DisplayName) {
			xm["location"] = sdk.String(x.Location.DisplayName)
		}
		exceptions = append(exceptions, sdk.Map(xm))
	}
	if len(exceptions) > 0 {
		m["exceptions"] = sdk.List(exceptions...)
	}
	var cancelled []sdk.Value
	for _, c := range e.CancelledOccurrences {
		if t, ok := cancelledStart(c, e, zone); ok {
			cancelled = append(cancelled, sdk.TimeIn(t, zone))
		}
	}
	if len(cancelled) > 0 {
		m["cancelled"] = sdk.List(cancelled...)
	}
	return sdk.Map(m)
}

// cancelledStart reads a cancelled occurrence: Graph names it by an id that
// ends in the occurrence's date; its original start is that date at the
// series' start time in the series' zone.
func cancelledStart(c string, master *graphEvent, zone string) (time.Time, bool) {
	if t := parseGraphTime(c); !t.IsZero() {
		return t, true
	}
	d := trailingDate.FindString(c)
	if d == "" {
		return time.Time{}, false
	}
	loc := time.UTC
	if zone != "" {
		if l, err := time.LoadLocation(zone); err == nil {
			loc = l
		}
	}
	start, ok := graphTime(master.Start, zone)
	if !ok {
		return time.Time{}, false
	}
	st := start.TimeVal().In(loc)
	day, err := time.ParseInLocation(time.DateOnly, d, loc)
	if err != nil {
		return time.Time{}, false
	}
	return time.Date(day.Year(), day.Month(), day.Day(), st.Hour(), st.Minute(), st.Second(), 0, loc), true
}

// recurrenceBody maps the canonical pattern and range to Graph's. The
// zone is the series' zone, or the start's.
func recurrenceBody(v sdk.Value, startZone string) *recurrence {
	m := v.MapVal()
	rec := &recurrence{
		Pattern: recurrencePattern{
			Type: fromCanon(patternNames, m["pattern"].Str()), Interval: max(m["interval"].IntVal(), 1),
			Month: m["month"].IntVal(), DayOfMonth: m["day_of_month"].IntVal(), DaysOfWeek: stringList(m["days_of_week"]),
			FirstDayOfWeek: m["first_day_of_week"].Str(), Index: m["index"].Str(),
		},
		Range: recurrenceRange{Type: fromCanon(rangeNames, m["range"].Str()), StartDate: m["start_date"].Str(),
			EndDate: m["end_date"].Str(), NumberOfOccurrences: m["count"].IntVal()},
	}
	if rec.Range.Type == "" {
		rec.Range.Type = "noEnd"
	}
	zone := m["zone"].Str()
	if zone == "" {
		zone = startZone
	}
	if zone == "" {
		rec.Range.RecurrenceTimeZone = "UTC"
	} else if w, ok := winzones.Windows(zone); ok {
		rec.Range.RecurrenceTimeZone = w
	} else {
		rec.Range.RecurrenceTimeZone = zone
	}
	if len(rec.Pattern.DaysOfWeek) == 0 {
		rec.Pattern.DaysOfWeek = nil
	}
	return rec
}

// eventBody maps canonical fields to the Graph properties to write (a
// patch: only what the fields carry). Attendees reach Graph's list only
// when invitations may be sent; otherwise, and always for a service
// appointment (the resource's own copy, with no invitation), they are kept
// in an extended property.
func eventBody(f sdk.Fields, entity string, sendInvitations bool, data *eventData) map[string]any {
	b := map[string]any{}
	if v, ok := f["subject"]; ok {
		b["subject"] = nullableStr(v)
	}
	if v, ok := f["body"]; ok {
		ct := f["body_type"].Str()
		if ct != "html" {
			ct = "text"
		}
		b["body"] = itemBody{ContentType: ct, Content: v.Str()}
	}
	for _, name := range []string{"start", "end"} {
		if v, ok := f[name]; ok && !v.IsNull() {
			b[name] = toGraphTime(v)
		}
	}
	if v, ok := f["all_day"]; ok {
		b["isAllDay"] = v.BoolVal()
	}
	if v, ok := f["location"]; ok {
		b["location"] = eventLocation{DisplayName: v.Str()}
	}
	if v, ok := f["organizer"]; ok && !v.IsNull() {
		b["organizer"] = recipient{EmailAddress: emailAddress{Address: v.Str()}}
	}
	if v, ok := f["attendees"]; ok {
		if sendInvitations && entity == "appointment" {
			b["attendees"] = graphAttendees(v)
		} else {
			data.Attendees = graphAttendees(v)
		}
	}
	if v, ok := f["recurrence"]; ok {
		if v.IsNull() {
			b["recurrence"] = nil
		} else {
			b["recurrence"] = recurrenceBody(v, f["start"].Zone())
		}
	}
	for name, prop := range map[string]string{"show_as": "showAs", "sensitivity": "sensitivity", "importance": "importance"} {
		if v, ok := f[name]; ok {
			if v.IsNull() {
				b[prop] = map[string]string{"show_as": "busy", "sensitivity": "normal", "importance": "normal"}[name]
			} else {
				b[prop] = fromCanon(showAsNames, v.Str())
			}
		}
	}
	if v, ok := f["reminder_minutes"]; ok {
		b["isReminderOn"] = !v.IsNull()
		if !v.IsNull() {
			b["reminderMinutesBeforeStart"] = v.IntVal()
		}
	}
	if v, ok := f["categories"]; ok {
		b["categories"] = stringList(v)
	}
	if v, ok := f["regarding"]; ok {
		data.Regarding = referenceOf(v)
	}
	if entity == "service_appointment" {
		if v, ok := f["resources"]; ok {
			data.Resources = graphAttendees(v)
		}
		if v, ok := f["customers"]; ok {
			data.Customers = graphAttendees(v)
		}
		if v, ok := f["service"]; ok {
			data.Service = v.Str()
		}
	}
	return b
}

// carriesData reports whether a patch changes what eventData holds.
func carriesData(f sdk.Fields, entity string, sendInvitations bool) bool {
	names := []string{"regarding", "resources", "customers", "service"}
	if !sendInvitations || entity == "service_appointment" {
		names = append(names, "attendees")
	}
	for _, n := range names {
		if has(f, n) {
			return true
		}
	}
	return false
}

// withData adds the syncgate properties to a body: the data, and the id
// again on its own for lookups by value.
func withData(b map[string]any, d eventData) map[string]any {
	js, _ := json.Marshal(d)
	props := []extProp{{ID: propData, Value: string(js)}}
	if d.Key != "" {
		props = append(props, extProp{ID: propSyncgateID, Value: d.Key})
	}
	b["singleValueExtendedProperties"] = props
	return b
}

// ---- feed, fetch, apply ----

func eventPath(_ context.Context, _ *state, mailbox, id string) (string, error) {
	return userPath(mailbox) + "/events/" + url.PathEscape(id), nil
}

// getEvent reads an event with the syncgate properties and, for a series
// master, its exceptions.
func getEvent(ctx context.Context, s *state, mailbox, id string) (*graphEvent, error) {
	p, _ := eventPath(ctx, s, mailbox, id)
	q := url.Values{"$expand": {expandProp(propData)}}
	var e graphEvent
	if _, err := s.g.do(ctx, call{method: "GET", path: p + "?" + q.Encode(), mailbox: mailbox}, &e); err != nil {
		return nil, err
	}
	if e.Type == "seriesMaster" {
		// Graph returns a master's cancelled occurrences only when they
		// are asked for by name.
		var c struct {
			CancelledOccurrences []string `json:"cancelledOccurrences"`
		}
		if _, err := s.g.do(ctx, call{method: "GET", path: p + "?$select=cancelledOccurrences", mailbox: mailbox}, &c); err != nil {
			return nil, err
		}
		if len(c.CancelledOccurrences) > 0 {
			e.CancelledOccurrences = c.CancelledOccurrences
		}
		// The exceptions are the instances whose type says so; Graph
		// lists instances over a window only, so exceptions outside the
		// calendar window are not carried.
		from, to := s.cfg.window(s.now())
		instances, err := listInstances(ctx, s, mailbox, id, from, to)
		if err != nil {
			return nil, err
		}
		for _, inst := range instances {
			if inst.Type == "exception" {
				e.ExceptionOccurrences = append(e.ExceptionOccurrences, inst)
			}
		}
	}
	return &e, nil
}

func eventEntity(e *graphEvent) string {
	if dataOf(e).Entity == "service_appointment" {
		return "service_appointment"
	}
	return "appointment"
}

func fetchEvent(entity string) func(context.Context, *Connector, *state, string, string) (*sdk.Record, error) {
	return func(ctx context.Context, _ *Connector, s *state, mailbox, id string) (*sdk.Record, error) {
		e, err := getEvent(ctx, s, mailbox, id)
		if err != nil {
			return nil, err
		}
		return &sdk.Record{Entity: entity, ID: id, Version: versionOf(e.ETag, e.ChangeKey), Modified: parseGraphTime(e.LastModified),
			CorrelationKey: dataOf(e).Key, Fields: eventFields(e, entity)}, nil
	}
}

func createEvent(entity string) func(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
	return func(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error) {
		ek, _ := entityOf(entity)
		collection := userPath(mailbox) + "/events"
		if res, err := existing(ctx, c, s, ek, mailbox, collection, op); err != nil || res.ID != "" {
			return res, err
		}
		data := eventData{Key: op.CorrelationKey}
		if entity == "service_appointment" {
			data.Entity = entity
		}
		body := withData(eventBody(op.Fields, entity, s.cfg.SendInvitations, &data), data)
		res, err := postItem(ctx, c, s, ek, mailbox, collection, body)
		if err != nil {
			return res, err
		}
		if entity == "service_appointment" {
			rememberServiceAppointment(ctx, s, mailbox, res.ID)
		}
		return writeSeriesChanges(ctx, c, s, ek, mailbox, res, op.Fields)
	}
}

func updateEvent(entity string) func(context.Context, *Connector, *state, string, sdk.Op) (sdk.OpResult, error) {
	return func(ctx context.Context, c *Connector, s *state, mailbox string, op sdk.Op) (sdk.OpResult, error) {
		ek, _ := entityOf(entity)
		var data eventData
		body := eventBody(op.Fields, entity, s.cfg.SendInvitations, &data)
		if carriesData(op.Fields, entity, s.cfg.SendInvitations) {
			// The data lives in one property: merge the patch into what
			// the item carries now.
			cur, err := getEvent(ctx, s, mailbox, op.ID)
			if err != nil {
				return sdk.OpResult{}, err
			}
			data = dataOf(cur)
			eventBody(op.Fields, entity, s.cfg.SendInvitations, &data)
			body = withData(body, data)
		}
		p, _ := eventPath(ctx, s, mailbox, op.ID)
		res, err := patchItem(ctx, c, s, ek, mailbox, op.ID, p, op.IfMatch, body)
		if err != nil {
			return res, err
		}
		return writeSeriesChanges(ctx, c, s, ek, mailbox, res, op.Fields)
	}
}

func has(f sdk.Fields, k string) bool {
	_, ok := f[k]
	return ok
}

// calendarStart is the first link of a calendar round: calendarView delta
// over today's window.
func calendarStart(_ context.Context, c *Connector, s *state, mailbox string) (string, string, error) {
	from, to := s.cfg.window(c.now())
	q := url.Values{"startDateTime": {from.Format(time.RFC3339)}, "endDateTime": {to.Format(time.RFC3339)}}
	return userPath(mailbox) + "/calendarView/delta?" + q.Encode(), from.Format(time.DateOnly), nil
}

// calendarRecords folds occurrences and exceptions into their series
// master, reads each changed event once with its syncgate properties (the
// delta allows no $expand) to tell appointments from service
// appointments, and confirms every @removed entry with a GET: a 404 is a
// delete, an event still there left the window.
func calendarRecords(ctx context.Context, _ *Connector, s *state, mailbox string, entries []deltaEntry) ([]sdk.ChangeRecord, error) {
	type change struct {
		id      string
		removed bool
	}
	var order []change
	seen := map[string]int{}
	for _, e := range entries {
		id := e.ID
		if !e.Removed {
			var head struct {
				SeriesMasterID string `json:"seriesMasterId"`
			}
			json.Unmarshal(e.Raw, &head)
			if head.SeriesMasterID != "" {
				id = head.SeriesMasterID
			}
		}
		if i, ok := seen[id]; ok {
			order[i].removed = order[i].removed && e.Removed
			continue
		}
		seen[id] = len(order)
		order = append(order, change{id: id, removed: e.Removed})
	}
	classify := func(ch change) (*sdk.ChangeRecord, error) {
		ev, err := getEvent(ctx, s, mailbox, ch.id)
		switch {
		case sdk.IsKind(err, sdk.ErrNotFound):
			entity := "appointment"
			if isServiceAppointment(ctx, s, mailbox, ch.id) {
				entity = "service_appointment"
			}
			forgetServiceAppointment(ctx, s, mailbox, ch.id)
			return &sdk.ChangeRecord{Entity: entity, ID: ch.id, Kind: sdk.ChangeDelete}, nil
		case err != nil:
			return nil, err
		}
		r := sdk.ChangeRecord{Entity: eventEntity(ev), ID: ch.id, Kind: sdk.ChangeUpsert, Version: versionOf(ev.ETag, ev.ChangeKey),
			Modified: parseGraphTime(ev.LastModified), CorrelationKey: dataOf(ev).Key}
		if r.Entity == "service_appointment" && !isServiceAppointment(ctx, s, mailbox, ch.id) {
			rememberServiceAppointment(ctx, s, mailbox, ch.id)
		}
		if ch.removed {
			if ev.SeriesMasterID != "" {
				return nil, nil // one occurrence left the window; its series is still there
			}
			r.Kind, r.Version = sdk.ChangeScopeExit, ""
		}
		return &r, nil
	}
	// The reads run side by side, as many as the mailbox's request slots
	// allow: a first enumeration reads every event of the window.
	ctx, cancel := context.WithCancel(ctx) // the first failure ends the round: stop the other reads
	defer cancel()
	out := make([]*sdk.ChangeRecord, len(order))
	var (
		first error
		once  sync.Once
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range s.cfg.Concurrency {
		wg.Go(func() {
			for i := range next {
				var err error
				if out[i], err = classify(order[i]); err != nil {
					once.Do(func() { first = err })
					cancel()
				}
			}
		})
	}
	for i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	recs := make([]sdk.ChangeRecord, 0, len(order))
	for _, r := range out {
		if r != nil {
			recs = append(recs, *r)
		}
	}
	return recs, nil
}

// Service appointments the connector wrote or saw in the feed are
// remembered in the host's key-value store, so that a delete (which Graph
// reports with nothing but the id) is reported under the right entity.
func saKey(mailbox, id string) string { return "sa/" + strings.ToLower(mailbox) + "/" + id }

func rememberServiceAppointment(ctx context.Context, s *state, mailbox, id string) {
	if s.env.KV != nil {
		if err := s.env.KV.Put(ctx, saKey(mailbox, id), []byte("1")); err != nil && s.env.Logger != nil {
			s.env.Logger.Warn("cannot remember a service appointment", "mailbox", mailbox, "id", id, "error", err)
		}
	}
}

func forgetServiceAppointment(ctx context.Context, s *state, mailbox, id string) {
	if s.env.KV != nil {
		s.env.KV.Delete(ctx, saKey(mailbox, id))
	}
}

func isServiceAppointment(ctx context.Context, s *state, mailbox, id string) bool {
	if s.env.KV == nil {
		return false
	}
	_, ok, _ := s.env.KV.Get(ctx, saKey(mailbox, id))
	return ok
}

// writeSeriesChanges makes a series' exceptions and cancelled occurrences
// what the fields say, once the master is written: Graph keeps them on the
// occurrences, so each is a PATCH (moved or changed) or a DELETE
// (cancelled) of the occurrence with that original start. Occurrences
// that already are as asked are left alone; Graph cannot bring a cancelled
// occurrence back, and an exception the fields no longer list keeps its
// changes. The version returned is the master's after these writes.
func writeSeriesChanges(ctx context.Context, c *Connector, s *state, ek entityKind, mailbox string, res sdk.OpResult, f sdk.Fields) (sdk.OpResult, error) {
	rec := f["recurrence"].MapVal()
	exceptions, cancelled := rec["exceptions"].ListVal(), rec["cancelled"].ListVal()
	if len(exceptions) == 0 && len(cancelled) == 0 {
		return res, nil
	}
	var origins []time.Time
	for _, x := range exceptions {
		origins = append(origins, x.MapVal()["original_start"].TimeVal())
	}
	for _, x := range cancelled {
		origins = append(origins, x.TimeVal())
	}
	from, to := origins[0], origins[0]
	for _, t := range origins {
		from, to = minTime(from, t), maxTime(to, t)
	}
	instances, err := listInstances(ctx, s, mailbox, res.ID, from.Add(-24*time.Hour), to.Add(24*time.Hour))
	if err != nil {
		return sdk.OpResult{}, err
	}
	at := func(orig time.Time) *graphEvent {
		for i := range instances {
			if t := parseGraphTime(instances[i].OriginalStart); !t.IsZero() && t.Equal(orig) {
				return &instances[i]
			}
		}
		return nil
	}
	for _, x := range cancelled {
		inst := at(x.TimeVal())
		if inst == nil {
			continue // cancelled already, or not an occurrence of the pattern
		}
		p, _ := eventPath(ctx, s, mailbox, inst.ID)
		if _, err := s.g.do(ctx, call{method: "DELETE", path: p, mailbox: mailbox}, nil); err != nil && !sdk.IsKind(err, sdk.ErrNotFound) {
			return sdk.OpResult{}, err
		}
	}
	for _, x := range exceptions {
		m := x.MapVal()
		inst := at(m["original_start"].TimeVal())
		if inst == nil {
			continue
		}
		body := map[string]any{}
		for name, cur := range map[string]*dateTimeZone{"start": inst.Start, "end": inst.End} {
			if v := m[name]; !v.IsNull() {
				if now, ok := graphTime(cur, ""); !ok || !now.TimeVal().Equal(v.TimeVal()) {
					body[name] = toGraphTime(v)
				}
			}
		}
		if v := m["subject"]; !v.IsNull() && (inst.Subject == nil || *inst.Subject != v.Str()) {
			body["subject"] = v.Str()
		}
		if v := m["location"]; !v.IsNull() && (inst.Location == nil || inst.Location.DisplayName != v.Str()) {
			body["location"] = eventLocation{DisplayName: v.Str()}
		}
		if len(body) == 0 {
			continue
		}
		p, _ := eventPath(ctx, s, mailbox, inst.ID)
		if _, err := s.g.do(ctx, call{method: "PATCH", path: p, mailbox: mailbox, body: body}, nil); err != nil {
			return sdk.OpResult{}, err
		}
	}
	cur, err := ek.fetch(ctx, c, s, mailbox, res.ID)
	if err != nil {
		return sdk.OpResult{}, err
	}
	return sdk.OpResult{ID: res.ID, Version: cur.Version}, nil
}

// listInstances lists a series' occurrences and exceptions between from
// and to.
func listInstances(ctx context.Context, s *state, mailbox, id string, from, to time.Time) ([]graphEvent, error) {
	p, _ := eventPath(ctx, s, mailbox, id)
	q := url.Values{"startDateTime": {from.UTC().Format(time.RFC3339)}, "endDateTime": {to.UTC().Format(time.RFC3339)},
		"$select": {"id,type,originalStart,start,end,subject,location"}}
	link := p + "/instances?" + q.Encode()
	var out []graphEvent
	for pages := 0; link != "" && pages < s.cfg.MaxPages; pages++ {
		var page struct {
			Value    []graphEvent `json:"value"`
			NextLink string       `json:"@odata.nextLink"`
		}
		if _, err := s.g.do(ctx, call{method: "GET", path: link, mailbox: mailbox}, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value...)
		link = page.NextLink
	}
	return out, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
