package graphemu

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// deltaToken is the state behind a $skiptoken or $deltatoken. It travels
// to the client base64-encoded, so the client sees an opaque string; the
// emulator keeps nothing per token. The cursor (S, I) orders entries by
// (sequence, id): a page holds entries past the cursor.
type deltaToken struct {
	K  string // collection kind: contacts, events, tasks
	P  string // folder, calendar or list id
	WS int64  `json:",omitempty"` // calendar view window, unix seconds
	WE int64  `json:",omitempty"`
	S  int64  // cursor: sequence
	I  string // cursor: id
	R  int64  // sequence when an initial round began
	N  bool   `json:",omitempty"` // initial round: nothing synced before
	G  int    // generation, for ExpireDeltaTokens
	E  string // the emulator run that issued it
	Se string `json:",omitempty"` // $select of the round
}

func (t *deltaToken) encode() string {
	data, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeToken(s string) (*deltaToken, bool) {
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	var t deltaToken
	if json.Unmarshal(data, &t) != nil || t.K == "" {
		return nil, false
	}
	return &t, true
}

// endOfSeq is an id past every real id, for the cursor that closes a round.
const endOfSeq = "\x7f"

// deltaEntry is one candidate of a delta page.
type deltaEntry struct {
	id        string
	seq       int64
	createdAt int64
	removed   string // "", "deleted" or "changed" (left the window)
	render    func() map[string]any
}

// odataType is the @odata.type of each kind's delta entries.
var odataType = map[string]string{"contacts": "#microsoft.graph.contact", "events": "#microsoft.graph.event", "tasks": "#microsoft.graph.todoTask"}

// delta serves contacts/delta, calendarView/delta and tasks/delta.
func (e *Emulator) delta(w http.ResponseWriter, r *http.Request, mb *mailbox, kind, parent string) {
	v := r.URL.Query()
	// What the docs list as unsupported on these delta functions.
	unsupported := []string{"$expand", "$filter", "$orderby", "$search"}
	if kind == "events" {
		unsupported = append(unsupported, "$select")
	}
	for _, opt := range unsupported {
		if v.Has(opt) {
			writeError(w, http.StatusNotImplemented, "NotImplemented", "This operation target is not yet supported: "+opt+" is not supported with delta on "+kind+".")
			return
		}
	}
	var tok *deltaToken
	raw, isSkip := v.Get("$skiptoken"), true
	if raw == "" {
		raw, isSkip = v.Get("$deltatoken"), false
	}
	path := r.URL.EscapedPath()
	if raw != "" {
		t, ok := decodeToken(raw)
		if !ok || t.K != kind || t.P != parent {
			writeError(w, http.StatusBadRequest, "BadRequest", "The "+map[bool]string{true: "$skiptoken", false: "$deltatoken"}[isSkip]+" is not one this collection issued; start a new round without a token.")
			return
		}
		if t.G < e.minGen || t.E != e.epoch {
			loc := baseURL(r) + path + "?$deltatoken="
			if t.K == "events" {
				loc = baseURL(r) + path + "?startDateTime=" + url.QueryEscape(time.Unix(t.WS, 0).UTC().Format(time.RFC3339)) +
					"&endDateTime=" + url.QueryEscape(time.Unix(t.WE, 0).UTC().Format(time.RFC3339))
			}
			w.Header().Set("Location", loc)
			writeError(w, http.StatusGone, "syncStateNotFound", "The sync state of this delta token is no longer available (expired); start a full resynchronization from the URL in the Location header.")
			return
		}
		tok = t
	} else {
		tok = &deltaToken{K: kind, P: parent, R: mb.seq, N: true, G: e.tokenGen, E: e.epoch}
		if kind == "events" {
			from, to, err := window(r)
			if err != nil {
				writeErr(w, err)
				return
			}
			tok.WS, tok.WE = from.Unix(), to.Unix()
		}
		if kind != "events" {
			tok.Se = v.Get("$select")
		}
	}
	var q *query
	typeName := map[string]string{"contacts": "contact", "events": "event", "tasks": "todoTask"}[kind]
	if tok.Se != "" {
		sel := &http.Request{URL: &url.URL{RawQuery: url.Values{"$select": {tok.Se}}.Encode()}}
		var err error
		if q, err = parseQuery(sel, typeName); err != nil {
			writeErr(w, err)
			return
		}
	} else {
		q = &query{}
	}
	entries := e.cachedEntries(r, mb, tok, q)
	size := pageSize(nil, readPrefs(r))
	var page []map[string]any
	next := *tok
	more := false
	first := sort.Search(len(entries), func(i int) bool { return after(entries[i], tok) })
	for _, en := range entries[first:] {
		if en.removed != "" && (en.createdAt > tok.S || (tok.N && en.seq <= tok.R)) {
			// The client cannot have this item: it was never in a page
			// it read, or it was gone before the round began.
			continue
		}
		if len(page) == size {
			more = true
			break
		}
		if en.removed != "" {
			page = append(page, map[string]any{"@odata.type": odataType[kind], "id": en.id, "@removed": map[string]any{"reason": en.removed}})
		} else {
			page = append(page, en.render())
		}
		next.S, next.I = en.seq, en.id
	}
	body := map[string]any{"@odata.context": metadata(r, "Collection("+typeName+")"), "value": orEmptyMaps(page)}
	if more {
		body["@odata.nextLink"] = baseURL(r) + path + "?$skiptoken=" + next.encode()
	} else {
		done := deltaToken{K: kind, P: parent, WS: tok.WS, WE: tok.WE, S: mb.seq, I: endOfSeq, G: tok.G, E: tok.E, Se: tok.Se}
		body["@odata.deltaLink"] = baseURL(r) + path + "?$deltatoken=" + done.encode()
	}
	if p := readPrefs(r); p.maxPageSize > 0 {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(p.maxPageSize))
	}
	writeJSON(w, http.StatusOK, body)
}

