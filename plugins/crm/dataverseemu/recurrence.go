package dataverseemu

import "time"

// Recurrence pattern codes of recurringappointmentmaster
// (recurrencepatterntype, patternendtype, instancetypecode).
const (
	patternDaily   = 0
	patternWeekly  = 1
	patternMonthly = 2
	patternYearly  = 3

	endNoEndDate   = 1
	endOccurrences = 2
	endByDate      = 3

	instanceNotRecurring = 0
	instanceMaster       = 1
	instanceRecurring    = 2
	instanceException    = 3

	// The service expands a series without an end only into a window ahead
	// and the rest later; the emulator expands one year and at most
	// maxInstances occurrences.
	expansionWindow = 365 * 24 * time.Hour
	maxInstances    = 500
)

// series is a recurrence pattern read from a master row.
type series struct {
	kind, interval, mask, dayOfMonth, month, instance, firstDay int
	nthMonthly, nthYearly, weekdays                             bool
	start                                                       time.Time // first day the pattern may match, midnight UTC
	tod                                                         time.Duration
	duration                                                    time.Duration
	endType, occurrences                                        int
	end                                                         time.Time
}

func intVal(r *row, col string, def int) int {
	if v, ok := r.vals[col].(int64); ok {
		return int(v)
	}
	return def
}

func boolVal(r *row, col string) bool { b, _ := r.vals[col].(bool); return b }

func timeVal(r *row, col string) (time.Time, bool) {
	s, _ := r.vals[col].(string)
	if s == "" {
		return time.Time{}, false
	}
	return parseTime(s)
}

func readSeries(m *row) (series, bool) {
	s := series{
		kind: intVal(m, "recurrencepatterntype", patternWeekly), interval: intVal(m, "interval", 1),
		mask: intVal(m, "daysofweekmask", 0), dayOfMonth: intVal(m, "dayofmonth", 0),
		month: intVal(m, "monthofyear", 0), instance: intVal(m, "instance", 1),
		firstDay: intVal(m, "firstdayofweek", 0), nthMonthly: boolVal(m, "isnthmonthly"),
		nthYearly: boolVal(m, "isnthyearly"), weekdays: boolVal(m, "isweekdaypattern"),
		occurrences: intVal(m, "occurrences", 0),
	}
	if s.interval < 1 {
		s.interval = 1
	}
	startAt, ok := timeVal(m, "starttime")
	if !ok {
		startAt, ok = timeVal(m, "scheduledstart")
	}
	ps, okp := timeVal(m, "patternstartdate")
	if !okp {
		if !ok {
			return s, false
		}
		ps = startAt
	}
	s.start = time.Date(ps.Year(), ps.Month(), ps.Day(), 0, 0, 0, 0, time.UTC)
	if ok {
		s.tod = time.Duration(startAt.Hour())*time.Hour + time.Duration(startAt.Minute())*time.Minute
	}
	s.duration = time.Duration(intVal(m, "duration", 0)) * time.Minute
	if s.duration == 0 {
		if et, okE := timeVal(m, "endtime"); okE && ok && et.After(startAt) {
			s.duration = et.Sub(startAt)
		} else {
			s.duration = 30 * time.Minute
		}
	}
	s.endType = intVal(m, "patternendtype", 0)
	if pe, ok := timeVal(m, "patternenddate"); ok {
		s.end = time.Date(pe.Year(), pe.Month(), pe.Day(), 23, 59, 59, 0, time.UTC)
		if s.endType == 0 {
			s.endType = endByDate
		}
	}
	if s.endType == 0 && s.occurrences > 0 {
		s.endType = endOccurrences
	}
	if s.endType == 0 {
		s.endType = endNoEndDate
	}
	if s.mask == 0 && (s.kind == patternWeekly) {
		s.mask = 1 << int(s.start.Weekday())
	}
	if s.dayOfMonth == 0 {
		s.dayOfMonth = s.start.Day()
	}
	if s.month == 0 {
		s.month = int(s.start.Month())
	}
	return s, true
}

