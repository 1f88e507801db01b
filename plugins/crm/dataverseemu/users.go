package dataverseemu

import (
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// nameUUID derives a stable GUID from a name, so that a user keeps the same
// systemuserid and object id across emulator restarts.
func nameUUID(space, name string) string {
	h := sha1.Sum([]byte(space + ":" + strings.ToLower(name)))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// displayName turns alice.smith@example.com into "Alice Smith".
func displayName(email string) (first, last string) {
	local, _, _ := strings.Cut(email, "@")
	parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, p := range parts {
		rs := []rune(p)
		rs[0] = unicode.ToUpper(rs[0])
		parts[i] = string(rs)
	}
	if len(parts) == 0 {
		return email, ""
	}
	return parts[0], strings.Join(parts[1:], " ")
}

// addUser provisions one systemuser (callers hold no lock: New runs before
// the emulator is shared).
func (e *Emulator) addUser(email string) {
	if email == "" {
		return
	}
	for _, u := range e.users {
		if strings.EqualFold(u.Email, email) {
			return
		}
	}
	first, last := displayName(email)
	u := userInfo{Email: email, ID: nameUUID("systemuser", email), ObjectID: nameUUID("aad", email),
		FullName: strings.TrimSpace(first + " " + last)}
	t := e.schema["systemusers"]
	r := e.newRow(t, u.ID, "", nil)
	r.vals["internalemailaddress"] = email
	r.vals["domainname"] = email
	r.vals["firstname"] = first
	if last != "" {
		r.vals["lastname"] = last
	}
	r.vals["fullname"] = u.FullName
	r.vals["azureactivedirectoryobjectid"] = u.ObjectID
	r.vals["isdisabled"] = false
	r.vals["accessmode"] = int64(0)
	e.data[t.set].rows[u.ID] = r
	e.bump(r)
	e.users = append(e.users, u)
}

// seed creates demo data for every user through the same validation as the
// Web API, so that seeded rows look exactly like created ones.
func (e *Emulator) seed() {
	day := e.now().UTC().Truncate(24 * time.Hour)
	at := func(days, hour int) string {
		return day.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour).Format(timeLayout)
	}
	people := [][3]string{{"Ada", "Lovelace", "Analyst"}, {"Alan", "Turing", "Mathematician"}, {"Grace", "Hopper", "Rear Admiral"}}
	for i, u := range e.users {
		var contacts []string
		for j, p := range people {
			id := e.seedCreate("contacts", u.ID, map[string]any{
				"firstname": p[0], "lastname": p[1], "jobtitle": p[2],
				"emailaddress1": fmt.Sprintf("%s.%s.%d@example.org", strings.ToLower(p[0]), strings.ToLower(p[1]), i),
				"telephone1":    fmt.Sprintf("+1 555 01%02d%d", i, j), "address1_city": "London",
			})
			contacts = append(contacts, id)
		}
		party := func(mask int, set, id string) map[string]any {
			return map[string]any{"participationtypemask": mask, "partyid_" + strings.TrimSuffix(set, "s") + "@odata.bind": "/" + set + "(" + id + ")"}
		}
		e.seedCreate("appointments", u.ID, map[string]any{
			"subject": "Kick-off with " + people[0][0], "location": "Room 1",
			"scheduledstart": at(1, 9), "scheduledend": at(1, 10),
			"appointment_activity_parties": []any{party(7, "systemusers", u.ID), party(5, "contacts", contacts[0])},
		})
		e.seedCreate("appointments", u.ID, map[string]any{
			"subject": "Focus time", "scheduledstart": at(2, 14), "scheduledend": at(2, 16),
			"appointment_activity_parties": []any{party(7, "systemusers", u.ID)},
		})
		e.seedCreate("recurringappointmentmasters", u.ID, map[string]any{
			"subject": "Weekly sync", "location": "Online",
			"recurrencepatterntype": patternWeekly, "interval": 1, "daysofweekmask": 2 | 8, // Monday, Wednesday
			"patternstartdate": at(0, 0), "patternendtype": endOccurrences, "occurrences": 6,
			"starttime": at(0, 10), "endtime": at(0, 10) /* replaced by duration */, "duration": 30,
			"recurringappointmentmaster_activity_parties": []any{party(7, "systemusers", u.ID), party(5, "contacts", contacts[1])},
		})
		e.seedCreate("tasks", u.ID, map[string]any{"subject": "Send the proposal", "scheduledend": at(3, 17), "prioritycode": 2})
		e.seedCreate("tasks", u.ID, map[string]any{"subject": "Book travel", "scheduledend": at(5, 12), "percentcomplete": 50})
		e.seedCreate("serviceappointments", u.ID, map[string]any{
			"subject": "On-site service", "location": "Customer site",
			"scheduledstart": at(4, 13), "scheduledend": at(4, 15),
			"serviceappointment_activity_parties": []any{party(10, "systemusers", u.ID), party(11, "contacts", contacts[2])},
		})
	}
}

func (e *Emulator) seedCreate(set, owner string, body map[string]any) string {
	// round-trip through JSON so numbers arrive as json.Number, as from a request
	b, _ := json.Marshal(body)
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var m map[string]any
	_ = dec.Decode(&m)
	p, err := e.plan(e.schema[set], m, true)
	if err != nil {
		panic("dataverseemu: seed data is invalid: " + err.msg)
	}
	id, err := e.create(p, "", owner, nil, "")
	if err != nil {
		panic("dataverseemu: seed data is invalid: " + err.msg)
	}
	return id
}
