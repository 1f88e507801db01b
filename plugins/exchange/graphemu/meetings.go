package graphemu

import "strings"

// attendeeMailboxes returns the emulator's own mailboxes among an event's
// attendees, the organizer excepted.
func (e *Emulator) attendeeMailboxes(organizer *mailbox, props map[string]any) map[*mailbox]bool {
	out := map[*mailbox]bool{}
	atts, _ := props["attendees"].([]any)
	for _, a := range atts {
		a, _ := a.(map[string]any)
		addr, _ := a["emailAddress"].(map[string]any)
		s, _ := addr["address"].(string)
		if mb := e.byKey[strings.ToLower(strings.TrimSpace(s))]; mb != nil && mb != organizer {
			out[mb] = true
		}
	}
	return out
}

// copyOf finds an attendee's copy of a meeting by its iCalUId.
func copyOf(mb *mailbox, iCalUID string) *item {
	for _, it := range mb.items {
		if it.kind == "event" && !it.deleted && !it.organizer && it.seriesMasterID == "" && it.iCalUID == iCalUID {
			return it
		}
	}
	return nil
}

// invite sends a meeting to the attendees who are emulator users, as
// Exchange does when an organizer saves a meeting: each gets a copy with the
// same iCalUId in their calendar (before is nil on creation). Attendees
// taken off the meeting get their copy cancelled.
func (e *Emulator) invite(org *mailbox, ev *item, before map[string]any) {
	now := e.attendeeMailboxes(org, ev.props)
	unchanged := before != nil && jsonEqual(meetingProps(before), meetingProps(ev.props))
	for mb := range now {
		shared := meetingProps(ev.props)
		shared["organizer"] = map[string]any{"emailAddress": map[string]any{"name": org.name, "address": org.upn}}
		if c := copyOf(mb, ev.iCalUID); c != nil {
			if unchanged && c.props["isCancelled"] != true {
				continue // a change of the organizer's own properties (categories, reminders) sends nothing
			}
			for _, k := range sharedEventProps {
				delete(c.props, k)
			}
			for k, v := range shared {
				c.props[k] = v
			}
			e.touch(mb, c, "updated")
			continue
		}
		c := &item{kind: "event", id: newItemID(), parent: mb.calendarID, props: shared, iCalUID: ev.iCalUID}
		e.insert(mb, c)
		e.counters.InvitationsSent++
	}
	if before == nil {
		return
	}
	for mb := range e.attendeeMailboxes(org, before) {
		if !now[mb] {
			if c := copyOf(mb, ev.iCalUID); c != nil {
				cancel(c)
				e.touch(mb, c, "updated")
			}
		}
	}
}

// cancelMeeting marks the attendees' copies cancelled when the organizer
// deletes a meeting; Exchange keeps them until the attendee removes them.
func (e *Emulator) cancelMeeting(org *mailbox, ev *item) {
	for mb := range e.attendeeMailboxes(org, ev.props) {
		if c := copyOf(mb, ev.iCalUID); c != nil {
			cancel(c)
			e.touch(mb, c, "updated")
		}
	}
}

func cancel(c *item) {
	c.props["isCancelled"] = true
	if s, _ := c.props["subject"].(string); !strings.HasPrefix(s, "Canceled: ") {
		c.props["subject"] = "Canceled: " + s
	}
}

// meetingProps copies what a meeting shares with its attendees.
func meetingProps(props map[string]any) map[string]any {
	shared := map[string]any{}
	for _, k := range sharedEventProps {
		if v, ok := props[k]; ok {
			shared[k] = v
		}
	}
	return deepCopy(shared)
}
