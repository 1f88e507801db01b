package caldav

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"

	"github.com/syncgate/syncgate/sdk"
)

var (
	weekdays    = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	icalDays    = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}
	indexes     = map[string]int{"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
	freqPattern = map[string]string{"daily": "DAILY", "weekly": "WEEKLY", "absolute_monthly": "MONTHLY",
		"relative_monthly": "MONTHLY", "absolute_yearly": "YEARLY", "relative_yearly": "YEARLY"}
)

func dayName(ical string) string {
	for i, d := range icalDays {
		if strings.EqualFold(d, ical) {
			return weekdays[i]
		}
	}
	return ""
}

func icalDay(name string) string {
	for i, d := range weekdays {
		if d == name {
			return icalDays[i]
		}
	}
	return ""
}

// readRecurrence maps RRULE, EXDATE and the RECURRENCE-ID overrides of a
// series to the canonical recurrence; null for a single event. A rule the
// canonical patterns cannot say (BYHOUR, several BYMONTHDAY...) is an error
// naming the rule, so that the item is not synced half understood.
func readRecurrence(it *calItem, start sdk.Value, isDate bool, allDayZone string) (sdk.Value, error) {
	m := it.master
	p := m.Props.Get(ical.PropRecurrenceRule)
	if p == nil || start.IsNull() {
		return sdk.Null, nil
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(p.Value, ";") {
		k, v, _ := strings.Cut(kv, "=")
		parts[strings.ToUpper(k)] = strings.ToUpper(v)
	}
	st := start.TimeVal()
	r := map[string]sdk.Value{"interval": sdk.Int(1)}
	if n, err := strconv.Atoi(parts["INTERVAL"]); err == nil && n > 0 {
		r["interval"] = sdk.Int(int64(n))
	}
	for _, k := range []string{"BYHOUR", "BYMINUTE", "BYSECOND", "BYWEEKNO", "BYYEARDAY"} {
		if parts[k] != "" {
			return sdk.Null, fmt.Errorf("RRULE %q uses %s, which no canonical pattern has", p.Value, k)
		}
	}
	var days []sdk.Value
	ordinal := 0
	for _, d := range strings.Split(parts["BYDAY"], ",") {
		if d == "" {
			continue
		}
		i := strings.IndexAny(d, "SMTWF")
		if i > 0 {
			n, err := strconv.Atoi(d[:i])
			if err != nil {
				return sdk.Null, fmt.Errorf("RRULE %q: BYDAY %q", p.Value, d)
			}
			ordinal = n
		}
		if name := dayName(d[max(i, 0):]); name != "" {
			days = append(days, sdk.String(name))
		}
	}
	if n, err := strconv.Atoi(parts["BYSETPOS"]); err == nil {
		ordinal = n
	}
	index := ""
	for k, v := range indexes {
		if v == ordinal {
			index = k
		}
	}
	month := int(st.Month())
	if n, err := strconv.Atoi(parts["BYMONTH"]); err == nil {
		month = n
	}
	dom := st.Day()
	if n, err := strconv.Atoi(parts["BYMONTHDAY"]); err == nil {
		dom = n
	}
	relative := len(days) > 0 && ordinal != 0
	if ordinal != 0 && index == "" {
		return sdk.Null, fmt.Errorf("RRULE %q: occurrence %d of the month has no canonical index", p.Value, ordinal)
	}
	switch parts["FREQ"] {
	case "DAILY":
		r["pattern"] = sdk.String("daily")
	case "WEEKLY":
		r["pattern"] = sdk.String("weekly")
		if len(days) == 0 {
			days = []sdk.Value{sdk.String(weekdays[st.Weekday()])}
		}
		r["days_of_week"] = sdk.List(days...)
		if w := dayName(parts["WKST"]); w != "" {
			r["first_day_of_week"] = sdk.String(w)
		}
	case "MONTHLY":
		if relative {
			r["pattern"], r["days_of_week"], r["index"] = sdk.String("relative_monthly"), sdk.List(days...), sdk.String(index)
		} else {
			r["pattern"], r["day_of_month"] = sdk.String("absolute_monthly"), sdk.Int(int64(dom))
		}
	case "YEARLY":
		r["month"] = sdk.Int(int64(month))
		if relative {
			r["pattern"], r["days_of_week"], r["index"] = sdk.String("relative_yearly"), sdk.List(days...), sdk.String(index)
		} else {
			r["pattern"], r["day_of_month"] = sdk.String("absolute_yearly"), sdk.Int(int64(dom))
		}
	default:
		return sdk.Null, fmt.Errorf("RRULE %q: FREQ=%s has no canonical pattern", p.Value, parts["FREQ"])
	}
	r["start_date"] = sdk.String(st.Format(time.DateOnly))
	if z := start.Zone(); z != "" {
		r["zone"] = sdk.String(z)
	}
	switch {
	case parts["COUNT"] != "":
		n, err := strconv.Atoi(parts["COUNT"])
		if err != nil {
			return sdk.Null, fmt.Errorf("RRULE %q: COUNT", p.Value)
		}
		r["range"], r["count"] = sdk.String("numbered"), sdk.Int(int64(n))
	case parts["UNTIL"] != "":
		until := ical.NewProp("UNTIL")
		until.Value = parts["UNTIL"]
		v, _, err := readTime(until, allDayZone)
		if err != nil {
			return sdk.Null, err
		}
		r["range"], r["end_date"] = sdk.String("end_date"), sdk.String(v.TimeVal().In(st.Location()).Format(time.DateOnly))
	default:
		r["range"] = sdk.String("no_end")
	}

	var cancelled []sdk.Value
	for _, ex := range m.Props.Values(ical.PropExceptionDates) {
		for _, val := range strings.Split(ex.Value, ",") {
			one := ex
			one.Value = val
			v, _, err := readTime(&one, allDayZone)
			if err != nil {
				return sdk.Null, err
			}
			cancelled = append(cancelled, v)
		}
	}
	if len(cancelled) > 0 {
		r["cancelled"] = sdk.List(cancelled...)
	}
	var exceptions []sdk.Value
	for _, c := range it.cal.Children {
		rid := c.Props.Get(ical.PropRecurrenceID)
		if c.Name != m.Name || rid == nil {
			continue
		}
		x := map[string]sdk.Value{}
		for field, prop := range map[string]*ical.Prop{"original_start": rid, "start": c.Props.Get(ical.PropDateTimeStart), "end": c.Props.Get(ical.PropDateTimeEnd)} {
			v, _, err := readTime(prop, allDayZone)
			if err != nil {
				return sdk.Null, err
			}
			if !v.IsNull() {
				x[field] = v
			}
		}
		if s := text(c, ical.PropSummary); s != text(m, ical.PropSummary) {
			x["subject"] = sdk.String(s)
		}
		if s := text(c, ical.PropLocation); s != text(m, ical.PropLocation) {
			x["location"] = sdk.String(s)
		}
		exceptions = append(exceptions, sdk.Map(x))
	}
	if len(exceptions) > 0 {
		r["exceptions"] = sdk.List(exceptions...)
	}
	return sdk.Map(r), nil
}

// writeRecurrence sets RRULE and EXDATE on the master and returns one
// override component per exception: a copy of the master's properties with
// its own RECURRENCE-ID, start, end, subject and location.
func writeRecurrence(m *ical.Component, f sdk.Fields, allDay bool, zones map[string]bool) ([]*ical.Component, error) {
	r := f["recurrence"].MapVal()
	if r == nil {
		return nil, nil
	}
	pattern := r["pattern"].Str()
	freq, ok := freqPattern[pattern]
	if !ok {
		return nil, fmt.Errorf("recurrence pattern %q has no iCalendar FREQ", pattern)
	}
	rule := []string{"FREQ=" + freq}
	if n := r["interval"].IntVal(); n > 1 {
		rule = append(rule, "INTERVAL="+strconv.FormatInt(n, 10))
	}
	var days []string
	for _, d := range r["days_of_week"].ListVal() {
		if x := icalDay(d.Str()); x != "" {
			days = append(days, x)
		}
	}
	if strings.HasSuffix(pattern, "yearly") {
		rule = append(rule, "BYMONTH="+strconv.FormatInt(r["month"].IntVal(), 10))
	}
	switch pattern {
	case "weekly":
		if len(days) > 0 {
			rule = append(rule, "BYDAY="+strings.Join(days, ","))
		}
		if w := icalDay(r["first_day_of_week"].Str()); w != "" {
			rule = append(rule, "WKST="+w)
		}
	case "absolute_monthly", "absolute_yearly":
		rule = append(rule, "BYMONTHDAY="+strconv.FormatInt(r["day_of_month"].IntVal(), 10))
	case "relative_monthly", "relative_yearly":
		if len(days) == 0 {
			return nil, fmt.Errorf("a %s recurrence needs days_of_week", pattern)
		}
		rule = append(rule, "BYDAY="+strings.Join(days, ","), "BYSETPOS="+strconv.Itoa(indexes[r["index"].Str()]))
	}
	start := f["start"]
	switch r["range"].Str() {
	case "numbered":
		rule = append(rule, "COUNT="+strconv.FormatInt(r["count"].IntVal(), 10))
	case "end_date":
		end, err := time.ParseInLocation(time.DateOnly, r["end_date"].Str(), start.TimeVal().Location())
		if err != nil {
			return nil, fmt.Errorf("recurrence end_date %q: %w", r["end_date"].Str(), err)
		}
		if allDay {
			rule = append(rule, "UNTIL="+end.Format("20060102"))
		} else { // the series' last day, to its end, as UTC (RFC 5545 3.3.10)
			rule = append(rule, "UNTIL="+end.Add(24*time.Hour-time.Second).UTC().Format("20060102T150405Z"))
		}
	}
	p := ical.NewProp(ical.PropRecurrenceRule)
	p.SetValueType(ical.ValueRecurrence)
	p.Value = strings.Join(rule, ";")
	m.Props.Set(p)
	for _, c := range r["cancelled"].ListVal() {
		m.Props.Add(timeProp(ical.PropExceptionDates, c, allDay, zones))
	}
	var out []*ical.Component
	for _, xv := range r["exceptions"].ListVal() {
		x := xv.MapVal()
		if x["original_start"].IsNull() {
			continue
		}
		o := ical.NewComponent(m.Name)
		for name, props := range m.Props {
			switch name {
			case ical.PropRecurrenceRule, ical.PropExceptionDates, ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration:
				continue
			}
			o.Props[name] = append([]ical.Prop(nil), props...)
		}
		o.Props.Set(timeProp(ical.PropRecurrenceID, x["original_start"], allDay, zones))
		for field, prop := range map[string]string{"start": ical.PropDateTimeStart, "end": ical.PropDateTimeEnd} {
			if !x[field].IsNull() {
				o.Props.Set(timeProp(prop, x[field], allDay, zones))
			}
		}
		if s, ok := x["subject"]; ok && !s.IsNull() {
			o.Props.SetText(ical.PropSummary, s.Str())
		}
		if s, ok := x["location"]; ok && !s.IsNull() {
			o.Props.SetText(ical.PropLocation, s.Str())
		}
		out = append(out, o)
	}
	return out, nil
}
