package crm

import (
	"strings"

	"github.com/syncgate/syncgate/sdk"
)

// Activities (appointments, series, tasks, service appointments) share the
// activitypointer columns: subject, description, priority, category,
// regarding and the zone code their times were entered in.

var (
	attendeeRoles = partyField{name: "attendees", def: maskRequired,
		roles: map[string]int{"required": maskRequired, "optional": maskOptional, "resource": maskResource}}
	organizerField = partyField{name: "organizer", def: maskOrganizer}
	meetingParties = []partyField{organizerField, attendeeRoles}
	serviceParties = []partyField{
		{name: "resources", def: maskResource, roles: map[string]int{"resource": maskResource}},
		{name: "customers", def: maskCustomer},
	}
	meetingMasks = []int{maskOrganizer, maskRequired, maskOptional, maskResource}
)

var appointmentTable = &table{
	set: "appointments", logical: "appointment", key: "activityid",
	partyNav: "appointment_activity_parties", partyMasks: meetingMasks, routeMasks: meetingMasks, partyFields: meetingParties,
	// A series' expanded occurrences are rows of their own with a seriesid;
	// the series is synced as its master, so they are left out.
	feedCols: []string{"seriesid", "instancetypecode"},
	skip:     func(r row) bool { return r.str("seriesid") != "" },
	// An occurrence edited on its own (an exception) is a change of its
	// series, which carries it in recurrence.exceptions.
	standsFor: func(r row) (string, bool) {
		if n, _ := r.int("instancetypecode"); n == instanceException && isGUID(r.str("seriesid")) {
			return seriesPrefix + strings.ToLower(r.str("seriesid")), true
		}
		return "", false
	},
	cols: append(activityColumns(), "scheduledstart", "scheduledend", "isalldayevent", "location", "globalobjectid",
		"statecode", "statuscode"),
	read: func(c *Connector, _ *table, r row, ps []party) (sdk.Fields, error) {
		return c.readMeeting(r, ps, "scheduledstart", "scheduledend"), nil
	},
	write: func(c *Connector, t *table, f sdk.Fields, old []party) (row, error) { return c.writeMeeting(f, old, t) },
}

var taskTable = &table{
	set: "tasks", logical: "task", key: "activityid",
	cols:  append(activityColumns(), "scheduledstart", "scheduledend", "actualend", "percentcomplete", "statecode", "statuscode"),
	read:  func(c *Connector, _ *table, r row, _ []party) (sdk.Fields, error) { return c.readTask(r), nil },
	write: func(c *Connector, t *table, f sdk.Fields, _ []party) (row, error) { return c.writeTask(t, f) },
}

var serviceAppointmentTable = &table{
	set: "serviceappointments", logical: "serviceappointment", key: "activityid",
	partyNav: "serviceappointment_activity_parties", partyMasks: []int{maskResource, maskCustomer},
	// A service appointment concerns its owner and each resource: it goes
	// to each bound resource's own calendar.
	routeMasks: []int{maskResource}, partyFields: serviceParties,
	cols: append(activityColumns(), "scheduledstart", "scheduledend", "isalldayevent", "location", "_serviceid_value",
		"statecode", "statuscode"),
	read:  func(c *Connector, _ *table, r row, ps []party) (sdk.Fields, error) { return c.readService(r, ps), nil },
	write: func(c *Connector, t *table, f sdk.Fields, old []party) (row, error) { return c.writeService(t, f, old) },
}

func activityColumns() []string {
	return []string{"subject", "description", "prioritycode", "category", zoneColumn, "_regardingobjectid_value"}
}

var importanceCodes = []string{"low", "normal", "high"} // prioritycode 0, 1, 2

// readCommon reads the columns every activity has.
func (c *Connector) readCommon(r row) (sdk.Fields, string) {
	f := sdk.Fields{}
	setStr(f, "subject", r, "subject")
	if d := r.str("description"); d != "" {
		f["body"] = sdk.String(d)
		f["body_type"] = sdk.String(bodyType(d))
	}
	if p, ok := r.int("prioritycode"); ok && p >= 0 && int(p) < len(importanceCodes) {
		f["importance"] = sdk.String(importanceCodes[p])
	}
	if cat := r.str("category"); cat != "" {
		var names []string
		for _, n := range strings.Split(cat, ";") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		f["categories"] = sdk.Strings(names...)
	}
	if id := r.str("_regardingobjectid_value"); id != "" {
		ref := map[string]sdk.Value{"id": sdk.String(strings.ToLower(id))}
		if ln := r.str("_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"); ln != "" {
			ref["entity"] = sdk.String(ln)
		}
		if n := r.str("_regardingobjectid_value@OData.Community.Display.V1.FormattedValue"); n != "" {
			ref["name"] = sdk.String(n)
		}
		f["regarding"] = sdk.Map(ref)
	}
	return f, c.rowZone(r)
}