func after(en deltaEntry, t *deltaToken) bool {
	return en.seq > t.S || (en.seq == t.S && en.id > t.I)
}

// entryCache keeps the entries of the last delta page of a mailbox, so
// that the pages of a round, read while nothing changes, list the
// collection once.
type entryCache struct {
	key     string
	seq     int64
	entries []deltaEntry
}

// cachedEntries is deltaEntries, reused while the mailbox is unchanged.
func (e *Emulator) cachedEntries(r *http.Request, mb *mailbox, tok *deltaToken, q *query) []deltaEntry {
	key := fmt.Sprint(tok.K, "|", tok.P, "|", tok.WS, "|", tok.WE, "|", tok.Se, "|", readPrefs(r).timeZone)
	if c := mb.deltaCache; c != nil && c.key == key && c.seq == mb.seq {
		return c.entries
	}
	entries := e.deltaEntries(r, mb, tok, q)
	mb.deltaCache = &entryCache{key: key, seq: mb.seq, entries: entries}
	return entries
}

// deltaEntries lists a collection's entries, live and removed, in cursor
// order.
func (e *Emulator) deltaEntries(r *http.Request, mb *mailbox, tok *deltaToken, q *query) []deltaEntry {
	var out []deltaEntry
	kind := map[string]string{"contacts": "contact", "tasks": "todoTask"}[tok.K]
	switch tok.K {
	case "contacts", "tasks":
		for _, it := range mb.items {
			if it.kind != kind || it.parent != tok.P {
				continue
			}
			en := deltaEntry{id: it.id, seq: it.seq, createdAt: it.createdAt}
			if it.deleted {
				en.removed = "deleted"
			} else if kind == "contact" {
				en.render = func() map[string]any {
					out := q.decorate(it, renderContact(it))
					out["@odata.type"] = odataType["contacts"]
					return out
				}
			} else {
				en.render = func() map[string]any { return q.decorate(it, renderTask(it)) }
			}
			out = append(out, en)
		}
	case "events":
		zone := readPrefs(r).timeZone
		list, inWindow := mb.instances(tok.P, time.Unix(tok.WS, 0), time.Unix(tok.WE, 0), true)
		for _, in := range list {
			en := deltaEntry{id: in.id, seq: in.seq, createdAt: in.createdAt}
			switch {
			case in.deleted:
				en.removed = "deleted"
			case !inWindow[in.id]:
				en.removed = "changed"
			default:
				en.render = func() map[string]any {
					out := renderEvent(mb, in, zone)
					out["@odata.type"] = odataType["events"]
					return out
				}
			}
			out = append(out, en)
		}
	}
	slices.SortFunc(out, func(a, b deltaEntry) int {
		return cmpFirst(cmp.Compare(a.seq, b.seq), strings.Compare(a.id, b.id))
	})
	return out
}
