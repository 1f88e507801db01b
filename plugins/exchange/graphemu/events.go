package graphemu

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// instance is one entry of a calendar view: a single event, a series
// master, an occurrence (computed from its master), an exception, or the
// tombstone of any of them.
type instance struct {
	id        string
	src       *item // the stored item whose properties it shows (the master, for occurrences)
	typ       string
	start     time.Time
	end       time.Time
	origStart time.Time // occurrences and exceptions
	seq       int64
	createdAt int64
	deleted   bool
}

// occurrenceID names an occurrence by its master and original start; it is
// also the id of the exception that replaces it, as in Exchange.
func occurrenceID(masterID string, orig time.Time) string {
	return "OCC" + base64.RawURLEncoding.EncodeToString([]byte(masterID+"|"+strconv.FormatInt(orig.Unix(), 10)))
}

func parseOccurrenceID(id string) (masterID string, orig time.Time, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(id, "OCC"))
	if !strings.HasPrefix(id, "OCC") || err != nil {
		return "", time.Time{}, false
	}
	m, unix, found := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(unix, 10, 64)
	if !found || err != nil {
		return "", time.Time{}, false
	}
	return m, time.Unix(n, 0).UTC(), true
}

// eventTimes returns an event item's start, end and start zone.
func eventTimes(it *item) (time.Time, time.Time, string) {
	s, _ := parseDTZ(it.props["start"])
	e, _ := parseDTZ(it.props["end"])
	zone, _ := it.props["start"].(map[string]any)["timeZone"].(string)
	return s, e, zone
}

// seriesOf returns the parsed recurrence of a master, nil for others.
func seriesOf(it *item) *series {
	rec, _ := it.props["recurrence"].(map[string]any)
	if rec == nil {
		return nil
	}
	s, e, zone := eventTimes(it)
	sr, err := parseSeries(rec, s, e, zone)
	if err != nil {
		return nil
	}
	return sr
}

// instances lists what a calendar view over [from, to) holds for the
// calendar's items, tombstones included; masters are listed when withMasters.
// inWindow tells, per entry, whether it overlaps the window.
func (mb *mailbox) instances(calendar string, from, to time.Time, withMasters bool) (list []instance, inWindow map[string]bool) {
	inWindow = map[string]bool{}
	var masters []string // series without an occurrence in the window: in it if an exception is
	overlaps := func(s, e time.Time) bool { return s.Before(to) && (e.After(from) || (s.Equal(e) && !s.Before(from))) }
	for _, it := range mb.items {
		if it.kind != "event" || it.parent != calendar {
			continue
		}
		s, e, _ := eventTimes(it)
		base := instance{id: it.id, src: it, start: s, end: e, seq: it.seq, createdAt: it.createdAt, deleted: it.deleted}
		switch {
		case it.seriesMasterID != "":
			base.typ, base.origStart = "exception", it.originalStart
			list = append(list, base)
			inWindow[it.id] = !it.deleted && overlaps(s, e)
		case it.props["recurrence"] != nil:
			sr := seriesOf(it)
			if sr == nil {
				continue
			}
			any := false
			for _, orig := range sr.starts(from, to) {
				id := occurrenceID(it.id, orig)
				if x := mb.items[id]; x != nil || slices.ContainsFunc(it.cancelled, orig.Equal) {
					continue // replaced by an exception or deleted: the stored item speaks for it
				}
				any = true
				list = append(list, instance{id: id, src: it, typ: "occurrence", start: orig, end: orig.Add(e.Sub(s)),
					origStart: orig, seq: it.seq, createdAt: it.createdAt, deleted: it.deleted})
				inWindow[id] = !it.deleted
			}
			if withMasters {
				base.typ = "seriesMaster"
				list = append(list, base)
				inWindow[it.id] = !it.deleted && any
				if !it.deleted && !any {
					masters = append(masters, it.id)
				}
			}
		default:
			base.typ = "singleInstance"
			list = append(list, base)
			inWindow[it.id] = !it.deleted && overlaps(s, e)
		}
	}
	for _, in := range list {
		if in.typ == "exception" && inWindow[in.id] && slices.Contains(masters, in.src.seriesMasterID) {
			inWindow[in.src.seriesMasterID] = true
		}
	}
	return list, inWindow
}

