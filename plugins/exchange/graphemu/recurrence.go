package graphemu

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	_ "time/tzdata" // Windows zone names map to IANA zones, which must load anywhere

	"github.com/syncgate/syncgate/internal/winzones"
)

// graphDateTime is how Graph writes dateTimeTimeZone.dateTime: no offset,
// seven fractional digits.
const graphDateTime = "2006-01-02T15:04:05.0000000"

// zones caches loaded locations: time.LoadLocation reads the zone data
// each time, and calendar views resolve zones for every event on every page.
var zones sync.Map // name → *time.Location

// loadZone resolves a Windows or IANA zone name as Graph accepts it.
func loadZone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	iana, ok := winzones.IANA(name)
	if !ok {
		return nil, fmt.Errorf("A valid TimeZone value must be specified. The following TimeZone value is not supported: '%s'.", name)
	}
	loc, err := time.LoadLocation(iana)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// parseDTZ reads a dateTimeTimeZone value into an instant.
func parseDTZ(v any) (time.Time, error) {
	obj, _ := v.(map[string]any)
	dt, _ := obj["dateTime"].(string)
	tz, _ := obj["timeZone"].(string)
	if dt == "" || tz == "" {
		return time.Time{}, fmt.Errorf("a dateTimeTimeZone needs both dateTime and timeZone")
	}
	loc, err := loadZone(tz)
	if err != nil {
		return time.Time{}, err
	}
	if t, err := time.Parse(time.RFC3339Nano, dt); err == nil {
		return t, nil // an explicit offset wins over timeZone
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", dt, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("Cannot convert the literal '%s' to the expected type 'Edm.DateTime'.", dt)
	}
	return t, nil
}

// dtz renders an instant as a dateTimeTimeZone in the named zone.
func dtz(t time.Time, zone string) map[string]any {
	if loc, err := loadZone(zone); err == nil {
		t = t.In(loc)
	} else {
		t, zone = t.UTC(), "UTC"
	}
	return map[string]any{"dateTime": t.Format(graphDateTime), "timeZone": zone}
}

