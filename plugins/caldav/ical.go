package caldav

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/syncgate/syncgate/internal/winzones"
	"github.com/syncgate/syncgate/sdk"
)

// The properties syncgate adds to the items it writes. X-SYNCGATE-ID is the
// item's syncgate id, beside its UID: a retried create finds it, and a
// duplicated item carries another copy's stamp.
const (
	propID        = "X-SYNCGATE-ID"
	propEntity    = "X-SYNCGATE-ENTITY" // "service_appointment" on the events the gateway writes as such
	propZone      = "X-SYNCGATE-TZID"   // the zone of an all-day event's midnights (DATE values have none)
	propStatus    = "X-SYNCGATE-STATUS" // canonical statuses iCalendar has no value for
	propRegarding = "X-SYNCGATE-REGARDING"
	propService   = "X-SYNCGATE-SERVICE"
	propBusy      = "X-MICROSOFT-CDO-BUSYSTATUS" // what Outlook and most servers use for show-as
	propAltDesc   = "X-ALT-DESC"                 // an HTML description, beside the plain DESCRIPTION
	paramList     = "X-SYNCGATE-LIST"            // on ATTENDEE: "resources" or "customers" of a service appointment
	prodID        = "-//syncgate//caldav connector//EN"
)

// calItem is one calendar object resource as the connector reads it: the
// parsed calendar, its main component and what it is.
type calItem struct {
	cal    *ical.Calendar
	master *ical.Component
	entity string // appointment, service_appointment or task; "" for anything else (a VJOURNAL)
	key    string // X-SYNCGATE-ID
}

// parseCal parses a calendar object and says which entity it holds.
func parseCal(data string) (*calItem, error) {
	cal, err := ical.NewDecoder(strings.NewReader(data)).Decode()
	if err != nil {
		return nil, fmt.Errorf("the calendar object does not parse: %w", err)
	}
	it := &calItem{cal: cal}
	for _, c := range cal.Children {
		if (c.Name == ical.CompEvent || c.Name == ical.CompToDo) && c.Props.Get(ical.PropRecurrenceID) == nil {
			it.master = c
			break
		}
	}
	if it.master == nil { // only overrides (an invitation to one occurrence): read the first
		for _, c := range cal.Children {
			if c.Name == ical.CompEvent || c.Name == ical.CompToDo {
				it.master = c
				break
			}
		}
	}
	if it.master == nil {
		return it, nil
	}
	it.key = text(it.master, propID)
	switch {
	case it.master.Name == ical.CompToDo:
		it.entity = "task"
	case strings.EqualFold(text(it.master, propEntity), "service_appointment"):
		it.entity = "service_appointment"
	default:
		it.entity = "appointment"
	}
	return it, nil
}

func text(c *ical.Component, name string) string {
	p := c.Props.Get(name)
	if p == nil {
		return ""
	}
	if p.ValueType() == ical.ValueText || p.ValueType() == ical.ValueDefault {
		if s, err := p.Text(); err == nil {
			return s
		}
	}
	return p.Value
}

// setX sets a text property without a VALUE parameter, as clients write
// the X- properties they add (go-ical's SetText adds VALUE=TEXT to those).
func setX(c *ical.Component, name, value string) {
	c.Props.Set(&ical.Prop{Name: name, Params: ical.Params{}, Value: escapeText(value)})
}

