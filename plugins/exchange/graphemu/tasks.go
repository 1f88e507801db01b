package graphemu

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// renderTask shows a todoTask as Graph does (todotask-create.json): no
// changeKey, its version is @odata.etag; unset dateTimeTimeZone values are
// left out.
func renderTask(it *item) map[string]any {
	out := map[string]any{
		"@odata.etag":              it.etag(),
		"id":                       it.id,
		"importance":               "normal",
		"isReminderOn":             false,
		"status":                   "notStarted",
		"title":                    "",
		"createdDateTime":          it.created.Format(time.RFC3339Nano),
		"lastModifiedDateTime":     it.modified.Format(time.RFC3339Nano),
		"bodyLastModifiedDateTime": it.modified.Format(time.RFC3339Nano),
		"hasAttachments":           false,
		"categories":               []any{},
		"body":                     map[string]any{"content": "", "contentType": "text"},
	}
	for k, v := range it.props {
		if !strings.HasPrefix(k, "__") {
			out[k] = v
		}
	}
	return out
}

// taskBody parses and checks a todoTask body; dateTimeTimeZone values are
// stored in UTC, which is how To Do returns them (todotask-update.json).
func taskBody(body map[string]any) (parsed, error) {
	props, navs, err := parseBody("todoTask", body, "linkedResources")
	if err != nil {
		return parsed{}, err
	}
	for _, k := range []string{"dueDateTime", "startDateTime", "reminderDateTime", "completedDateTime"} {
		if v, ok := props[k]; ok && v != nil {
			t, err := parseDTZ(v)
			if err != nil {
				return parsed{}, &queryError{400, "invalidRequest", "Invalid " + k + ": " + err.Error()}
			}
			props[k] = dtz(t, "UTC")
		}
	}
	var linked []map[string]any
	if v, ok := navs["linkedResources"]; ok {
		arr, ok := v.([]any)
		if !ok {
			return parsed{}, badBodyf("The property 'linkedResources' expects a collection of linkedResource objects.")
		}
		for _, x := range arr {
			lr, err := linkedResourceBody(x)
			if err != nil {
				return parsed{}, err
			}
			linked = append(linked, lr)
		}
	}
	return parsed{props: props, linked: linked}, nil
}

// linkedResourceBody parses one linkedResource and gives it an id.
func linkedResourceBody(v any) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badBodyf("A linkedResource must be a JSON object.")
	}
	props, _, err := parseBody("linkedResource", obj)
	if err != nil {
		return nil, err
	}
	lr := map[string]any{"id": newGUID(), "webUrl": nil, "applicationName": nil, "displayName": nil, "externalId": nil}
	for k, x := range props {
		lr[k] = x
	}
	return lr, nil
}

// taskList resolves {l}: the default list's id.
func (e *Emulator) taskList(w http.ResponseWriter, r *http.Request, mb *mailbox) bool {
	if r.PathValue("l") != mb.listID {
		notFound(w)
		return false
	}
	return true
}

func (e *Emulator) liveTask(w http.ResponseWriter, r *http.Request, mb *mailbox) *item {
	if !e.taskList(w, r, mb) {
		return nil
	}
	it := mb.live("todoTask", r.PathValue("t"))
	if it == nil {
		notFound(w)
	}
	return it
}

// applyStatus sets completedDateTime when a task is completed, as To Do does.
func applyStatus(it *item, props map[string]any) {
	st, ok := props["status"]
	if !ok {
		return
	}
	if st == "completed" {
		if _, set := props["completedDateTime"]; !set {
			it.props["completedDateTime"] = dtz(time.Now(), "UTC")
		}
	} else {
		delete(it.props, "completedDateTime")
	}
}

func (e *Emulator) createTask(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if !e.taskList(w, r, mb) {
		return
	}
	p, ok := readParsed(w, r, taskBody)
	if !ok {
		return
	}
	it := &item{kind: "todoTask", id: newItemID(), parent: mb.listID, props: p.props, linked: p.linked}
	applyStatus(it, p.props)
	e.insert(mb, it)
	out := renderTask(it)
	if p.linked != nil {
		out["linkedResources"] = linkedJSON(p.linked)
	}
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/todo/lists('"+mb.listID+"')/tasks/$entity")
	writeJSON(w, http.StatusCreated, out)
}