// series is a parsed patternedRecurrence anchored at its master's start.
type series struct {
	typ            string
	interval       int
	month          int
	dayOfMonth     int
	daysOfWeek     []time.Weekday
	firstDayOfWeek time.Weekday
	index          string
	rangeType      string
	startDate      time.Time // midnight, in loc
	endDate        time.Time
	count          int
	loc            *time.Location
	hour, min, sec int
	duration       time.Duration
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// parseSeries checks a recurrence against an event's start and end and
// returns the series it describes, or an error worded like Graph's.
func parseSeries(rec map[string]any, start, end time.Time, startZone string) (*series, error) {
	pat, _ := rec["pattern"].(map[string]any)
	rng, _ := rec["range"].(map[string]any)
	if pat == nil || rng == nil {
		return nil, fmt.Errorf("a recurrence needs both pattern and range")
	}
	s := &series{duration: end.Sub(start)}
	s.typ, _ = pat["type"].(string)
	s.interval = intOf(pat["interval"], 1)
	s.month = intOf(pat["month"], 0)
	s.dayOfMonth = intOf(pat["dayOfMonth"], 0)
	s.index, _ = pat["index"].(string)
	if s.index == "" {
		s.index = "first"
	}
	fdw, _ := pat["firstDayOfWeek"].(string)
	s.firstDayOfWeek = weekdays[strings.ToLower(fdw)] // sunday when absent
	days, _ := pat["daysOfWeek"].([]any)
	for _, d := range days {
		name, _ := d.(string)
		s.daysOfWeek = append(s.daysOfWeek, weekdays[strings.ToLower(name)])
	}
	if s.interval < 1 {
		return nil, fmt.Errorf("recurrence.pattern.interval must be at least 1")
	}
	switch s.typ {
	case "daily":
	case "weekly", "relativeMonthly":
		if len(s.daysOfWeek) == 0 {
			return nil, fmt.Errorf("a %s recurrence pattern needs daysOfWeek", s.typ)
		}
	case "absoluteMonthly":
		if s.dayOfMonth < 1 || s.dayOfMonth > 31 {
			return nil, fmt.Errorf("an absoluteMonthly recurrence pattern needs dayOfMonth between 1 and 31")
		}
	case "absoluteYearly":
		if s.dayOfMonth < 1 || s.month < 1 || s.month > 12 {
			return nil, fmt.Errorf("an absoluteYearly recurrence pattern needs month and dayOfMonth")
		}
	case "relativeYearly":
		if len(s.daysOfWeek) == 0 || s.month < 1 || s.month > 12 {
			return nil, fmt.Errorf("a relativeYearly recurrence pattern needs month and daysOfWeek")
		}
	default:
		return nil, fmt.Errorf("recurrence.pattern.type %q is not a recurrencePatternType", s.typ)
	}
	zone, _ := rng["recurrenceTimeZone"].(string)
	if zone == "" {
		zone = startZone
	}
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	s.loc = loc
	ls := start.In(loc)
	s.hour, s.min, s.sec = ls.Clock()
	s.rangeType, _ = rng["type"].(string)
	sd, _ := rng["startDate"].(string)
	if s.startDate, err = time.ParseInLocation(time.DateOnly, sd, loc); err != nil {
		return nil, fmt.Errorf("recurrence.range.startDate %q must be a date (yyyy-mm-dd)", sd)
	}
	switch s.rangeType {
	case "endDate":
		ed, _ := rng["endDate"].(string)
		if s.endDate, err = time.ParseInLocation(time.DateOnly, ed, loc); err != nil || s.endDate.Before(s.startDate) {
			return nil, fmt.Errorf("recurrence.range.endDate %q must be a date on or after startDate", ed)
		}
	case "numbered":
		if s.count = intOf(rng["numberOfOccurrences"], 0); s.count < 1 {
			return nil, fmt.Errorf("a numbered recurrence range needs numberOfOccurrences of at least 1")
		}
	case "noEnd":
	default:
		return nil, fmt.Errorf("recurrence.range.type %q is not a recurrenceRangeType", s.rangeType)
	}
	return s, nil
}

func intOf(v any, def int) int {
	if f, ok := v.(float64); ok {
		return int(f)
	}
	return def
}

// maxExpansion bounds how many occurrences one expansion walks through,
// so that a daily series without end cannot stall a request.
const maxExpansion = 20000

// starts returns the original start instants of the series' occurrences
// that overlap [from, to), in order.
func (s *series) starts(from, to time.Time) []time.Time {
	var out []time.Time
	n := 0
	for period := 0; n < maxExpansion; period++ {
		dates := s.period(period)
		if dates == nil {
			return out
		}
		for _, d := range dates {
			if d.Before(s.startDate) {
				continue
			}
			if s.rangeType == "endDate" && d.After(s.endDate) {
				return out
			}
			if s.rangeType == "numbered" && n >= s.count {
				return out
			}
			n++
			st := time.Date(d.Year(), d.Month(), d.Day(), s.hour, s.min, s.sec, 0, s.loc)
			if !st.Before(to) {
				return out
			}
			if st.Add(s.duration).After(from) || (s.duration == 0 && !st.Before(from)) {
				out = append(out, st.UTC())
			}
		}
	}
	return out
}

// period returns the candidate dates of the n-th period (day, week, month
// or year, stepping by interval), or nil past the calendar's end.
func (s *series) period(n int) []time.Time {
	sd := s.startDate
	if sd.Year() > 9000 {
		return nil
	}
	k := n * s.interval
	switch s.typ {
	case "daily":
		return []time.Time{sd.AddDate(0, 0, k)}
	case "weekly":
		back := (int(sd.Weekday()) - int(s.firstDayOfWeek) + 7) % 7
		weekStart := sd.AddDate(0, 0, -back+7*k)
		var out []time.Time
		for _, wd := range s.daysOfWeek {
			out = append(out, weekStart.AddDate(0, 0, (int(wd)-int(s.firstDayOfWeek)+7)%7))
		}
		slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
		return slices.Compact(out)
	case "absoluteMonthly":
		first := time.Date(sd.Year(), sd.Month()+time.Month(k), 1, 0, 0, 0, 0, s.loc)
		return s.dayIn(first, s.dayOfMonth)
	case "relativeMonthly":
		first := time.Date(sd.Year(), sd.Month()+time.Month(k), 1, 0, 0, 0, 0, s.loc)
		return s.relative(first)
	case "absoluteYearly":
		first := time.Date(sd.Year()+k, time.Month(s.month), 1, 0, 0, 0, 0, s.loc)
		return s.dayIn(first, s.dayOfMonth)
	case "relativeYearly":
		first := time.Date(sd.Year()+k, time.Month(s.month), 1, 0, 0, 0, 0, s.loc)
		return s.relative(first)
	}
	return nil
}

// dayIn returns day of first's month, or no date when the month is too
// short (Exchange skips such months).
func (s *series) dayIn(first time.Time, day int) []time.Time {
	d := first.AddDate(0, 0, day-1)
	if d.Month() != first.Month() {
		return []time.Time{}
	}
	return []time.Time{d}
}

// relative returns the index-th (first … fourth, last) of the pattern's
// week days in first's month.
func (s *series) relative(first time.Time) []time.Time {
	var out []time.Time
	for _, wd := range s.daysOfWeek {
		d := first.AddDate(0, 0, (int(wd)-int(first.Weekday())+7)%7)
		switch s.index {
		case "second":
			d = d.AddDate(0, 0, 7)
		case "third":
			d = d.AddDate(0, 0, 14)
		case "fourth":
			d = d.AddDate(0, 0, 21)
		case "last":
			for d.AddDate(0, 0, 7).Month() == first.Month() {
				d = d.AddDate(0, 0, 7)
			}
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// fullRecurrence fills a recurrence the way Graph returns it: every
// pattern and range property present, defaults where the client sent none.
func fullRecurrence(rec map[string]any, startZone string) map[string]any {
	if rec == nil {
		return nil
	}
	pat, _ := rec["pattern"].(map[string]any)
	rng, _ := rec["range"].(map[string]any)
	p := map[string]any{"type": nil, "interval": 1.0, "month": 0.0, "dayOfMonth": 0.0, "daysOfWeek": []any{}, "firstDayOfWeek": "sunday", "index": "first"}
	for k, v := range pat {
		if v != nil {
			p[k] = v
		}
	}
	r := map[string]any{"type": nil, "startDate": nil, "endDate": "0001-01-01", "recurrenceTimeZone": startZone, "numberOfOccurrences": 0.0}
	for k, v := range rng {
		if v != nil {
			r[k] = v
		}
	}
	return map[string]any{"pattern": p, "range": r}
}
