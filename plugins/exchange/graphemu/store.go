package graphemu

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
)

// mailbox is one user's store: contacts, calendar and To Do tasks share one
// change sequence, which is what delta tokens count in.
type mailbox struct {
	upn, id, name   string
	contactFolderID string
	calendarID      string
	listID          string
	listETag        string
	items           map[string]*item // live items and tombstones
	seq             int64
	inFlight        int
	deltaCache      *entryCache
}

// item is a contact, an event (single instance, series master or
// exception, or the tombstone of an occurrence) or a todoTask.
type item struct {
	kind      string // "contact", "event", "todoTask"
	id        string
	parent    string // contact folder, calendar or task list id
	props     map[string]any
	ext       []extProp        // singleValueExtendedProperties
	linked    []map[string]any // linkedResources (tasks)
	created   time.Time
	modified  time.Time
	changeKey string
	seq       int64 // mailbox sequence of the last change
	createdAt int64 // mailbox sequence of the creation
	deleted   bool

	// events only
	iCalUID        string
	organizer      bool   // false on an invitation's copy in an attendee's calendar
	seriesMasterID string // exceptions and occurrence tombstones
	originalStart  time.Time
	cancelled      []time.Time // series masters: original starts of deleted occurrences
}

type extProp struct{ id, value string }

func (it *item) etag() string { return `W/"` + it.changeKey + `"` }

func newMailbox(upn string) *mailbox {
	local, _, _ := strings.Cut(upn, "@")
	name := []rune(local)
	if len(name) > 0 {
		name[0] = unicode.ToUpper(name[0])
	}
	return &mailbox{
		upn:             upn,
		id:              stableGUID("user:" + strings.ToLower(upn)),
		name:            string(name),
		contactFolderID: folderID("contacts:" + upn),
		calendarID:      folderID("calendar:" + upn),
		listID:          folderID("tasks:" + upn),
		listETag:        `W/"` + randomKey(16) + `"`,
		items:           map[string]*item{},
	}
}

// newItemID returns an id in the shape of Exchange's immutable ids:
// URL-safe base64, stable for the item's life whatever happens to it.
func newItemID() string {
	b := make([]byte, 45)
	_, _ = rand.Read(b)
	return "AAMkA" + base64.URLEncoding.EncodeToString(b) + "AAA="
}

// folderID is a stable folder id, so that ids survive a restart of the
// emulator (the items themselves do not).
func folderID(name string) string {
	return "AQMkA" + base64.URLEncoding.EncodeToString([]byte(stableGUID(name)))
}

// live returns the item with id of kind, nil if none or deleted.
func (mb *mailbox) live(kind, id string) *item {
	it := mb.items[id]
	if it == nil || it.deleted || it.kind != kind {
		return nil
	}
	return it
}

// insert stores a new item and records its creation.
func (e *Emulator) insert(mb *mailbox, it *item) {
	now := time.Now().UTC()
	it.created = now
	mb.items[it.id] = it
	e.touch(mb, it, "created")
	it.createdAt = it.seq
}

// touch records a change of it: a new sequence number, change key and
// modification time, and change notifications for the subscriptions
// watching its collection.
func (e *Emulator) touch(mb *mailbox, it *item, changeType string) {
	mb.seq++
	it.seq = mb.seq
	it.changeKey = randomKey(16)
	it.modified = time.Now().UTC()
	if changeType == "deleted" {
		it.deleted = true
	}
	e.queueChange(mb, it, changeType)
}

// sameExtID compares extended property ids the way Exchange does: the type
// and the property set GUID are case-insensitive, the name is not.
func sameExtID(a, b string) bool {
	return normExtID(a) == normExtID(b)
}

func normExtID(id string) string {
	f := strings.Fields(id)
	if len(f) < 2 {
		return id
	}
	f[0], f[1] = strings.ToLower(f[0]), strings.ToLower(f[1])
	if len(f) >= 3 && !strings.EqualFold(f[2], "Name") && !strings.EqualFold(f[2], "Id") {
		return strings.Join(f, " ")
	}
	if len(f) >= 3 {
		f[2] = strings.ToLower(f[2])
	}
	return strings.Join(f, " ")
}

// setExt adds or replaces extended properties.
func (it *item) setExt(props []extProp) {
	for _, p := range props {
		replaced := false
		for i := range it.ext {
			if sameExtID(it.ext[i].id, p.id) {
				it.ext[i].value = p.value
				replaced = true
			}
		}
		if !replaced {
			it.ext = append(it.ext, p)
		}
	}
}

// parseExtProps reads a singleValueExtendedProperties array from a body.
func parseExtProps(v any) ([]extProp, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, badBodyf("The property 'singleValueExtendedProperties' expects a collection of {id, value} objects.")
	}
	var out []extProp
	for i, x := range arr {
		obj, ok := x.(map[string]any)
		if !ok {
			return nil, badBodyf("singleValueExtendedProperties[%d] must be an object with 'id' and 'value'.", i)
		}
		for k := range obj {
			if k != "id" && k != "value" && !strings.Contains(k, "@") {
				return nil, unknownProperty(k, "singleValueLegacyExtendedProperty")
			}
		}
		id, _ := obj["id"].(string)
		val, ok := obj["value"].(string)
		if !validExtID(id) {
			return nil, badBodyf("singleValueExtendedProperties[%d].id %q is not a valid extended property id: use '<Type> {<guid>} Name <name>', '<Type> {<guid>} Id <number>' or '<Type> 0x<tag>'.", i, id)
		}
		if !ok {
			return nil, badBodyf("singleValueExtendedProperties[%d].value must be a string.", i)
		}
		out = append(out, extProp{id: id, value: val})
	}
	return out, nil
}

func validExtID(id string) bool {
	f := strings.Fields(id)
	switch {
	case len(f) == 2:
		return strings.HasPrefix(strings.ToLower(f[1]), "0x")
	case len(f) >= 4:
		return strings.HasPrefix(f[1], "{") && strings.HasSuffix(f[1], "}") && (strings.EqualFold(f[2], "Name") || strings.EqualFold(f[2], "Id"))
	}
	return false
}

// liveItems returns the live items of kind that keep accepts, oldest first,
// the order in which Outlook lists them without $orderby.
func (mb *mailbox) liveItems(kind string, keep func(*item) bool) []*item {
	var out []*item
	for _, it := range mb.items {
		if it.kind == kind && !it.deleted && keep(it) {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b *item) int {
		return cmpFirst(a.created.Compare(b.created), strings.Compare(a.id, b.id))
	})
	return out
}

// remove is DELETE of a stored item, If-Match honoured.
func (e *Emulator) remove(w http.ResponseWriter, r *http.Request, mb *mailbox, it *item) {
	if it == nil || !checkIfMatch(w, r, it.etag()) {
		return
	}
	e.touch(mb, it, "deleted")
	w.WriteHeader(http.StatusNoContent)
}
