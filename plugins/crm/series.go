package crm

import (
	"context"
	"net/url"
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// A recurring series is a recurringappointmentmaster row: the first
// occurrence's times, the pattern in its own columns, and the parties of
// the series. Its item ids carry the "series:" prefix, since the entity
// spans two tables.
var seriesTable = &table{
	set: "recurringappointmentmasters", logical: "recurringappointmentmaster", key: "activityid", prefix: seriesPrefix,
	partyNav: "recurringappointmentmaster_activity_parties", partyMasks: meetingMasks, routeMasks: meetingMasks, partyFields: meetingParties,
	cols: append(activityColumns(), "starttime", "endtime", "isalldayevent", "location", "globalobjectid",
		"recurrencepatterntype", "interval", "daysofweekmask", "dayofmonth", "monthofyear", "instance", "firstdayofweek",
		"patternstartdate", "patternenddate", "patternendtype", "occurrences", "isnthmonthly", "isnthyearly", "isweekdaypattern"),
	read:       readSeries,
	write:      writeSeries,
	version:    seriesVersionOf,
	afterWrite: writeExceptions,
}

const seriesPrefix = "series:"

// instancetypecode of an occurrence edited on its own.
const instanceException = 3

// appointmentOrSeries sends an appointment with a recurrence to the series
// table.
func appointmentOrSeries(f sdk.Fields) *table {
	if f["recurrence"].Kind() == sdk.KindMap {
		return seriesTable
	}
	return appointmentTable
}

var weekdays = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"} // mask bit i, firstdayofweek i

var instances = []string{"", "first", "second", "third", "fourth", "last"} // instance 1-5

// Pattern types and end types of recurringappointmentmaster.
const (
	patternDaily, patternWeekly, patternMonthly, patternYearly = 0, 1, 2, 3
	endNone, endOccurrences, endDate                           = 1, 2, 3
)

func readSeries(c *Connector, _ *table, r row, ps []party) (sdk.Fields, error) {
	f := c.readMeeting(r, ps, "starttime", "endtime")
	rec, err := readRecurrence(r, c.rowZone(r))
	if err != nil {
		return nil, err
	}
	f["recurrence"] = rec
	return f, nil
}

// readRecurrence maps the pattern columns to the canonical recurrence.
func readRecurrence(r row, zone string) (sdk.Value, error) {
	m := map[string]sdk.Value{}
	typ, _ := r.int("recurrencepatterntype")
	interval, ok := r.int("interval")
	if !ok || interval < 1 {
		interval = 1
	}
	m["interval"] = sdk.Int(interval)
	mask, _ := r.int("daysofweekmask")
	days := func() sdk.Value {
		var ds []string
		for i, d := range weekdays {
			if mask&(1<<i) != 0 {
				ds = append(ds, d)
			}
		}
		return sdk.Strings(ds...)
	}
	index := func() {
		if n, ok := r.int("instance"); ok && n >= 1 && int(n) < len(instances) {
			m["index"] = sdk.String(instances[n])
		}
	}
	nthMonthly, _ := r.bool("isnthmonthly")
	nthYearly, _ := r.bool("isnthyearly")
	weekday, _ := r.bool("isweekdaypattern")
	switch {
	case typ == patternDaily && weekday:
		// "Every weekday" is a weekly pattern in the canonical model.
		m["pattern"], m["days_of_week"] = sdk.String("weekly"), sdk.Strings("monday", "tuesday", "wednesday", "thursday", "friday")
	case typ == patternDaily:
		m["pattern"] = sdk.String("daily")
	case typ == patternWeekly:
		m["pattern"], m["days_of_week"] = sdk.String("weekly"), days()
		if fd, ok := r.int("firstdayofweek"); ok && fd >= 0 && int(fd) < len(weekdays) {
			m["first_day_of_week"] = sdk.String(weekdays[fd])
		}
	case typ == patternMonthly && nthMonthly:
		m["pattern"], m["days_of_week"] = sdk.String("relative_monthly"), days()
		index()
	case typ == patternMonthly:
		m["pattern"] = sdk.String("absolute_monthly")
		if d, ok := r.int("dayofmonth"); ok {
			m["day_of_month"] = sdk.Int(d)
		}
	case typ == patternYearly && nthYearly:
		m["pattern"], m["days_of_week"] = sdk.String("relative_yearly"), days()
		index()
		if mo, ok := r.int("monthofyear"); ok {
			m["month"] = sdk.Int(mo)
		}
	case typ == patternYearly:
		m["pattern"] = sdk.String("absolute_yearly")
		if d, ok := r.int("dayofmonth"); ok {
			m["day_of_month"] = sdk.Int(d)
		}
		if mo, ok := r.int("monthofyear"); ok {
			m["month"] = sdk.Int(mo)
		}
	default:
		return sdk.Null, errf("recurrencepatterntype %d is not one Dataverse documents (0-3)", typ)
	}
	if d := r.str("patternstartdate"); len(d) >= 10 {
		m["start_date"] = sdk.String(d[:10])
	}
	end, _ := r.int("patternendtype")
	switch end {
	case endOccurrences:
		m["range"] = sdk.String("numbered")
		if n, ok := r.int("occurrences"); ok {
			m["count"] = sdk.Int(n)
		}
	case endDate:
		m["range"] = sdk.String("end_date")
		if d := r.str("patternenddate"); len(d) >= 10 {
			m["end_date"] = sdk.String(d[:10])
		}
	default:
		m["range"] = sdk.String("no_end")
	}
	if zone != "" {
		m["zone"] = sdk.String(zone)
	}
	return sdk.Map(m), nil
}

func writeSeries(c *Connector, t *table, f sdk.Fields, old []party) (row, error) {
	out, err := c.writeMeeting(f, old, t)
	if err != nil {
		return nil, err
	}
	v, ok := f["recurrence"]
	if !ok {
		return out, nil
	}
	if v.IsNull() {
		return nil, errf("a Dataverse series cannot become a single appointment; delete the series and create the appointment")
	}
	if err := writeRecurrence(v.MapVal(), out); err != nil {
		return nil, err
	}
	return out, nil
}

// writeRecurrence maps the canonical recurrence to the pattern columns.
// Exceptions and cancelled occurrences are not written (see README.md).
func writeRecurrence(m map[string]sdk.Value, out row) error {
	interval := m["interval"].IntVal()
	if interval < 1 {
		interval = 1
	}
	out["interval"] = interval
	var mask int64
	for _, d := range m["days_of_week"].ListVal() {
		for i, w := range weekdays {
			if d.Str() == w {
				mask |= 1 << i
			}
		}
	}
	index := int64(0)
	for i, name := range instances {
		if i > 0 && m["index"].Str() == name {
			index = int64(i)
		}
	}
	out["isweekdaypattern"] = false
	switch p := m["pattern"].Str(); p {
	case "daily":
		out["recurrencepatterntype"] = patternDaily
	case "weekly":
		out["recurrencepatterntype"], out["daysofweekmask"] = patternWeekly, mask
		for i, w := range weekdays {
			if m["first_day_of_week"].Str() == w {
				out["firstdayofweek"] = i
			}
		}
	case "absolute_monthly":
		out["recurrencepatterntype"], out["isnthmonthly"], out["dayofmonth"] = patternMonthly, false, m["day_of_month"].IntVal()
	case "relative_monthly":
		out["recurrencepatterntype"], out["isnthmonthly"], out["daysofweekmask"], out["instance"] = patternMonthly, true, mask, index
	case "absolute_yearly":
		out["recurrencepatterntype"], out["isnthyearly"] = patternYearly, false
		out["dayofmonth"], out["monthofyear"] = m["day_of_month"].IntVal(), m["month"].IntVal()
	case "relative_yearly":
		out["recurrencepatterntype"], out["isnthyearly"], out["daysofweekmask"], out["instance"] = patternYearly, true, mask, index
		out["monthofyear"] = m["month"].IntVal()
	default:
		return errf("recurrence pattern %q is not one of the canonical patterns", p)
	}
	if d := m["start_date"].Str(); d != "" {
		out["patternstartdate"] = d + "T00:00:00Z"
	}
	switch r := m["range"].Str(); r {
	case "numbered":
		out["patternendtype"], out["occurrences"] = endOccurrences, m["count"].IntVal()
	case "end_date":
		if m["end_date"].Str() == "" {
			return errf("a recurrence with range end_date needs an end_date")
		}
		out["patternendtype"], out["patternenddate"] = endDate, m["end_date"].Str()+"T00:00:00Z"
	case "no_end", "":
		out["patternendtype"] = endNone
	default:
		return errf("recurrence range %q is not one of end_date, no_end, numbered", r)
	}
	if z := m["zone"].Str(); z != "" {
		if code, ok := codeOfZone(z); ok {
			out[zoneColumn] = code
		}
	}
	return nil
}

// Edited occurrences. Dataverse keeps a series' occurrences as appointment
// rows with its seriesid; one edited on its own becomes an exception
// (instancetypecode 3) that keeps its original start. They are read into
// recurrence.exceptions, and their versions into the series' version, so
// that an edited occurrence is a change of the series.

var exceptionColumns = []string{"activityid", "seriesid", "versionnumber", "originalstartdate", "scheduledstart", "scheduledend", "subject", "location"}

// seriesExceptions reads the exceptions of the given series, by series id.
func (c *Connector) seriesExceptions(ctx context.Context, cl *client, ids []string, caller string) (map[string][]row, error) {
	out := map[string][]row{}
	for _, f := range orFilters(ids, partyBatch, func(id string) string { return "seriesid eq " + id }) {
		filter := f + " and instancetypecode eq 3"
		rows, err := cl.list(ctx, "appointments?$select="+strings.Join(exceptionColumns, ",")+"&$filter="+url.QueryEscape(filter), caller)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			s := strings.ToLower(r.str("seriesid"))
			out[s] = append(out[s], r)
		}
	}
	return out, nil
}

