package graphemu

import (
	"strings"
	"time"
)

// seed gives a mailbox demo data: three contacts, a single event, a weekly
// series of ten (this week's Monday on) whose second occurrence is an
// exception, and two tasks.
func (e *Emulator) seed(mb *mailbox) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range [][3]string{{"Ada", "Lovelace", "Analytical Engines Ltd"}, {"Grace", "Hopper", "Navy"}, {"Alan", "Turing", "Bletchley Park"}} {
		it := &item{kind: "contact", id: newItemID(), parent: mb.contactFolderID, props: map[string]any{
			"givenName": c[0], "surname": c[1], "companyName": c[2],
			"emailAddresses": []any{map[string]any{"name": c[0] + " " + c[1], "address": strings.ToLower(c[0]) + "@example.com"}},
		}}
		autoName(it, false)
		e.insert(mb, it)
	}
	const zone = "W. Europe Standard Time"
	loc, _ := loadZone(zone)
	now := time.Now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	at := func(d time.Time, h int) map[string]any { return dtz(d.Add(time.Duration(h)*time.Hour), zone) }

	single := &item{kind: "event", id: newItemID(), parent: mb.calendarID, organizer: true, iCalUID: icalUID(), props: map[string]any{
		"subject": "Quarterly review", "start": at(day.AddDate(0, 0, 2), 14), "end": at(day.AddDate(0, 0, 2), 15),
		"body": map[string]any{"contentType": "text", "content": "Numbers first, then plans."},
	}}
	e.insert(mb, single)
	master := &item{kind: "event", id: newItemID(), parent: mb.calendarID, organizer: true, iCalUID: icalUID(), props: map[string]any{
		"subject": "Weekly sync", "start": at(monday, 10), "end": at(monday, 11),
		"recurrence": map[string]any{
			"pattern": map[string]any{"type": "weekly", "interval": 1.0, "daysOfWeek": []any{"monday"}, "firstDayOfWeek": "monday"},
			"range":   map[string]any{"type": "numbered", "startDate": monday.Format(time.DateOnly), "numberOfOccurrences": 10.0, "recurrenceTimeZone": zone},
		},
	}}
	e.insert(mb, master)
	orig := monday.AddDate(0, 0, 7).Add(10 * time.Hour).UTC()
	exc := &item{kind: "event", id: occurrenceID(master.id, orig), parent: mb.calendarID, organizer: true,
		iCalUID: occurrenceICalUID(master.iCalUID, orig), seriesMasterID: master.id, originalStart: orig,
		props: map[string]any{"subject": "Weekly sync (moved)", "start": at(monday.AddDate(0, 0, 7), 11), "end": at(monday.AddDate(0, 0, 7), 12)}}
	e.insert(mb, exc)
	exc.createdAt = master.createdAt

	for _, t := range []string{"Call Ada about the engine", "Send the review agenda"} {
		e.insert(mb, &item{kind: "todoTask", id: newItemID(), parent: mb.listID, props: map[string]any{
			"title": t, "dueDateTime": dtz(day.AddDate(0, 0, 3), "UTC"),
		}})
	}
}

func icalUID() string {
	return "040000008200E00074C5B7101A82E00800000000" + strings.ToUpper(strings.ReplaceAll(newGUID(), "-", ""))
}