func (e *Emulator) getTask(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	q, err := parseQuery(r, "todoTask")
	if err != nil {
		writeErr(w, err)
		return
	}
	it := e.liveTask(w, r, mb)
	if it == nil {
		return
	}
	out := q.decorate(it, renderTask(it))
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/todo/lists('"+mb.listID+"')/tasks/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) updateTask(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	it := e.liveTask(w, r, mb)
	if it == nil || !checkIfMatch(w, r, it.etag()) {
		return
	}
	p, ok := readParsed(w, r, taskBody)
	if !ok {
		return
	}
	merge(it.props, p.props)
	applyStatus(it, p.props)
	it.linked = append(it.linked, p.linked...)
	e.touch(mb, it, "updated")
	out := renderTask(it)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/todo/lists('"+mb.listID+"')/tasks/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) deleteTask(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	e.remove(w, r, mb, e.liveTask(w, r, mb))
}

func (e *Emulator) listTasks(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if !e.taskList(w, r, mb) {
		return
	}
	q, err := parseQuery(r, "todoTask")
	if err != nil {
		writeErr(w, err)
		return
	}
	var values []map[string]any
	for _, it := range mb.liveItems("todoTask", q.matches) {
		values = append(values, q.decorate(it, renderTask(it)))
	}
	writePage(w, r, metadata(r, "users('"+mb.id+"')/todo/lists('"+mb.listID+"')/tasks"), orEmptyMaps(values), q)
}

func taskListJSON(mb *mailbox) map[string]any {
	return map[string]any{"@odata.etag": mb.listETag, "id": mb.listID, "displayName": "Tasks", "isOwner": true, "isShared": false, "wellknownListName": "defaultList"}
}

func (e *Emulator) listTaskLists(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": metadata(r, "users('"+mb.id+"')/todo/lists"),
		"value":          []any{taskListJSON(mb)},
	})
}

func (e *Emulator) getTaskList(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if !e.taskList(w, r, mb) {
		return
	}
	out := taskListJSON(mb)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/todo/lists/$entity")
	writeJSON(w, http.StatusOK, out)
}

// Linked resources: tasks/{t}/linkedResources[/{r}]. A change to them is a
// change of the task (a new etag, a delta entry).

func (e *Emulator) listLinked(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	it := e.liveTask(w, r, mb)
	if it == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": metadata(r, "users('"+mb.id+"')/todo/lists('"+mb.listID+"')/tasks('"+it.id+"')/linkedResources"),
		"value":          linkedJSON(it.linked),
	})
}

func (e *Emulator) createLinked(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	it := e.liveTask(w, r, mb)
	if it == nil {
		return
	}
	p, ok := readParsed(w, r, func(body map[string]any) (parsed, error) {
		lr, err := linkedResourceBody(body)
		return parsed{linked: []map[string]any{lr}}, err
	})
	if !ok {
		return
	}
	lr := p.linked[0]
	it.linked = append(it.linked, lr)
	e.touch(mb, it, "updated")
	out := map[string]any{"@odata.context": metadata(r, "users('"+mb.id+"')/todo/lists('"+mb.listID+"')/tasks('"+it.id+"')/linkedResources/$entity")}
	for k, v := range lr {
		out[k] = v
	}
	writeJSON(w, http.StatusCreated, out)
}

// linked finds linkedResources/{r} of a task.
func (e *Emulator) linked(w http.ResponseWriter, r *http.Request, mb *mailbox) (*item, int) {
	it := e.liveTask(w, r, mb)
	if it == nil {
		return nil, -1
	}
	for i, lr := range it.linked {
		if lr["id"] == r.PathValue("r") {
			return it, i
		}
	}
	notFound(w)
	return nil, -1
}

func (e *Emulator) getLinked(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	if it, i := e.linked(w, r, mb); it != nil {
		writeJSON(w, http.StatusOK, it.linked[i])
	}
}

func (e *Emulator) updateLinked(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	it, i := e.linked(w, r, mb)
	if it == nil {
		return
	}
	p, ok := readParsed(w, r, plainBody("linkedResource"))
	if !ok {
		return
	}
	for k, v := range p.props {
		it.linked[i][k] = v
	}
	e.touch(mb, it, "updated")
	writeJSON(w, http.StatusOK, it.linked[i])
}

func (e *Emulator) deleteLinked(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	it, i := e.linked(w, r, mb)
	if it == nil {
		return
	}
	it.linked = slices.Delete(it.linked, i, i+1)
	e.touch(mb, it, "updated")
	w.WriteHeader(http.StatusNoContent)
}
