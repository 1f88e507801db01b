package graphemu

import (
	"net/http"
	"strings"
)

// mailboxHandler serves a route under /v1.0/users/{u}/ with the mailbox
// resolved and the store locked.
type mailboxHandler func(w http.ResponseWriter, r *http.Request, mb *mailbox)

// routes is the /v1.0 surface. The patterns double as the route names of
// Counters.Requests (without /v1.0).
func (e *Emulator) routes() *http.ServeMux {
	m := http.NewServeMux()
	mbx := func(pattern string, h mailboxHandler) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			e.mu.Lock()
			defer e.mu.Unlock()
			mb := e.byKey[strings.ToLower(r.PathValue("u"))]
			if mb == nil {
				writeError(w, http.StatusNotFound, "ErrorInvalidUser", "The requested user '"+r.PathValue("u")+"' is invalid.")
				return
			}
			h(w, r, mb)
		})
	}
	const u = "/v1.0/users/{u}"
	m.HandleFunc("GET /v1.0/users", e.listUsers)
	mbx("GET "+u, e.getUser)

	mbx("GET "+u+"/contactFolders", e.listContactFolders)
	mbx("GET "+u+"/contactFolders/{f}", e.getContactFolder)
	mbx("GET "+u+"/contactFolders/{f}/contacts", e.listContacts)
	mbx("POST "+u+"/contactFolders/{f}/contacts", e.createContact)
	mbx("GET "+u+"/contactFolders/{f}/contacts/delta", func(w http.ResponseWriter, r *http.Request, mb *mailbox) {
		if !contactFolder(mb, r.PathValue("f")) {
			notFound(w)
			return
		}
		e.delta(w, r, mb, "contacts", mb.contactFolderID)
	})
	mbx("GET "+u+"/contacts", e.listContacts)
	mbx("POST "+u+"/contacts", e.createContact)
	mbx("GET "+u+"/contacts/delta", func(w http.ResponseWriter, r *http.Request, mb *mailbox) {
		e.delta(w, r, mb, "contacts", mb.contactFolderID)
	})
	mbx("GET "+u+"/contacts/{id}", e.getContact)
	mbx("PATCH "+u+"/contacts/{id}", e.updateContact)
	mbx("DELETE "+u+"/contacts/{id}", e.deleteContact)

	mbx("GET "+u+"/calendar", e.getCalendar)
	mbx("GET "+u+"/calendars", e.listCalendars)
	mbx("GET "+u+"/events", e.listEvents)
	mbx("POST "+u+"/events", e.createEvent)
	mbx("GET "+u+"/events/{id}", e.getEvent)
	mbx("PATCH "+u+"/events/{id}", e.updateEvent)
	mbx("DELETE "+u+"/events/{id}", e.deleteEvent)
	mbx("GET "+u+"/events/{id}/instances", e.calendarView)
	mbx("GET "+u+"/calendarView", e.calendarView)
	mbx("GET "+u+"/calendarView/delta", func(w http.ResponseWriter, r *http.Request, mb *mailbox) {
		e.delta(w, r, mb, "events", mb.calendarID)
	})

	const l = u + "/todo/lists/{l}"
	mbx("GET "+u+"/todo/lists", e.listTaskLists)
	mbx("GET "+l, e.getTaskList)
	mbx("GET "+l+"/tasks", e.listTasks)
	mbx("POST "+l+"/tasks", e.createTask)
	mbx("GET "+l+"/tasks/delta", func(w http.ResponseWriter, r *http.Request, mb *mailbox) {
		if e.taskList(w, r, mb) {
			e.delta(w, r, mb, "tasks", mb.listID)
		}
	})
	mbx("GET "+l+"/tasks/{t}", e.getTask)
	mbx("PATCH "+l+"/tasks/{t}", e.updateTask)
	mbx("DELETE "+l+"/tasks/{t}", e.deleteTask)
	mbx("GET "+l+"/tasks/{t}/linkedResources", e.listLinked)
	mbx("POST "+l+"/tasks/{t}/linkedResources", e.createLinked)
	mbx("GET "+l+"/tasks/{t}/linkedResources/{r}", e.getLinked)
	mbx("PATCH "+l+"/tasks/{t}/linkedResources/{r}", e.updateLinked)
	mbx("DELETE "+l+"/tasks/{t}/linkedResources/{r}", e.deleteLinked)

	m.HandleFunc("POST /v1.0/subscriptions", e.createSubscription)
	m.HandleFunc("GET /v1.0/subscriptions", e.listSubscriptions)
	m.HandleFunc("GET /v1.0/subscriptions/{id}", e.getSubscription)
	m.HandleFunc("PATCH /v1.0/subscriptions/{id}", e.renewSubscription)
	m.HandleFunc("DELETE /v1.0/subscriptions/{id}", e.deleteSubscription)
	m.HandleFunc("POST /v1.0/subscriptions/{id}/reauthorize", func(w http.ResponseWriter, r *http.Request) {
		// Reauthorizing is what a reauthorizationRequired lifecycle event
		// asks for; app-only tokens here never lose access, so it only
		// needs the subscription to exist.
		if e.subscriptionOf(w, r) != nil {
			w.WriteHeader(http.StatusNoContent)
		}
	})

	m.HandleFunc("/v1.0/me/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow. The emulator issues app-only tokens: use /users/{id or userPrincipalName}/...")
	})
	m.HandleFunc("/v1.0/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+r.URL.Path+"' (method "+r.Method+"): the emulator serves the routes listed in its README.")
	})
	return m
}

func userJSON(mb *mailbox) map[string]any {
	return map[string]any{"id": mb.id, "userPrincipalName": mb.upn, "displayName": mb.name, "mail": mb.upn}
}

func (e *Emulator) listUsers(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	values := []any{}
	for _, mb := range e.mailboxes {
		values = append(values, userJSON(mb))
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": metadata(r, "users"), "value": values})
}

func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	out := userJSON(mb)
	out["@odata.context"] = metadata(r, "users/$entity")
	writeJSON(w, http.StatusOK, out)
}

func calendarJSON(mb *mailbox) map[string]any {
	return map[string]any{
		"@odata.etag": `W/"` + mb.calendarID[:16] + `"`, "id": mb.calendarID, "name": "Calendar", "color": "auto", "hexColor": "",
		"isDefaultCalendar": true, "changeKey": mb.calendarID[:16], "canShare": true, "canViewPrivateItems": true, "canEdit": true,
		"isRemovable": false, "isTallyingResponses": true, "allowedOnlineMeetingProviders": []any{"teamsForBusiness"},
		"defaultOnlineMeetingProvider": "teamsForBusiness",
		"owner":                        map[string]any{"name": mb.name, "address": mb.upn},
	}
}

func (e *Emulator) getCalendar(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	out := calendarJSON(mb)
	out["@odata.context"] = metadata(r, "users('"+mb.id+"')/calendar/$entity")
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) listCalendars(w http.ResponseWriter, r *http.Request, mb *mailbox) {
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": metadata(r, "users('"+mb.id+"')/calendars"), "value": []any{calendarJSON(mb)}})
}