func encodeCal(cal *ical.Calendar) ([]byte, error) {
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// zoneOf resolves a TZID to a location: an IANA name, a Windows name (what
// Outlook writes), or a vendor-prefixed IANA name
// ("/mozilla.org/20050126_1/Europe/Berlin"). ok is false when none fits.
func zoneOf(tzid string) (loc *time.Location, name string, ok bool) {
	if tzid == "" {
		return time.UTC, "", false
	}
	try := []string{tzid}
	if iana, found := winzones.IANA(tzid); found {
		try = append(try, iana)
	}
	if parts := strings.Split(strings.Trim(tzid, "/"), "/"); len(parts) >= 2 {
		try = append(try, strings.Join(parts[len(parts)-2:], "/"))
		if len(parts) >= 3 {
			try = append(try, strings.Join(parts[len(parts)-3:], "/"))
		}
	}
	for _, n := range try {
		if l, err := time.LoadLocation(n); err == nil && n != "" && n != "Local" {
			if n == "UTC" || n == "Etc/UTC" {
				return time.UTC, "", true
			}
			return l, n, true
		}
	}
	return time.UTC, "", false
}

// readTime reads a DATE or DATE-TIME property as a canonical timestamp.
// allDayZone is the zone of a DATE's midnight. A TZID that no table maps
// is read as UTC: the instant may then be off by the zone's offset, which
// the README lists.
func readTime(p *ical.Prop, allDayZone string) (v sdk.Value, isDate bool, err error) {
	if p == nil {
		return sdk.Null, false, nil
	}
	if p.ValueType() == ical.ValueDate || len(p.Value) == 8 {
		loc, name, _ := zoneOf(allDayZone)
		t, err := time.ParseInLocation("20060102", p.Value, loc)
		if err != nil {
			return sdk.Null, true, fmt.Errorf("%s %q: %w", p.Name, p.Value, err)
		}
		return sdk.TimeIn(t, name), true, nil
	}
	if strings.HasSuffix(p.Value, "Z") {
		t, err := time.Parse("20060102T150405Z", p.Value)
		if err != nil {
			return sdk.Null, false, fmt.Errorf("%s %q: %w", p.Name, p.Value, err)
		}
		return sdk.TimeIn(t, ""), false, nil
	}
	loc, name, _ := zoneOf(p.Params.Get(ical.ParamTimezoneID))
	t, err := time.ParseInLocation("20060102T150405", p.Value, loc)
	if err != nil {
		return sdk.Null, false, fmt.Errorf("%s %q: %w", p.Name, p.Value, err)
	}
	return sdk.TimeIn(t, name), false, nil
}

// timeProp writes a canonical timestamp: a DATE for all-day values, UTC
// for a timestamp without zone, else local time with TZID (and the zone is
// noted so that its VTIMEZONE is written).
func timeProp(name string, v sdk.Value, allDay bool, zones map[string]bool) *ical.Prop {
	p := ical.NewProp(name)
	t := v.TimeVal()
	switch {
	case allDay:
		p.SetDate(t)
	case v.Zone() == "":
		p.SetDateTime(t.UTC())
	default:
		p.SetValueType(ical.ValueDateTime)
		p.Params.Set(ical.ParamTimezoneID, v.Zone())
		p.Value = t.Format("20060102T150405")
		zones[v.Zone()] = true
	}
	return p
}

// vtimezone describes zone from Go's zone database: one observance per
// offset change from a year before to two years after year, and the offset
// in force before them. Clients that know the TZID (an IANA name) use their
// own rules; the rest get these.
func vtimezone(zone string, year int) *ical.Component {
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, zone)
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil
	}
	from := time.Date(year-1, 1, 1, 0, 0, 0, 0, loc)
	to := time.Date(year+2, 12, 31, 0, 0, 0, 0, loc)
	observance := func(at time.Time, before int) {
		name, off := at.Zone()
		kind := ical.CompTimezoneStandard
		if at.IsDST() {
			kind = ical.CompTimezoneDaylight
		}
		o := ical.NewComponent(kind)
		start := ical.NewProp(ical.PropDateTimeStart)
		start.Value = at.UTC().Add(time.Duration(before) * time.Second).Format("20060102T150405")
		o.Props.Set(start)
		o.Props.Set(offsetProp(ical.PropTimezoneOffsetFrom, before))
		o.Props.Set(offsetProp(ical.PropTimezoneOffsetTo, off))
		o.Props.SetText(ical.PropTimezoneName, name)
		tz.Children = append(tz.Children, o)
	}
	_, off := from.Zone()
	observance(from, off)
	for day := from; day.Before(to); day = day.Add(24 * time.Hour) {
		next := day.Add(24 * time.Hour)
		_, o2 := next.Zone()
		if o2 == off {
			continue
		}
		lo, hi := day, next // bisect to the minute of the change
		for hi.Sub(lo) > time.Minute {
			mid := lo.Add(hi.Sub(lo) / 2)
			if _, om := mid.Zone(); om == off {
				lo = mid
			} else {
				hi = mid
			}
		}
		observance(hi.Truncate(time.Minute), off)
		off = o2
	}
	return tz
}