// occurrences lists the start times the pattern produces.
func (s series) dates() []time.Time {
	limit := s.start.Add(expansionWindow)
	if s.endType == endByDate && s.end.Before(limit) {
		limit = s.end
	}
	if s.endType == endOccurrences {
		limit = s.start.AddDate(10*s.interval+10, 0, 0)
	}
	var out []time.Time
	for d := s.start; !d.After(limit); d = d.AddDate(0, 0, 1) {
		if !s.matches(d) {
			continue
		}
		out = append(out, d.Add(s.tod))
		if len(out) >= maxInstances || (s.endType == endOccurrences && len(out) >= s.occurrences) {
			break
		}
	}
	return out
}

func (s series) matches(d time.Time) bool {
	inMask := s.mask&(1<<int(d.Weekday())) != 0
	switch s.kind {
	case patternDaily:
		if s.weekdays {
			return d.Weekday() != time.Saturday && d.Weekday() != time.Sunday
		}
		return int(d.Sub(s.start).Hours()/24)%s.interval == 0
	case patternWeekly:
		weekStart := func(t time.Time) time.Time {
			back := (int(t.Weekday()) - s.firstDay + 7) % 7
			return t.AddDate(0, 0, -back)
		}
		weeks := int(weekStart(d).Sub(weekStart(s.start)).Hours() / 24 / 7)
		return inMask && weeks%s.interval == 0
	case patternMonthly:
		months := (d.Year()-s.start.Year())*12 + int(d.Month()) - int(s.start.Month())
		if months%s.interval != 0 {
			return false
		}
		if s.nthMonthly {
			return inMask && nth(d, s.instance)
		}
		return d.Day() == s.dayOfMonth
	case patternYearly:
		if int(d.Month()) != s.month || (d.Year()-s.start.Year())%s.interval != 0 {
			return false
		}
		if s.nthYearly {
			return inMask && nth(d, s.instance)
		}
		return d.Day() == s.dayOfMonth
	}
	return false
}

// nth reports whether d is the instance-th of its weekday in its month
// (instance 5 = the last).
func nth(d time.Time, instance int) bool {
	if instance == 5 {
		return d.AddDate(0, 0, 7).Month() != d.Month()
	}
	return (d.Day()-1)/7+1 == instance
}

// expandSeries replaces the instance appointments of master m: Dataverse
// creates one appointment per occurrence with seriesid = the master's
// activityid and instancetypecode 2 (Recurring Instance), carrying the
// master's subject, location, owner and parties.
func (e *Emulator) expandSeries(m *row) {
	id := m.vals["activityid"].(string)
	e.removeInstances(id)
	m.vals["instancetypecode"] = int64(instanceMaster)
	m.vals["seriesid"] = id
	s, ok := readSeries(m)
	if !ok {
		return
	}
	dates := s.dates()
	at := e.schema["appointments"]
	masterParties := e.childrenOf(e.schema["recurringappointmentmasters"].manys["recurringappointmentmaster_activity_parties"], id)
	for _, start := range dates {
		r := e.newRow(at, newID(), m.kinds["_ownerid_value"], m.vals["_ownerid_value"])
		copySeriesColumns(m, r)
		r.vals["seriesid"] = id
		r.vals["instancetypecode"] = int64(instanceRecurring)
		r.vals["scheduledstart"] = start.Format(timeLayout)
		r.vals["scheduledend"] = start.Add(s.duration).Format(timeLayout)
		r.vals["originalstartdate"] = start.Format(timeLayout)
		e.derive(at, r)
		e.data["appointments"].rows[r.vals["activityid"].(string)] = r
		e.bump(r)
		e.copyParties(masterParties, r)
	}
	if len(dates) > 0 {
		m.vals["effectivestartdate"] = dates[0].Format(timeLayout)
		m.vals["effectiveenddate"] = dates[len(dates)-1].Add(s.duration).Format(timeLayout)
		m.vals["scheduledstart"] = dates[0].Format(timeLayout)
		m.vals["scheduledend"] = dates[0].Add(s.duration).Format(timeLayout)
		m.vals["lastexpandedinstancedate"] = dates[len(dates)-1].Format(timeLayout)
	}
	m.vals["expansionstatecode"] = int64(2) // full
}