// seriesVersion is a series' version: its master row's, followed by the
// highest version among its exceptions when it has any.
func seriesVersion(master string, exceptions []row) string {
	var top int64
	for _, r := range exceptions {
		if v, ok := r.int("versionnumber"); ok && v > top {
			top = v
		}
	}
	if top == 0 {
		return master
	}
	return master + "." + itoa(top)
}

// masterVersion is the row version inside an item version: what If-Match
// compares.
func masterVersion(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

func seriesVersionOf(ctx context.Context, c *Connector, cl *client, id, rowVersion, caller string) (string, error) {
	exc, err := c.seriesExceptions(ctx, cl, []string{strings.ToLower(id)}, caller)
	if err != nil {
		return "", err
	}
	return seriesVersion(rowVersion, exc[strings.ToLower(id)]), nil
}

// addExceptions puts a series' exceptions into its recurrence: the
// original start, the new times, and the subject and location where they
// differ from the series'.
func addExceptions(f sdk.Fields, exceptions []row, zone string) {
	rec := f["recurrence"].MapVal()
	if rec == nil || len(exceptions) == 0 {
		return
	}
	var list []sdk.Value
	for _, r := range exceptions {
		m := map[string]sdk.Value{}
		for field, col := range map[string]string{"original_start": "originalstartdate", "start": "scheduledstart", "end": "scheduledend"} {
			if v, ok := readTime(r, col, zone); ok {
				m[field] = v
			}
		}
		for field, col := range map[string]string{"subject": "subject", "location": "location"} {
			if s := r.str(col); s != "" && s != f[field].Str() {
				m[field] = sdk.String(s)
			}
		}
		list = append(list, sdk.Map(m))
	}
	rec["exceptions"] = sdk.List(list...)
	f["recurrence"] = sdk.Map(rec)
}

// writeExceptions changes the occurrences that the recurrence's exceptions
// name by their original start: their times, and their subject and
// location where the exception gives them. The series row is written
// first, so its occurrences are those of the new pattern. An exception
// whose occurrence the series does not have is reported and left out.
func writeExceptions(ctx context.Context, c *Connector, cl *client, id string, f sdk.Fields, caller string) (bool, error) {
	exceptions := f["recurrence"].MapVal()["exceptions"].ListVal()
	if len(exceptions) == 0 {
		return false, nil
	}
	rows, err := cl.list(ctx, "appointments?$select=activityid,originalstartdate&$filter="+url.QueryEscape("seriesid eq "+id), caller)
	if err != nil {
		return false, err
	}
	byStart := map[int64]string{}
	for _, r := range rows {
		if t, ok := r.time("originalstartdate"); ok {
			byStart[t.Unix()] = r.str("activityid")
		}
	}
	for _, x := range exceptions {
		m := x.MapVal()
		occ, ok := byStart[m["original_start"].UnixNanos()/1e9]
		if !ok || !isGUID(occ) {
			c.warn("a series exception names no occurrence of the series; it is not written", "series", id, "original_start", m["original_start"])
			continue
		}
		body := row{}
		for field, col := range map[string]string{"start": "scheduledstart", "end": "scheduledend"} {
			if v := m[field]; !v.IsNull() {
				body[col] = utc(v)
			}
		}
		for _, field := range []string{"subject", "location"} {
			if v := m[field]; !v.IsNull() {
				body[field] = v.Str()
			}
		}
		if _, err := cl.do(ctx, request{method: "PATCH", url: "appointments(" + occ + ")", body: body, caller: caller,
			header: map[string]string{"If-Match": "*"}}); err != nil {
			return false, err
		}
	}
	return true, nil
}