func offsetProp(name string, secs int) *ical.Prop {
	p := ical.NewProp(name)
	sign := "+"
	if secs < 0 {
		sign, secs = "-", -secs
	}
	p.SetValueType(ical.ValueUTCOffset)
	p.Value = fmt.Sprintf("%s%02d%02d", sign, secs/3600, secs/60%60)
	return p
}

var (
	importanceToPriority = map[string]int{"high": 1, "normal": 5, "low": 9}
	busyStatus           = map[string]string{"free": "FREE", "tentative": "TENTATIVE", "busy": "BUSY", "oof": "OOF", "working_elsewhere": "WORKINGELSEWHERE"}
	sensitivityClass     = map[string]string{"normal": "PUBLIC", "private": "PRIVATE", "confidential": "CONFIDENTIAL", "personal": "X-PERSONAL"}
	eventStatus          = map[string]string{"tentative": "TENTATIVE", "confirmed": "CONFIRMED", "cancelled": "CANCELLED"}
	taskStatus           = map[string]string{"not_started": "NEEDS-ACTION", "in_progress": "IN-PROCESS", "completed": "COMPLETED", "waiting": "NEEDS-ACTION", "deferred": "NEEDS-ACTION"}
	partStat             = map[string]string{"none": "NEEDS-ACTION", "accepted": "ACCEPTED", "tentative": "TENTATIVE", "declined": "DECLINED", "organizer": "ACCEPTED"}
)

func reverse(m map[string]string, v string) (string, bool) {
	for k, x := range m {
		if strings.EqualFold(x, v) && k != "organizer" && k != "waiting" && k != "deferred" {
			return k, true
		}
	}
	return "", false
}

// mappedEventProps are the properties the connector owns on a VEVENT or
// VTODO: an update rewrites them from the merged canonical fields and
// leaves every other property (ATTACH, COLOR, X-APPLE-...) as it was.
var mappedEventProps = []string{
	ical.PropSummary, ical.PropDescription, propAltDesc, ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration,
	ical.PropDue, ical.PropCompleted, ical.PropPercentComplete, ical.PropLocation, ical.PropOrganizer, ical.PropAttendee,
	ical.PropRecurrenceRule, ical.PropExceptionDates, ical.PropRecurrenceDates, ical.PropTransparency, propBusy,
	ical.PropClass, ical.PropPriority, ical.PropCategories, ical.PropStatus, propStatus, propRegarding, propService,
	propEntity, propID, propZone, ical.PropDateTimeStamp,
}