// seriesColumns are what instances take from their master.
var seriesColumns = []string{"subject", "description", "location", "isalldayevent", "prioritycode",
	"importance", "category", "subcategory", "_regardingobjectid_value", "_ownerid_value"}

// patternColumns are the master's recurrence information: changing any of
// them regenerates the instances.
var patternColumns = []string{"recurrencepatterntype", "interval", "daysofweekmask", "dayofmonth",
	"monthofyear", "instance", "firstdayofweek", "patternstartdate", "patternenddate", "patternendtype",
	"occurrences", "starttime", "endtime", "duration", "isnthmonthly", "isnthyearly", "isweekdaypattern",
	"isregenerate", "isalldayevent"}

func copySeriesColumns(m, r *row) {
	for _, c := range seriesColumns {
		r.vals[c] = m.vals[c]
		if k, ok := m.kinds[c]; ok {
			r.kinds[c] = k
		} else {
			delete(r.kinds, c)
		}
	}
}

// copyParties gives appointment r copies of the master's parties.
func (e *Emulator) copyParties(parties []*row, r *row) {
	for _, mp := range parties {
		pr := e.newRow(e.schema["activityparties"], newID(), "", nil)
		for _, c := range []string{"participationtypemask", "_partyid_value", "addressused"} {
			pr.vals[c] = mp.vals[c]
		}
		pr.kinds["_partyid_value"] = mp.kinds["_partyid_value"]
		pr.vals["_activityid_value"] = r.vals["activityid"]
		pr.kinds["_activityid_value"] = "appointments"
		e.data["activityparties"].rows[pr.vals["activitypartyid"].(string)] = pr
		e.bump(pr)
	}
}

// updateSeries follows an update of master m. A change of the recurrence
// information regenerates the instances; a change of basic information
// (subject, location, attendees...) is copied to every instance that is not
// an exception, as Dataverse does.
func (e *Emulator) updateSeries(m *row, p *writePlan) {
	for _, c := range patternColumns {
		if _, ok := p.set[c]; ok {
			e.expandSeries(m)
			return
		}
	}
	id := m.vals["activityid"].(string)
	partiesChanged := len(p.children) > 0
	masterParties := e.childrenOf(e.schema["recurringappointmentmasters"].manys["recurringappointmentmaster_activity_parties"], id)
	at := e.schema["appointments"]
	for _, r := range e.data["appointments"].rows {
		if r.vals["seriesid"] != id || r.vals["instancetypecode"] != int64(instanceRecurring) {
			continue
		}
		copySeriesColumns(m, r)
		e.derive(at, r)
		if partiesChanged {
			for _, pr := range e.childrenOf(at.manys["appointment_activity_parties"], r.vals["activityid"].(string)) {
				e.remove(e.schema["activityparties"], pr.vals["activitypartyid"].(string))
			}
			e.copyParties(masterParties, r)
		}
		e.bump(r)
	}
}

func (e *Emulator) removeInstances(masterID string) {
	at := e.schema["appointments"]
	for id, r := range e.data["appointments"].rows {
		if r.vals["seriesid"] == masterID {
			e.remove(at, id)
		}
	}
}

// newRow makes an unstored row of t with every column present and the
// housekeeping columns set.
func (e *Emulator) newRow(t *table, id string, ownerKind string, owner any) *row {
	r := &row{vals: map[string]any{}, kinds: map[string]string{}}
	for c := range t.cols {
		r.vals[c] = nil
	}
	r.vals[t.key] = id
	r.vals["createdon"] = e.now().UTC().Format(timeLayout)
	if _, ok := t.cols["statecode"]; ok {
		r.vals["statecode"] = int64(0)
		r.vals["statuscode"] = int64(1)
	}
	if t.activity {
		r.vals["activitytypecode"] = t.activityTypeCode()
		r.vals["instancetypecode"] = int64(instanceNotRecurring)
		r.vals["isregularactivity"] = true
	}
	if owner != nil {
		r.vals["_ownerid_value"] = owner
		r.kinds["_ownerid_value"] = ownerKind
	}
	return r
}
