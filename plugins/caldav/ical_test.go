package caldav

import (
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

func calText(lines ...string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VCALENDAR\r\n"
}

// TestClientICalendar reads what other clients write: Windows and
// vendor-prefixed TZIDs, DURATION instead of DTEND, DATE starts without an
// end, ordinal BYDAY, and a rule no canonical pattern can say.
func TestClientICalendar(t *testing.T) {
	berlin := func(y int, m time.Month, d, h int) sdk.Value {
		loc, _ := time.LoadLocation("Europe/Berlin")
		return sdk.TimeIn(time.Date(y, m, d, h, 0, 0, 0, loc), "Europe/Berlin")
	}
	for _, tc := range []struct {
		name  string
		event []string
		want  sdk.Fields
		err   string
	}{
		{"windows zone", []string{"DTSTART;TZID=W. Europe Standard Time:20300301T100000", "DTEND;TZID=W. Europe Standard Time:20300301T110000"},
			sdk.Fields{"start": berlin(2030, 3, 1, 10), "end": berlin(2030, 3, 1, 11), "all_day": sdk.Bool(false)}, ""},
		{"vendor prefix and duration", []string{"DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20300301T100000", "DURATION:PT90M"},
			sdk.Fields{"start": berlin(2030, 3, 1, 10), "end": sdk.TimeIn(berlin(2030, 3, 1, 10).TimeVal().Add(90*time.Minute), "Europe/Berlin")}, ""},
		{"date without end", []string{"DTSTART;VALUE=DATE:20300301"},
			sdk.Fields{"all_day": sdk.Bool(true), "start": sdk.TimeIn(time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC), ""), "end": sdk.TimeIn(time.Date(2030, 3, 2, 0, 0, 0, 0, time.UTC), "")}, ""},
		{"ordinal byday", []string{"DTSTART:20300312T100000Z", "RRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", "EXDATE:20300426T100000Z,20300531T100000Z"},
			sdk.Fields{"recurrence": sdk.Map(map[string]sdk.Value{"pattern": sdk.String("relative_monthly"), "interval": sdk.Int(1), "days_of_week": sdk.Strings("friday"),
				"index": sdk.String("last"), "range": sdk.String("numbered"), "count": sdk.Int(3), "start_date": sdk.String("2030-03-12"),
				"cancelled": sdk.List(sdk.TimeIn(time.Date(2030, 4, 26, 10, 0, 0, 0, time.UTC), ""), sdk.TimeIn(time.Date(2030, 5, 31, 10, 0, 0, 0, time.UTC), ""))})}, ""},
		{"hourly rule", []string{"DTSTART:20300312T100000Z", "RRULE:FREQ=DAILY;BYHOUR=9,17"}, nil, "BYHOUR"},
		{"secondly", []string{"DTSTART:20300312T100000Z", "RRULE:FREQ=SECONDLY"}, nil, "FREQ=SECONDLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := calText(append(append([]string{"BEGIN:VEVENT", "UID:x", "DTSTAMP:20300101T000000Z"}, tc.event...), "END:VEVENT")...)
			it, err := parseCal(text)
			if err != nil {
				t.Fatal(err)
			}
			f, err := readEvent(it)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				if !f[k].Equal(want) {
					t.Errorf("%s: got %v, want %v", k, f[k], want)
				}
			}
		})
	}
}

// TestVTimezone checks the written VTIMEZONE against Go's zone database:
// the offsets around the change to summer time in 2030.
func TestVTimezone(t *testing.T) {
	tz := vtimezone("Europe/Berlin", 2030)
	var found bool
	for _, o := range tz.Children {
		if o.Props.Get("DTSTART").Value == "20300331T020000" {
			found = o.Name == "DAYLIGHT" && o.Props.Get("TZOFFSETFROM").Value == "+0100" && o.Props.Get("TZOFFSETTO").Value == "+0200"
		}
	}
	if !found {
		t.Errorf("no DAYLIGHT observance from +0100 to +0200 at 2030-03-31 02:00 in %+v", tz.Children)
	}
	if vtimezone("Not/AZone", 2030) != nil {
		t.Error("a zone Go does not know got a VTIMEZONE")
	}
}