// readEvent maps a VEVENT (with its overrides) or a VTODO to canonical
// fields.
func readEvent(it *calItem) (sdk.Fields, error) {
	m := it.master
	f := sdk.Fields{}
	setStr := func(field, prop string) {
		if s := text(m, prop); s != "" {
			f[field] = sdk.String(s)
		}
	}
	setStr("subject", ical.PropSummary)
	if p := m.Props.Get(propAltDesc); p != nil && strings.EqualFold(p.Params.Get(ical.ParamFormatType), "text/html") {
		f["body"], f["body_type"] = sdk.String(text(m, propAltDesc)), sdk.String("html")
	} else if s := text(m, ical.PropDescription); s != "" {
		f["body"], f["body_type"] = sdk.String(s), sdk.String("text")
	}
	zone := text(m, propZone)
	var err error
	var isDate bool
	read := func(field, prop string) {
		if err != nil {
			return
		}
		var v sdk.Value
		var d bool
		v, d, err = readTime(m.Props.Get(prop), zone)
		if !v.IsNull() {
			f[field] = v
			if prop == ical.PropDateTimeStart {
				isDate = d
			}
		}
	}
	if it.entity == "task" {
		read("start", ical.PropDateTimeStart)
		read("due", ical.PropDue)
		read("completed_at", ical.PropCompleted)
		if p := m.Props.Get(ical.PropPercentComplete); p != nil {
			if n, e := p.Int(); e == nil {
				f["percent_complete"] = sdk.Int(int64(n))
			}
		}
		readStatus(m, taskStatus, f)
		if r := reminder(m, f["due"]); !r.IsNull() {
			f["reminder"] = r
		}
	} else {
		read("start", ical.PropDateTimeStart)
		read("end", ical.PropDateTimeEnd)
		if _, ok := f["end"]; !ok && err == nil {
			if p := m.Props.Get(ical.PropDuration); p != nil && !f["start"].IsNull() {
				if d, e := p.Duration(); e == nil {
					f["end"] = sdk.TimeIn(f["start"].TimeVal().Add(d), f["start"].Zone())
				}
			} else if isDate && !f["start"].IsNull() { // RFC 5545: a DATE start without end lasts one day
				f["end"] = sdk.TimeIn(f["start"].TimeVal().AddDate(0, 0, 1), f["start"].Zone())
			}
		}
		f["all_day"] = sdk.Bool(isDate)
		setStr("location", ical.PropLocation)
		if p := m.Props.Get(ical.PropOrganizer); p != nil {
			f["organizer"] = sdk.String(mailto(p.Value))
		}
		lists := map[string][]sdk.Value{}
		for _, p := range m.Props.Values(ical.PropAttendee) {
			list := strings.ToLower(p.Params.Get(paramList))
			if list != "resources" && list != "customers" || it.entity != "service_appointment" {
				list = "attendees"
			}
			lists[list] = append(lists[list], readAttendee(p))
		}
		for k, v := range lists {
			f[k] = sdk.List(v...)
		}
		if s, ok := reverse(busyStatus, text(m, propBusy)); ok {
			f["show_as"] = sdk.String(s)
		} else if t := text(m, ical.PropTransparency); t != "" {
			f["show_as"] = sdk.String(map[bool]string{true: "free", false: "busy"}[strings.EqualFold(t, "TRANSPARENT")])
		}
		if s, ok := reverse(sensitivityClass, text(m, ical.PropClass)); ok {
			f["sensitivity"] = sdk.String(s)
		}
		if r := reminder(m, sdk.Null); !r.IsNull() {
			f["reminder_minutes"] = r
		}
		readStatus(m, eventStatus, f)
		if uid := text(m, ical.PropUID); uid != "" {
			f["ical_uid"] = sdk.String(uid)
		}
		if it.entity == "service_appointment" {
			setStr("service", propService)
		}
		if err == nil {
			var rec sdk.Value
			rec, err = readRecurrence(it, f["start"], isDate, zone)
			if !rec.IsNull() {
				f["recurrence"] = rec
			}
		}
	}
	if p := m.Props.Get(ical.PropPriority); p != nil {
		if n, e := p.Int(); e == nil && n > 0 {
			f["importance"] = sdk.String(map[bool]string{true: "high", false: map[bool]string{true: "normal", false: "low"}[n == 5]}[n < 5])
		}
	}
	if cats := categories(m); len(cats) > 0 {
		f["categories"] = sdk.Strings(cats...)
	}
	if p := m.Props.Get(propRegarding); p != nil {
		r := map[string]sdk.Value{"id": sdk.String(text(m, propRegarding))}
		if e := p.Params.Get("X-ENTITY"); e != "" {
			r["entity"] = sdk.String(e)
		}
		if n := p.Params.Get("X-NAME"); n != "" {
			r["name"] = sdk.String(n)
		}
		f["regarding"] = sdk.Map(r)
	}
	return f, err
}

