package graphemu

import (
	"net/http"
	"strings"
	"time"
)

// renderContact shows a contact as Graph does (contact-get.json): every
// property present, unset strings null, empty lists [] and addresses {}.
func renderContact(it *item) map[string]any {
	out := map[string]any{
		"@odata.etag":          it.etag(),
		"id":                   it.id,
		"createdDateTime":      it.created.Format(time.RFC3339),
		"lastModifiedDateTime": it.modified.Format(time.RFC3339),
		"changeKey":            it.changeKey,
		"categories":           []any{},
		"parentFolderId":       it.parent,
		"birthday":             nil,
		"fileAs":               "",
		"displayName":          "",
		"givenName":            nil,
		"initials":             nil,
		"middleName":           nil,
		"nickName":             nil,
		"surname":              nil,
		"title":                nil,
		"yomiGivenName":        nil,
		"yomiSurname":          nil,
		"yomiCompanyName":      nil,
		"generation":           nil,
		"imAddresses":          []any{},
		"jobTitle":             nil,
		"companyName":          nil,
		"department":           nil,
		"officeLocation":       nil,
		"profession":           nil,
		"businessHomePage":     nil,
		"assistantName":        nil,
		"manager":              nil,
		"homePhones":           []any{},
		"mobilePhone":          nil,
		"businessPhones":       []any{},
		"spouseName":           nil,
		"personalNotes":        "",
		"children":             []any{},
		"emailAddresses":       []any{},
		"homeAddress":          map[string]any{},
		"businessAddress":      map[string]any{},
		"otherAddress":         map[string]any{},
	}
	for k, v := range it.props {
		if !strings.HasPrefix(k, "__") {
			out[k] = v
		}
	}
	return out
}

// contactBody parses and checks a contact body.
func contactBody(body map[string]any) (parsed, error) { return contactBodyOf("contact", body) }

// contactBodyOf parses a body of a type that takes
// singleValueExtendedProperties inline (contact, event).
func contactBodyOf(typeName string, body map[string]any) (parsed, error) {
	props, navs, err := parseBody(typeName, body, "singleValueExtendedProperties")
	if err != nil {
		return parsed{}, err
	}
	p := parsed{props: props}
	if v, ok := navs["singleValueExtendedProperties"]; ok {
		p.ext, err = parseExtProps(v)
	}
	return p, err
}

// autoName fills displayName from the name parts when the client did not
// set one, as Outlook does.
func autoName(it *item, explicit bool) {
	if explicit {
		it.props["__autoName"] = false
		return
	}
	if auto, set := it.props["__autoName"].(bool); set && !auto {
		return
	}
	var parts []string
	for _, k := range []string{"givenName", "middleName", "surname"} {
		if s, _ := it.props[k].(string); s != "" {
			parts = append(parts, s)
		}
	}
	it.props["displayName"] = strings.Join(parts, " ")
	it.props["__autoName"] = true
}

// contactFolder resolves {f} of contactFolders/{f}: the default folder's id
// or its well-known name "contacts".
func contactFolder(mb *mailbox, f string) bool {
	return f == mb.contactFolderID || strings.EqualFold(f, "contacts")
}

func (e *Emulator) createContact(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if f := r.PathValue("f"); f != "" && !contactFolder(mb, f) {
		notFound(w)
		return
	}
	p, ok := readParsed(w, r, contactBody)
	if !ok {
		return
	}
	it := &item{kind: "contact", id: newItemID(), parent: mb.contactFolderID, props: p.props, ext: p.ext}
	_, named := p.props["displayName"]
	autoName(it, named)
	e.insert(mb, it)
	out := renderContact(it)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/contacts/$entity")
	w.Header().Set("Location", baseURL(r)+"/v1.0/users('"+mb.id+"')/contacts('"+it.id+"')")
	writeJSON(w, http.StatusCreated, out)
}

// liveContact finds contacts/{id}, answering 404 when there is none.
func liveContact(w http.ResponseWriter, r *http.Request, mb *mailbox) *item {
	it := mb.live("contact", r.PathValue("id"))
	if it == nil {
		notFound(w)
	}
	return it
}

func (e *Emulator) getContact(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	q, err := parseQuery(r, "contact")
	if err != nil {
		writeErr(w, err)
		return
	}
	it := liveContact(w, r, mb)
	if it == nil {
		return
	}
	out := q.decorate(it, renderContact(it))
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/contacts/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) updateContact(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	it := liveContact(w, r, mb)
	if it == nil {
		return
	}
	if !checkIfMatch(w, r, it.etag()) {
		return
	}
	p, ok := readParsed(w, r, contactBody)
	if !ok {
		return
	}
	merge(it.props, p.props)
	_, named := p.props["displayName"]
	autoName(it, named)
	it.setExt(p.ext)
	e.touch(mb, it, "updated")
	out := renderContact(it)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/contacts/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) deleteContact(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	e.remove(w, r, mb, liveContact(w, r, mb))
}

func (e *Emulator) listContacts(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if f := r.PathValue("f"); f != "" && !contactFolder(mb, f) {
		notFound(w)
		return
	}
	q, err := parseQuery(r, "contact")
	if err != nil {
		writeErr(w, err)
		return
	}
	var values []map[string]any
	for _, it := range mb.liveItems("contact", q.matches) {
		values = append(values, q.decorate(it, renderContact(it)))
	}
	writePage(w, r, metadata(r, "users('"+mb.id+"')/contacts"), orEmptyMaps(values), q)
}

func (e *Emulator) listContactFolders(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": metadata(r, "users('"+mb.id+"')/contactFolders"),
		"value":          []any{contactFolderJSON(mb)},
	})
}

func (e *Emulator) getContactFolder(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if !contactFolder(mb, r.PathValue("f")) {
		notFound(w)
		return
	}
	out := contactFolderJSON(mb)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/contactFolders/$entity")
	writeJSON(w, http.StatusOK, out)
}

func contactFolderJSON(mb *mailbox) map[string]any {
	return map[string]any{"id": mb.contactFolderID, "displayName": "Contacts", "parentFolderId": folderID("root:" + mb.upn)}
}