// bodyType says whether a description is html: Dataverse stores either in
// the same column without saying which.
func bodyType(s string) string {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "<") && strings.HasSuffix(t, ">") {
		return "html"
	}
	return "text"
}

// writeCommon writes the columns every activity has, and the zone code of
// the time field zoneFrom.
func (c *Connector) writeCommon(f sdk.Fields, t *table, zoneFrom ...string) (row, error) {
	out := row{}
	for _, s := range []struct{ field, col string }{{"subject", "subject"}, {"body", "description"}} {
		if v, ok := f[s.field]; ok {
			if err := wantKind(s.field, v, sdk.KindString); err != nil {
				return nil, err
			}
			out[s.col] = strOrNil(v)
		}
	}
	if v, ok := f["importance"]; ok {
		out["prioritycode"] = nil
		for i, name := range importanceCodes {
			if v.Str() == name {
				out["prioritycode"] = i
			}
		}
	}
	if v, ok := f["categories"]; ok {
		var names []string
		for _, n := range v.ListVal() {
			names = append(names, n.Str())
		}
		out["category"] = strOrNil(sdk.String(strings.Join(names, "; ")))
	}
	if v, ok := f["regarding"]; ok && !v.IsNull() {
		m := v.MapVal()
		ent, id := m["entity"].Str(), m["id"].Str()
		set, known := regardingSets[ent]
		if !known || !isGUID(id) {
			return nil, errf("regarding: want a reference to one of %s by its id, got %v", strings.Join(regardingNames(), ", "), v)
		}
		out["regardingobjectid_"+ent+"_"+t.logical+"@odata.bind"] = "/" + set + "(" + id + ")"
	}
	for _, name := range zoneFrom {
		if v, ok := f[name]; ok && v.Kind() == sdk.KindTime {
			if code, ok := codeOfZone(v.Zone()); ok {
				out[zoneColumn] = code
			} else {
				c.warn("time zone without a Dataverse zone code; the time is kept, its zone is not", "zone", v.Zone())
			}
			break
		}
	}
	return out, nil
}

// regardingSets are the tables a regarding reference may point at, with
// their entity sets.
var regardingSets = map[string]string{
	"account": "accounts", "contact": "contacts", "opportunity": "opportunities", "lead": "leads", "incident": "incidents",
}

func regardingNames() []string {
	return []string{"account", "contact", "opportunity", "lead", "incident"}
}

// readMeeting reads an appointment or a series master.
func (c *Connector) readMeeting(r row, ps []party, startCol, endCol string) sdk.Fields {
	f, zone := c.readCommon(r)
	if v, ok := readTime(r, startCol, zone); ok {
		f["start"] = v
	}
	if v, ok := readTime(r, endCol, zone); ok {
		f["end"] = v
	}
	if b, ok := r.bool("isalldayevent"); ok {
		f["all_day"] = sdk.Bool(b)
	}
	setStr(f, "location", r, "location")
	setStr(f, "ical_uid", r, "globalobjectid")
	for _, p := range ps {
		if p.mask == maskOrganizer && p.address != "" {
			f["organizer"] = sdk.String(p.address)
			break
		}
	}
	if v := partyList(ps, map[int]string{maskRequired: "required", maskOptional: "optional", maskResource: "resource"}); !v.IsNull() {
		f["attendees"] = v
	}
	if r.has("statecode") {
		state, _ := r.int("statecode")
		code, _ := r.int("statuscode")
		for _, st := range appointmentStates {
			if st.state == state && (st.status != "" || st.code == code) {
				if st.status != "" {
					f["status"] = sdk.String(st.status)
				} else {
					f["show_as"] = sdk.String(st.showAs)
				}
			}
		}
	}
	return f
}

// appointmentStates pairs an appointment's statecode and statuscode with
// free/busy (while it is open or scheduled) and with its end (completed,
// cancelled). Other canonical statuses (tentative, confirmed) leave the
// state as it is.
var appointmentStates = []struct {
	showAs, status string
	state, code    int64
}{
	{"free", "", 0, 1}, {"tentative", "", 0, 2}, {"busy", "", 3, 5}, {"oof", "", 3, 6},
	{"", "completed", 1, 3}, {"", "cancelled", 2, 4},
}