// renderEvent renders an instance in zone (Prefer: outlook.timezone; UTC
// when empty).
func renderEvent(mb *mailbox, in instance, zone string) map[string]any {
	it := in.src
	if zone == "" {
		zone = "UTC"
	}
	_, _, startZone := eventTimes(it)
	out := map[string]any{
		"@odata.etag":                it.etag(),
		"id":                         in.id,
		"createdDateTime":            it.created.Format(time.RFC3339Nano),
		"lastModifiedDateTime":       it.modified.Format(time.RFC3339Nano),
		"changeKey":                  it.changeKey,
		"categories":                 []any{},
		"transactionId":              nil,
		"originalStartTimeZone":      startZone,
		"originalEndTimeZone":        startZone,
		"iCalUId":                    it.iCalUID,
		"reminderMinutesBeforeStart": 15.0,
		"isReminderOn":               true,
		"hasAttachments":             false,
		"subject":                    "",
		"importance":                 "normal",
		"sensitivity":                "normal",
		"isAllDay":                   false,
		"isCancelled":                false,
		"isOrganizer":                it.organizer,
		"responseRequested":          true,
		"seriesMasterId":             nil,
		"showAs":                     "busy",
		"type":                       in.typ,
		"webLink":                    "https://outlook.office365.com/owa/?itemid=" + url.QueryEscape(in.id) + "&exvsurl=1&path=/calendar/item",
		"onlineMeetingUrl":           nil,
		"isOnlineMeeting":            false,
		"onlineMeetingProvider":      "unknown",
		"allowNewTimeProposals":      true,
		"isDraft":                    false,
		"hideAttendees":              false,
		"body":                       map[string]any{"contentType": "html", "content": ""},
		"location":                   fullLocation(nil),
		"locations":                  []any{},
		"recurrence":                 nil,
		"attendees":                  []any{},
		"organizer":                  map[string]any{"emailAddress": map[string]any{"name": mb.name, "address": mb.upn}},
		"onlineMeeting":              nil,
	}
	for k, v := range it.props {
		out[k] = v
	}
	// Attendees do not answer in the emulator: their copy stays notResponded.
	resp := map[string]any{"response": "organizer", "time": "0001-01-01T00:00:00Z"}
	if !it.organizer {
		resp["response"] = "notResponded"
	}
	out["responseStatus"] = resp
	body, _ := out["body"].(map[string]any)
	out["bodyPreview"] = preview(body)
	out["location"] = fullLocation(out["location"])
	var locs []any
	for _, l := range out["locations"].([]any) {
		// Entries of locations carry only what was given, plus the type
		// fields; a located one (with an address) gets a private uniqueId.
		full := map[string]any{"locationType": "default", "uniqueIdType": "unknown"}
		src, _ := l.(map[string]any)
		for k, v := range src {
			if v != nil {
				full[k] = v
			}
		}
		if full["address"] != nil && src["uniqueId"] == nil {
			full["uniqueId"], full["uniqueIdType"] = full["displayName"], "private"
		}
		locs = append(locs, full)
	}
	out["locations"] = orEmpty(locs)
	var atts []any
	for _, a := range out["attendees"].([]any) {
		a, _ := a.(map[string]any)
		full := map[string]any{"type": "required", "status": map[string]any{"response": "none", "time": "0001-01-01T00:00:00Z"}, "emailAddress": map[string]any{}}
		for k, v := range a {
			if v != nil {
				full[k] = v
			}
		}
		atts = append(atts, full)
	}
	out["attendees"] = orEmpty(atts)
	if out["isOnlineMeeting"] == true {
		out["onlineMeeting"] = map[string]any{
			"joinUrl":      "https://teams.microsoft.com/l/meetup-join/" + url.PathEscape(it.iCalUID),
			"conferenceId": strconv.FormatUint(uint64(len(it.iCalUID))*7919+uint64(it.created.Unix()%100000000), 10),
			"tollNumber":   "+1 555 0100",
		}
		if out["onlineMeetingProvider"] == "unknown" {
			out["onlineMeetingProvider"] = "teamsForBusiness"
		}
	}
	switch in.typ {
	case "seriesMaster":
		out["recurrence"] = fullRecurrence(it.props["recurrence"].(map[string]any), startZone)
	case "occurrence", "exception":
		out["recurrence"] = nil
		out["seriesMasterId"] = firstNonEmpty(it.seriesMasterID, it.id)
		out["originalStart"] = in.origStart.UTC().Format(time.RFC3339)
		out["iCalUId"] = occurrenceICalUID(it.iCalUID, in.origStart)
		if in.typ == "occurrence" {
			out["id"] = in.id
		}
	}
	out["start"] = dtz(in.start, zone)
	out["end"] = dtz(in.end, zone)
	return out
}