// readStatus reads STATUS, or the canonical status syncgate noted beside
// it when iCalendar has no value of its own, as long as a client has not
// changed STATUS since.
func readStatus(m *ical.Component, statuses map[string]string, f sdk.Fields) {
	st := text(m, ical.PropStatus)
	if s := text(m, propStatus); s != "" && strings.EqualFold(statuses[s], st) {
		f["status"] = sdk.String(s)
	} else if s, ok := reverse(statuses, st); ok {
		f["status"] = sdk.String(s)
	}
}

func categories(m *ical.Component) []string {
	var out []string
	for _, p := range m.Props.Values(ical.PropCategories) {
		l, _ := p.TextList()
		for _, c := range l {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

func mailto(s string) string {
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		return s[7:]
	}
	return s
}

func readAttendee(p ical.Prop) sdk.Value {
	a := map[string]sdk.Value{"address": sdk.String(mailto(p.Value))}
	if cn := p.Params.Get(ical.ParamCommonName); cn != "" {
		a["name"] = sdk.String(cn)
	}
	role := p.Params.Get(ical.ParamRole)
	switch {
	case strings.EqualFold(p.Params.Get(ical.ParamCalendarUserType), "RESOURCE") || strings.EqualFold(p.Params.Get(ical.ParamCalendarUserType), "ROOM"):
		a["role"] = sdk.String("resource")
	case strings.EqualFold(role, "OPT-PARTICIPANT"), strings.EqualFold(role, "NON-PARTICIPANT"):
		a["role"] = sdk.String("optional")
	default:
		a["role"] = sdk.String("required")
	}
	if strings.EqualFold(role, "CHAIR") {
		a["response"] = sdk.String("organizer")
	} else if s, ok := reverse(partStat, p.Params.Get(ical.ParamParticipationStatus)); ok {
		a["response"] = sdk.String(s)
	} else {
		a["response"] = sdk.String("none")
	}
	return sdk.Map(a)
}

func writeAttendee(v sdk.Value, list string) *ical.Prop {
	a := v.MapVal()
	p := ical.NewProp(ical.PropAttendee)
	p.SetValueType(ical.ValueCalendarAddress)
	p.Value = "mailto:" + a["address"].Str()
	if n := a["name"].Str(); n != "" {
		p.Params.Set(ical.ParamCommonName, n)
	}
	switch a["role"].Str() {
	case "resource":
		p.Params.Set(ical.ParamCalendarUserType, "RESOURCE")
		p.Params.Set(ical.ParamRole, "REQ-PARTICIPANT")
	case "optional":
		p.Params.Set(ical.ParamRole, "OPT-PARTICIPANT")
	default:
		p.Params.Set(ical.ParamRole, "REQ-PARTICIPANT")
	}
	resp := a["response"].Str()
	if resp == "organizer" {
		p.Params.Set(ical.ParamRole, "CHAIR")
	}
	if ps, ok := partStat[resp]; ok {
		p.Params.Set(ical.ParamParticipationStatus, ps)
	}
	if list != "attendees" {
		p.Params.Set(paramList, list)
	}
	return p
}

// reminder reads the first VALARM: minutes before start for events, the
// instant for tasks (relative to due when relative).
func reminder(m *ical.Component, due sdk.Value) sdk.Value {
	for _, a := range m.Children {
		if a.Name != ical.CompAlarm {
			continue
		}
		p := a.Props.Get(ical.PropTrigger)
		if p == nil {
			continue
		}
		if p.ValueType() == ical.ValueDateTime {
			v, _, err := readTime(p, "")
			if err == nil && m.Name == ical.CompToDo {
				return v
			}
			continue
		}
		d, err := p.Duration()
		if err != nil {
			continue
		}
		if m.Name == ical.CompToDo {
			if due.IsNull() {
				continue
			}
			return sdk.TimeIn(due.TimeVal().Add(d), due.Zone())
		}
		return sdk.Int(int64(-d / time.Minute))
	}
	return sdk.Null
}

// writeEvent writes canonical fields into it (a new or a parsed calendar
// object): the mapped properties of the main component are replaced, the
// others kept; overrides and time zones are rewritten.
func writeEvent(it *calItem, entity string, f sdk.Fields, key string, now time.Time) error {
	cal := it.cal
	if cal.Props.Get(ical.PropProductID) == nil {
		cal.Props.SetText(ical.PropProductID, prodID)
	}
	if cal.Props.Get(ical.PropVersion) == nil {
		cal.Props.SetText(ical.PropVersion, "2.0")
	}
	m := it.master
	if m == nil {
		name := ical.CompEvent
		if entity == "task" {
			name = ical.CompToDo
		}
		m = ical.NewComponent(name)
		it.master = m
	}
	for _, p := range mappedEventProps {
		m.Props.Del(p)
	}
	if m.Props.Get(ical.PropUID) == nil || (f["ical_uid"].Str() != "" && f["ical_uid"].Str() != text(m, ical.PropUID)) {
		uid := f["ical_uid"].Str()
		if uid == "" {
			uid = newUID()
		}
		m.Props.SetText(ical.PropUID, uid)
	}
	if p := m.Props.Get(ical.PropSequence); p != nil {
		n, _ := p.Int()
		p.Value = strconv.Itoa(n + 1)
	}
	m.Props.SetDateTime(ical.PropDateTimeStamp, now.UTC())
	if key != "" {
		setX(m, propID, key)
	}
	if entity == "service_appointment" {
		setX(m, propEntity, entity)
	}
	str := func(prop, field string) {
		if s := f[field].Str(); s != "" {
			m.Props.SetText(prop, s)
		}
	}
	str(ical.PropSummary, "subject")
	if body := f["body"].Str(); body != "" {
		if f["body_type"].Str() == "html" {
			p := ical.NewProp(propAltDesc)
			p.Params.Set(ical.ParamFormatType, "text/html")
			p.Value = escapeText(body)
			m.Props.Set(p)
			m.Props.SetText(ical.PropDescription, htmlToText(body))
		} else {
			m.Props.SetText(ical.PropDescription, body)
		}
	}
	zones := map[string]bool{}
	allDay := f["all_day"].BoolVal() && entity != "task"
	if allDay && f["start"].Zone() != "" {
		setX(m, propZone, f["start"].Zone())
	}
	for field, prop := range map[string]string{"start": ical.PropDateTimeStart, "end": ical.PropDateTimeEnd, "due": ical.PropDue} {
		if v := f[field]; !v.IsNull() && (field != "end" || entity != "task") && (field != "due" || entity == "task") {
			m.Props.Set(timeProp(prop, v, allDay, zones))
		}
	}
	if v := f["completed_at"]; !v.IsNull() && entity == "task" { // RFC 5545: COMPLETED is always UTC
		m.Props.SetDateTime(ical.PropCompleted, v.TimeVal().UTC())
	}
	if v := f["percent_complete"]; !v.IsNull() && entity == "task" {
		p := ical.NewProp(ical.PropPercentComplete)
		p.SetValueType(ical.ValueInt)
		p.Value = strconv.FormatInt(v.IntVal(), 10)
		m.Props.Set(p)
	}
	statuses := eventStatus
	if entity == "task" {
		statuses = taskStatus
	}
	if s := f["status"].Str(); s != "" {
		if v, ok := statuses[s]; ok {
			m.Props.SetText(ical.PropStatus, v)
		}
		if back, ok := reverse(statuses, statuses[s]); !ok || back != s {
			setX(m, propStatus, s)
		}
	}
	str(ical.PropLocation, "location")
	if o := f["organizer"].Str(); o != "" {
		p := ical.NewProp(ical.PropOrganizer)
		p.SetValueType(ical.ValueCalendarAddress)
		p.Value = "mailto:" + o
		m.Props.Set(p)
	}
	for _, list := range []string{"attendees", "resources", "customers"} {
		if list != "attendees" && entity != "service_appointment" {
			continue
		}
		for _, a := range f[list].ListVal() {
			m.Props.Add(writeAttendee(a, list))
		}
	}
	if s := f["show_as"].Str(); s != "" && entity != "task" {
		if b, ok := busyStatus[s]; ok {
			setX(m, propBusy, b)
		}
		m.Props.SetText(ical.PropTransparency, map[bool]string{true: "TRANSPARENT", false: "OPAQUE"}[s == "free"])
	}
	if s := sensitivityClass[f["sensitivity"].Str()]; s != "" {
		m.Props.SetText(ical.PropClass, s)
	}
	if n, ok := importanceToPriority[f["importance"].Str()]; ok {
		p := ical.NewProp(ical.PropPriority)
		p.SetValueType(ical.ValueInt)
		p.Value = strconv.Itoa(n)
		m.Props.Set(p)
	}
	for _, c := range f["categories"].ListVal() {
		m.Props.Add(&ical.Prop{Name: ical.PropCategories, Params: ical.Params{}, Value: escapeText(c.Str())})
	}
	if r := f["regarding"].MapVal(); r != nil {
		p := ical.NewProp(propRegarding)
		p.Value = escapeText(r["id"].Str())
		if e := r["entity"].Str(); e != "" {
			p.Params.Set("X-ENTITY", e)
		}
		if n := r["name"].Str(); n != "" {
			p.Params.Set("X-NAME", n)
		}
		m.Props.Set(p)
	}
	if v := f["service"].Str(); v != "" {
		setX(m, propService, v)
	}
	if entity != "service_appointment" {
		m.Props.Del(propService)
	}
	// The reminder: the connector owns the first VALARM.
	var alarms []*ical.Component
	for _, c := range m.Children {
		if c.Name == ical.CompAlarm {
			alarms = append(alarms, c)
		}
	}
	var rest []*ical.Component
	for i, c := range alarms {
		if i > 0 {
			rest = append(rest, c)
		}
	}
	if a := alarmFor(entity, f); a != nil {
		rest = append([]*ical.Component{a}, rest...)
	}
	m.Children = rest

	var children []*ical.Component
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone && c != m && c.Props.Get(ical.PropRecurrenceID) == nil {
			children = append(children, c)
		}
	}
	children = append(children, m)
	if entity != "task" {
		overrides, err := writeRecurrence(m, f, allDay, zones)
		if err != nil {
			return err
		}
		children = append(children, overrides...)
	}
	var tzs []*ical.Component
	year := f["start"].TimeVal().Year()
	if f["start"].IsNull() {
		year = f["due"].TimeVal().Year()
	}
	for _, z := range slices.Sorted(mapsKeys(zones)) {
		if tz := vtimezone(z, year); tz != nil {
			tzs = append(tzs, tz)
		}
	}
	cal.Children = append(tzs, children...)
	return nil
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func alarmFor(entity string, f sdk.Fields) *ical.Component {
	a := ical.NewComponent(ical.CompAlarm)
	a.Props.SetText(ical.PropAction, "DISPLAY")
	a.Props.SetText(ical.PropDescription, "Reminder")
	p := ical.NewProp(ical.PropTrigger)
	if entity == "task" {
		r := f["reminder"]
		if r.IsNull() {
			return nil
		}
		p.SetValueType(ical.ValueDateTime)
		p.Value = r.TimeVal().UTC().Format("20060102T150405Z")
	} else {
		r := f["reminder_minutes"]
		if r.IsNull() {
			return nil
		}
		p.SetDuration(-time.Duration(r.IntVal()) * time.Minute)
	}
	a.Props.Set(p)
	return a
}

var textEscaper = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\n", `\n`)

func escapeText(s string) string { return textEscaper.Replace(s) }

var tagRE = regexp.MustCompile(`<[^>]*>`)

// htmlToText is the plain DESCRIPTION beside an HTML X-ALT-DESC, for
// clients that show only DESCRIPTION.
func htmlToText(h string) string {
	s := strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n", "</p>", "\n").Replace(h)
	s = tagRE.ReplaceAllString(s, "")
	return strings.TrimSpace(strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&nbsp;", " ", "&quot;", `"`).Replace(s))
}