// writeMeeting writes an appointment or a series master's common part.
func (c *Connector) writeMeeting(f sdk.Fields, old []party, t *table) (row, error) {
	out, err := c.writeScheduled(f, old, t, meetingParties)
	if err != nil {
		return nil, err
	}
	if v, ok := f["ical_uid"]; ok {
		out["globalobjectid"] = strOrNil(v)
	}
	if t.prefix != "" { // a series' state follows its occurrences
		return out, nil
	}
	for _, st := range appointmentStates {
		if (st.showAs != "" && f["show_as"].Str() == st.showAs) || (st.status != "" && f["status"].Str() == st.status) {
			out["statecode"], out["statuscode"] = st.state, st.code
		}
	}
	return out, nil
}

// writeScheduled writes what appointments, series and service appointments
// share: the common columns, the times, all-day, location and the parties
// of the given fields.
func (c *Connector) writeScheduled(f sdk.Fields, old []party, t *table, pfs []partyField) (row, error) {
	out, err := c.writeCommon(f, t, "start", "end")
	if err != nil {
		return nil, err
	}
	startCol, endCol := "scheduledstart", "scheduledend"
	if t.prefix != "" { // the series master
		startCol, endCol = "starttime", "endtime"
	}
	if v, ok := f["start"]; ok {
		out[startCol] = utc(v)
	}
	if v, ok := f["end"]; ok {
		out[endCol] = utc(v)
	}
	if v, ok := f["all_day"]; ok {
		out["isalldayevent"] = v.BoolVal()
	}
	if v, ok := f["location"]; ok {
		out["location"] = strOrNil(v)
	}
	parties, changed, err := c.writeParties(f, old, pfs)
	if err != nil {
		return nil, err
	}
	if changed {
		out[t.partyNav] = parties
	}
	return out, nil
}

// Task status: statuscode within statecode (0 open, 1 completed, 2
// cancelled).
var taskStatus = []struct {
	name          string
	state, status int64
}{
	{"not_started", 0, 2}, {"in_progress", 0, 3}, {"waiting", 0, 4}, {"deferred", 0, 7}, {"completed", 1, 5},
}

func (c *Connector) readTask(r row) sdk.Fields {
	f, zone := c.readCommon(r)
	for _, s := range []struct{ field, col string }{{"start", "scheduledstart"}, {"due", "scheduledend"}, {"completed_at", "actualend"}} {
		if v, ok := readTime(r, s.col, zone); ok {
			f[s.field] = v
		}
	}
	if p, ok := r.int("percentcomplete"); ok {
		f["percent_complete"] = sdk.Int(p)
	}
	state, _ := r.int("statecode")
	if status, ok := r.int("statuscode"); ok {
		for _, s := range taskStatus {
			if s.status == status && s.state == state {
				f["status"] = sdk.String(s.name)
			}
		}
	}
	return f
}

func (c *Connector) writeTask(t *table, f sdk.Fields) (row, error) {
	out, err := c.writeCommon(f, t, "due", "start", "completed_at")
	if err != nil {
		return nil, err
	}
	for _, s := range []struct{ field, col string }{{"start", "scheduledstart"}, {"due", "scheduledend"}, {"completed_at", "actualend"}} {
		if v, ok := f[s.field]; ok {
			out[s.col] = utc(v)
		}
	}
	if v, ok := f["percent_complete"]; ok {
		if v.IsNull() {
			out["percentcomplete"] = nil
		} else {
			out["percentcomplete"] = v.IntVal()
		}
	}
	if v, ok := f["status"]; ok && !v.IsNull() {
		found := false
		for _, s := range taskStatus {
			if s.name == v.Str() {
				out["statecode"], out["statuscode"], found = s.state, s.status, true
			}
		}
		if !found {
			return nil, errf("task status %q has no Dataverse equivalent", v.Str())
		}
	}
	return out, nil
}

func (c *Connector) readService(r row, ps []party) sdk.Fields {
	f := c.readMeeting(r, nil, "scheduledstart", "scheduledend")
	delete(f, "show_as") // service appointment status codes are not free/busy
	delete(f, "status")
	if state, _ := r.int("statecode"); state == 1 || state == 2 {
		f["status"] = sdk.String(map[int64]string{1: "completed", 2: "cancelled"}[state])
	}
	if v := partyList(ps, map[int]string{maskResource: "resource"}); !v.IsNull() {
		f["resources"] = v
	}
	if v := partyList(ps, map[int]string{maskCustomer: "required"}); !v.IsNull() {
		f["customers"] = v
	}
	if n := r.str("_serviceid_value@OData.Community.Display.V1.FormattedValue"); n != "" {
		f["service"] = sdk.String(n)
	}
	return f
}

func (c *Connector) writeService(t *table, f sdk.Fields, old []party) (row, error) {
	return c.writeScheduled(f, old, t, serviceParties)
}