// occurrenceICalUID: Graph gives each occurrence its own iCalUId, derived
// from the series' one, the same in every attendee's calendar.
func occurrenceICalUID(master string, orig time.Time) string {
	if strings.HasSuffix(master, orig.UTC().Format("20060102")) {
		return master
	}
	return master + orig.UTC().Format("20060102")
}

func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// fullLocation fills a location the way Graph returns it.
func fullLocation(v any) map[string]any {
	l := map[string]any{"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": map[string]any{}, "coordinates": map[string]any{}}
	src, _ := v.(map[string]any)
	for k, x := range src {
		if x != nil {
			l[k] = x
		}
	}
	if d, _ := l["displayName"].(string); d != "" && src["uniqueId"] == nil {
		l["uniqueId"], l["uniqueIdType"] = d, "private"
	}
	return l
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// preview is Graph's bodyPreview: the body as text, at most 255 characters.
func preview(body map[string]any) string {
	c, _ := body["content"].(string)
	if body["contentType"] == "html" {
		c = tagRE.ReplaceAllString(c, " ")
	}
	c = strings.Join(strings.Fields(c), " ")
	if r := []rune(c); len(r) > 255 {
		c = string(r[:255])
	}
	return c
}

// wrapHTML is what Exchange stores for an HTML body sent as a fragment.
func wrapHTML(body map[string]any) {
	if body == nil || body["contentType"] != "html" {
		return
	}
	c, _ := body["content"].(string)
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(c)), "<html") {
		body["content"] = "<html>\r\n<head>\r\n</head>\r\n<body>\r\n" + c + "\r\n</body>\r\n</html>\r\n"
	}
}

// eventBody parses and checks an event body; create requires start and end.
func eventBody(create bool) func(map[string]any) (parsed, error) {
	return func(body map[string]any) (parsed, error) {
		p, err := contactBodyOf("event", body)
		if err != nil {
			return parsed{}, err
		}
		return p, checkEventBody(p.props, create)
	}
}

// checkEventBody normalises start, end and body of an event body.
func checkEventBody(props map[string]any, create bool) error {
	for _, k := range []string{"start", "end"} {
		v, ok := props[k]
		if !ok {
			if create {
				return badBodyf("The event needs '%s' (a dateTimeTimeZone).", k)
			}
			continue
		}
		t, err := parseDTZ(v)
		if err != nil {
			return &queryError{400, "TimeZoneNotSupportedException", err.Error()}
		}
		zone := v.(map[string]any)["timeZone"].(string)
		props[k] = dtz(t, zone)
	}
	if b, ok := props["body"].(map[string]any); ok {
		if b["contentType"] == nil {
			b["contentType"] = "text"
		}
		wrapHTML(b)
	}
	return nil
}

