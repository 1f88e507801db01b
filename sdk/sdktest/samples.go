package sdktest

import (
	"fmt"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// Sample returns valid canonical fields for entity, different for each i: a
// starting point for a Backend's Sample. A backend that cannot hold some of
// these fields should return its own. Appointments carry an attendee and
// service appointments a resource, so that routing keys are exercised.
func Sample(entity string, i int) sdk.Fields {
	n := fmt.Sprint(i)
	start := time.Date(2030, time.March, 1+i%28, 9, 0, 0, 0, time.UTC)
	switch entity {
	case "contact":
		return sdk.Fields{
			"given_name":   sdk.String("Ada" + n),
			"surname":      sdk.String("Lovelace"),
			"display_name": sdk.String("Ada" + n + " Lovelace"),
			"company":      sdk.String("Analytical Engines"),
			"emails": sdk.List(sdk.Map(map[string]sdk.Value{
				"address": sdk.String("ada" + n + "@example.com"), "name": sdk.String("Ada" + n), "kind": sdk.String("work"),
			})),
			"phones": sdk.List(sdk.Map(map[string]sdk.Value{
				"number": sdk.String(fmt.Sprintf("+44 20 7946 %04d", i)), "kind": sdk.String("business"),
			})),
			"birthday":   sdk.String("1815-12-10"),
			"categories": sdk.Strings("sdktest"),
		}
	case "appointment", "service_appointment":
		f := sdk.Fields{
			"subject":          sdk.String("sdktest meeting " + n),
			"body":             sdk.String("Agenda " + n),
			"body_type":        sdk.String("text"),
			"start":            sdk.TimeIn(start, "Europe/Berlin"),
			"end":              sdk.TimeIn(start.Add(time.Hour), "Europe/Berlin"),
			"all_day":          sdk.Bool(false),
			"location":         sdk.String("Room " + n),
			"organizer":        sdk.String("organizer@example.com"),
			"attendees":        sdk.List(party("guest"+n+"@example.com", "required")),
			"show_as":          sdk.String("busy"),
			"importance":       sdk.String("normal"),
			"reminder_minutes": sdk.Int(15),
			"categories":       sdk.Strings("sdktest"),
		}
		if entity == "service_appointment" {
			f["resources"] = sdk.List(party("technician"+n+"@example.com", "resource"))
			f["customers"] = sdk.List(party("customer"+n+"@example.com", "required"))
			f["service"] = sdk.String("Installation")
		}
		return f
	case "task":
		return sdk.Fields{
			"subject":          sdk.String("sdktest task " + n),
			"body":             sdk.String("Steps " + n),
			"body_type":        sdk.String("text"),
			"due":              sdk.TimeIn(start, "America/New_York"),
			"status":           sdk.String("not_started"),
			"percent_complete": sdk.Int(0),
			"importance":       sdk.String("high"),
		}
	case "email":
		return sdk.Fields{
			"subject":     sdk.String("sdktest message " + n),
			"from":        sdk.String("sender" + n + "@example.com"),
			"to":          sdk.List(sdk.String("recipient@example.com")),
			"sent_at":     sdk.Time(start),
			"body":        sdk.String("Hello " + n),
			"body_type":   sdk.String("text"),
			"direction":   sdk.String("incoming"),
			"received_at": sdk.Time(start.Add(time.Minute)),
		}
	}
	return sdk.Fields{}
}

// Change returns f with one visible change: its title (subject, or a
// contact's display name) gets a suffix. f itself is not modified.
func Change(entity string, f sdk.Fields) sdk.Fields {
	c := f.Clone()
	field := "subject"
	if entity == "contact" {
		field = "display_name"
	}
	c[field] = sdk.String(f[field].Str() + " (changed)")
	return c
}

func party(address, role string) sdk.Value {
	return sdk.Map(map[string]sdk.Value{
		"address":  sdk.String(address),
		"role":     sdk.String(role),
		"response": sdk.String("none"),
	})
}