// checkTimes rejects an event whose end precedes its start or whose
// recurrence is invalid.
func checkTimes(it *item) error {
	s, e, zone := eventTimes(it)
	if e.Before(s) {
		return &queryError{400, "ErrorInvalidRequest", "Your request can't be completed. The end time must be on or after the start time."}
	}
	if it.props["isAllDay"] == true {
		// As Graph: an all-day event starts and ends at midnight of its
		// zone and lasts whole days.
		for _, k := range []string{"start", "end"} {
			dt, _ := it.props[k].(map[string]any)["dateTime"].(string)
			if !strings.HasSuffix(dt, "T00:00:00.0000000") {
				return &queryError{400, "ErrorInvalidRequest", "Your request can't be completed. When isAllDay is true, start and end must be at midnight (00:00:00) of their time zone; " + k + " is " + dt + "."}
			}
		}
		if !e.After(s) {
			return &queryError{400, "ErrorInvalidRequest", "Your request can't be completed. An all-day event must last at least one day."}
		}
	}
	if rec, ok := it.props["recurrence"].(map[string]any); ok {
		if _, err := parseSeries(rec, s, e, zone); err != nil {
			return &queryError{400, "ErrorInvalidRecurrence", "Your request can't be completed. The recurrence is invalid: " + err.Error() + "."}
		}
	}
	return nil
}

func (e *Emulator) createEvent(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	p, ok := readParsed(w, r, eventBody(true))
	if !ok {
		return
	}
	it := &item{kind: "event", id: newItemID(), parent: mb.calendarID, props: p.props, organizer: true, ext: p.ext}
	it.iCalUID = icalUID()
	if err := checkTimes(it); err != nil {
		writeErr(w, err)
		return
	}
	e.insert(mb, it)
	e.invite(mb, it, nil)
	w.Header().Set("Location", baseURL(r)+"/v1.0/users('"+mb.id+"')/events('"+it.id+"')")
	out := renderEvent(mb, e.instanceOf(mb, it), readPrefs(r).timeZone)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/events/$entity")
	writeJSON(w, http.StatusCreated, out)
}

// instanceOf is the calendar-view entry of a stored item.
func (e *Emulator) instanceOf(mb *mailbox, it *item) instance {
	s, end, _ := eventTimes(it)
	in := instance{id: it.id, src: it, start: s, end: end, seq: it.seq, createdAt: it.createdAt, deleted: it.deleted, typ: "singleInstance"}
	switch {
	case it.seriesMasterID != "":
		in.typ, in.origStart = "exception", it.originalStart
	case it.props["recurrence"] != nil:
		in.typ = "seriesMaster"
	}
	return in
}

// resolveEvent finds a stored event or an occurrence by id. For an
// occurrence, master is set and it is nil.
func resolveEvent(mb *mailbox, id string) (it *item, master *item, occ time.Time, ok bool) {
	if it = mb.live("event", id); it != nil {
		return it, nil, time.Time{}, true
	}
	mid, orig, isOcc := parseOccurrenceID(id)
	if !isOcc || mb.items[id] != nil {
		return nil, nil, time.Time{}, false
	}
	master = mb.live("event", mid)
	if master == nil || slices.ContainsFunc(master.cancelled, orig.Equal) {
		return nil, nil, time.Time{}, false
	}
	sr := seriesOf(master)
	if sr == nil {
		return nil, nil, time.Time{}, false
	}
	for _, s := range sr.starts(orig, orig.Add(time.Second)) {
		if s.Equal(orig) {
			return nil, master, orig, true
		}
	}
	return nil, nil, time.Time{}, false
}

func (e *Emulator) getEvent(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	q, err := parseQuery(r, "event")
	if err != nil {
		writeErr(w, err)
		return
	}
	id := r.PathValue("id")
	it, master, orig, ok := resolveEvent(mb, id)
	if !ok {
		notFound(w)
		return
	}
	var in instance
	if it != nil {
		in = e.instanceOf(mb, it)
	} else {
		s, end, _ := eventTimes(master)
		in = instance{id: id, src: master, typ: "occurrence", start: orig, end: orig.Add(end.Sub(s)), origStart: orig}
		it = master
	}
	out := q.decorate(it, renderEvent(mb, in, readPrefs(r).timeZone))
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/events/$entity")
	writeJSON(w, http.StatusOK, out)
}

// sharedEventProps are the properties an organizer's change carries to the
// attendees' copies of a meeting.
var sharedEventProps = []string{"subject", "body", "start", "end", "location", "locations", "recurrence", "isAllDay",
	"attendees", "importance", "sensitivity", "isOnlineMeeting", "onlineMeetingProvider", "originalStartTimeZone",
	"originalEndTimeZone", "hideAttendees", "allowNewTimeProposals", "isCancelled"}

func (e *Emulator) updateEvent(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	id := r.PathValue("id")
	it, master, orig, ok := resolveEvent(mb, id)
	if !ok {
		notFound(w)
		return
	}
	etag := ""
	if it != nil {
		etag = it.etag()
	} else {
		etag = master.etag()
	}
	if !checkIfMatch(w, r, etag) {
		return
	}
	p, ok := readParsed(w, r, eventBody(false))
	if !ok {
		return
	}
	props, ext := p.props, p.ext
	if (it == nil || it.seriesMasterID != "") && props["recurrence"] != nil {
		writeError(w, http.StatusBadRequest, "ErrorInvalidRequest", "An occurrence or exception of a series cannot have a recurrence of its own; change the series master instead.")
		return
	}
	fresh := it == nil
	if fresh {
		// The first change of an occurrence makes it an exception with the
		// occurrence's id.
		it = occurrenceItem(mb, master, master.props, orig)
	}
	before := deepCopy(it.props)
	oldSeries := it.props["recurrence"] != nil && it.seriesMasterID == ""
	for k, v := range props {
		if v == nil && k != "recurrence" {
			delete(it.props, k)
			continue
		}
		it.props[k] = v
	}
	if it.props["recurrence"] == nil {
		delete(it.props, "recurrence")
	}
	if err := checkTimes(it); err != nil {
		it.props = before
		if fresh {
			delete(mb.items, it.id) // the occurrence stays an occurrence
		}
		writeErr(w, err)
		return
	}
	it.setExt(ext)
	timing := !jsonEqual(before["start"], it.props["start"]) || !jsonEqual(before["end"], it.props["end"]) || !jsonEqual(before["recurrence"], it.props["recurrence"])
	if oldSeries && timing {
		e.resetSeries(mb, it, before)
	}
	e.touch(mb, it, "updated")
	if it.organizer && it.seriesMasterID == "" {
		e.invite(mb, it, before)
	}
	out := renderEvent(mb, e.instanceOf(mb, it), readPrefs(r).timeZone)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/events/$entity")
	writeJSON(w, http.StatusOK, out)
}

// resetSeries follows a change of a series' timing as Exchange does: the
// exceptions go, and occurrences that no longer exist become tombstones so
// that calendar view deltas report them removed.
func (e *Emulator) resetSeries(mb *mailbox, master *item, before map[string]any) {
	old := &item{props: before}
	oldStarts := map[int64]bool{}
	now := time.Now()
	if sr := seriesOf(old); sr != nil {
		for _, s := range sr.starts(now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0)) {
			oldStarts[s.Unix()] = true
		}
	}
	if sr := seriesOf(master); sr != nil {
		for _, s := range sr.starts(now.AddDate(-1, 0, 0), now.AddDate(2, 0, 0)) {
			delete(oldStarts, s.Unix())
		}
	}
	for _, x := range mb.items {
		if x.seriesMasterID == master.id && !x.deleted {
			e.touch(mb, x, "deleted")
		}
	}
	for unix := range oldStarts {
		orig := time.Unix(unix, 0).UTC()
		id := occurrenceID(master.id, orig)
		if mb.items[id] != nil {
			continue
		}
		tomb := occurrenceItem(mb, master, before, orig)
		e.touch(mb, tomb, "deleted")
	}
	master.cancelled = nil
}

func (e *Emulator) deleteEvent(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	id := r.PathValue("id")
	it, master, orig, ok := resolveEvent(mb, id)
	if !ok {
		notFound(w)
		return
	}
	if it != nil && !checkIfMatch(w, r, it.etag()) {
		return
	}
	if it == nil {
		if !checkIfMatch(w, r, master.etag()) {
			return
		}
		it = occurrenceItem(mb, master, master.props, orig)
	}
	e.touch(mb, it, "deleted")
	switch {
	case it.seriesMasterID != "":
		if m := mb.live("event", it.seriesMasterID); m != nil {
			m.cancelled = append(m.cancelled, it.originalStart)
			e.touch(mb, m, "updated")
		}
	case it.props["recurrence"] != nil:
		for _, x := range mb.items {
			if x.seriesMasterID == it.id && !x.deleted {
				e.touch(mb, x, "deleted")
			}
		}
	}
	if it.organizer && it.seriesMasterID == "" {
		e.cancelMeeting(mb, it)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) listEvents(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	q, err := parseQuery(r, "event")
	if err != nil {
		writeErr(w, err)
		return
	}
	zone := readPrefs(r).timeZone
	var values []map[string]any
	for _, it := range mb.liveItems("event", func(it *item) bool { return it.seriesMasterID == "" && q.matches(it) }) {
		values = append(values, q.decorate(it, renderEvent(mb, e.instanceOf(mb, it), zone)))
	}
	writePage(w, r, metadata(r, "users('"+mb.id+"')/events"), orEmptyMaps(values), q)
}

// window reads startDateTime and endDateTime of a calendar view.
func window(r *http.Request) (time.Time, time.Time, error) {
	v := r.URL.Query()
	get := func(name string) string {
		for k, x := range v {
			if strings.EqualFold(k, name) && len(x) > 0 {
				return x[0]
			}
		}
		return ""
	}
	s, e := get("startDateTime"), get("endDateTime")
	if s == "" || e == "" {
		return time.Time{}, time.Time{}, &queryError{400, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime."}
	}
	parse := func(x string) (time.Time, error) {
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, nil
		}
		return time.Parse("2006-01-02T15:04:05.999999999", x) // no offset: UTC
	}
	st, err1 := parse(s)
	en, err2 := parse(e)
	if err1 != nil || err2 != nil {
		return time.Time{}, time.Time{}, &queryError{400, "ErrorInvalidParameter", "The value of startDateTime or endDateTime is not a valid ISO 8601 date and time: '" + s + "', '" + e + "'."}
	}
	return st, en, nil
}

func (e *Emulator) calendarView(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	q, err := parseQuery(r, "event")
	if err != nil {
		writeErr(w, err)
		return
	}
	from, to, err := window(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	masterID := r.PathValue("id") // set for events/{id}/instances
	if masterID != "" && mb.live("event", masterID) == nil {
		notFound(w)
		return
	}
	list, inWindow := mb.instances(mb.calendarID, from, to, false)
	var keep []instance
	for _, in := range list {
		if !inWindow[in.id] || (masterID != "" && in.src.id != masterID && in.src.seriesMasterID != masterID) {
			continue
		}
		if q.filter != nil && !q.filter.matches(in.src) {
			continue
		}
		keep = append(keep, in)
	}
	slices.SortFunc(keep, func(a, b instance) int { return cmpFirst(a.start.Compare(b.start), strings.Compare(a.id, b.id)) })
	zone := readPrefs(r).timeZone
	var values []map[string]any
	for _, in := range keep {
		values = append(values, q.decorate(in.src, renderEvent(mb, in, zone)))
	}
	writePage(w, r, metadata(r, "Collection(event)"), orEmptyMaps(values), q)
}

func cmpFirst(c ...int) int {
	for _, x := range c {
		if x != 0 {
			return x
		}
	}
	return 0
}

func orEmptyMaps(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func deepCopy(m map[string]any) map[string]any {
	data, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// occurrenceItem stores an occurrence of master, with props (the master's
// now or before a change), as an item of its own: the start of an
// exception, or a tombstone once touched as deleted.
func occurrenceItem(mb *mailbox, master *item, props map[string]any, orig time.Time) *item {
	s, end, zone := eventTimes(&item{props: props})
	it := &item{kind: "event", id: occurrenceID(master.id, orig), parent: master.parent, props: deepCopy(props), organizer: master.organizer,
		iCalUID: occurrenceICalUID(master.iCalUID, orig), seriesMasterID: master.id, originalStart: orig,
		createdAt: master.createdAt, created: master.created, ext: slices.Clone(master.ext)}
	delete(it.props, "recurrence")
	it.props["start"] = dtz(orig, zone)
	it.props["end"] = dtz(orig.Add(end.Sub(s)), zone)
	mb.items[it.id] = it
	return it
}
