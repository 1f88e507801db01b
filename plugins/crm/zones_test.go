package crm

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// TestZoneCodes: every Dataverse zone code names a zone CLDR and this
// machine know, and the common zones go there and back.
func TestZoneCodes(t *testing.T) {
	for code, name := range zoneCodes {
		iana, ok := zoneOfCode(int64(code))
		if !ok {
			t.Errorf("code %d (%s) has no IANA zone", code, name)
			continue
		}
		if _, err := time.LoadLocation(iana); iana != "" && err != nil {
			t.Errorf("code %d: zone %q does not load: %v", code, iana, err)
		}
		if back, ok := codeOfZone(iana); !ok || zoneCodes[back] != name {
			t.Errorf("code %d (%s) → %q → code %d (%s)", code, name, iana, back, zoneCodes[back])
		}
	}
	for iana, code := range map[string]int{"Europe/Berlin": 110, "America/New_York": 35, "America/Los_Angeles": 4,
		"Europe/London": 85, "Asia/Tokyo": 235, "Australia/Sydney": 255, "": 92, "UTC": 92, "Europe/Paris": 105} {
		if got, ok := codeOfZone(iana); !ok || got != code {
			t.Errorf("zone %q: code %d, want %d", iana, got, code)
		}
	}
	// A zone that is not the canonical one of its Windows zone comes back
	// as the canonical one: the same rules, another name.
	if code, _ := codeOfZone("Europe/Vienna"); code != 110 {
		t.Errorf("Europe/Vienna: code %d, want 110 (W. Europe)", code)
	}
	if _, ok := zoneOfCode(9999); ok {
		t.Error("code 9999 maps to a zone")
	}
	if _, ok := codeOfZone("Mars/Olympus_Mons"); ok {
		t.Error("an unknown zone has a code")
	}
}

// TestActivityZones: an activity's times read in the zone of its code and
// are written with the code of their zone; a code the table does not know
// reads in UTC.
func TestActivityZones(t *testing.T) {
	const id = "00000000-0000-0000-0000-0000000000aa"
	var code atomic.Int64
	code.Store(110)
	var written atomic.Value
	f := newFake(t, withUsers(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/activityparties"):
			w.Write([]byte(`{"value":[]}`))
		case r.Method == http.MethodGet && r.URL.Query().Get("$top") == "1":
			w.Write([]byte(`{"value":[]}`)) // the zone column exists
		case r.Method == http.MethodGet:
			fmt.Fprintf(w, `{"activityid":%q,"versionnumber":3,"subject":"s","scheduledstart":"2030-03-01T08:00:00Z",
				"scheduledend":"2030-03-01T09:00:00Z","utcconversiontimezonecode":%d}`, id, code.Load())
		default:
			b, _ := io.ReadAll(r.Body)
			written.Store(string(b))
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"activityid":%q,"versionnumber":4}`, id)
		}
	}))
	c := connectorFor(t, f)
	res, err := c.Fetch(t.Context(), "alice@contoso.com", "appointment", []string{id})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	start := res[0].Record.Fields["start"]
	if start.Zone() != "Europe/Berlin" || !start.TimeVal().Equal(time.Date(2030, 3, 1, 8, 0, 0, 0, time.UTC)) || start.TimeVal().Hour() != 9 {
		t.Errorf("start %v, want 09:00 in Europe/Berlin", start)
	}
	code.Store(9999)
	res, _ = c.Fetch(t.Context(), "alice@contoso.com", "appointment", []string{id})
	if z := res[0].Record.Fields["start"].Zone(); z != "" {
		t.Errorf("an unknown code read in zone %q, want UTC", z)
	}
	la, _ := time.LoadLocation("America/Los_Angeles")
	op := sdk.Op{Kind: sdk.OpCreate, CorrelationKey: "k", Fields: sdk.Fields{
		"subject": sdk.String("s"), "start": sdk.Time(time.Date(2030, 3, 1, 9, 0, 0, 0, la)), "end": sdk.Time(time.Date(2030, 3, 1, 10, 0, 0, 0, la))}}
	out, err := c.Apply(t.Context(), "alice@contoso.com", "appointment", []sdk.Op{op})
	if err != nil || out[0].Err != nil {
		t.Fatal(err, out[0].Err)
	}
	var body map[string]any
	json.Unmarshal([]byte(written.Load().(string)), &body)
	if body["utcconversiontimezonecode"] != float64(4) || body["scheduledstart"] != "2030-03-01T17:00:00Z" {
		t.Errorf("written %v; want code 4 (Pacific) and the start in UTC", body)
	}
}

// TestRecurrenceMapping: each canonical pattern goes to the series master's
// columns and back unchanged.
func TestRecurrenceMapping(t *testing.T) {
	days := func(d ...string) sdk.Value { return sdk.Strings(d...) }
	for name, m := range map[string]map[string]sdk.Value{
		"daily numbered": {"pattern": sdk.String("daily"), "interval": sdk.Int(2), "range": sdk.String("numbered"), "count": sdk.Int(10), "start_date": sdk.String("2030-03-01")},
		"weekly end date": {"pattern": sdk.String("weekly"), "interval": sdk.Int(1), "days_of_week": days("monday", "wednesday"),
			"first_day_of_week": sdk.String("monday"), "range": sdk.String("end_date"), "start_date": sdk.String("2030-03-04"), "end_date": sdk.String("2030-06-30")},
		"absolute monthly": {"pattern": sdk.String("absolute_monthly"), "interval": sdk.Int(1), "day_of_month": sdk.Int(15), "range": sdk.String("no_end"), "start_date": sdk.String("2030-03-15")},
		"relative monthly": {"pattern": sdk.String("relative_monthly"), "interval": sdk.Int(3), "days_of_week": days("friday"), "index": sdk.String("last"), "range": sdk.String("no_end"), "start_date": sdk.String("2030-03-29")},
		"absolute yearly":  {"pattern": sdk.String("absolute_yearly"), "interval": sdk.Int(1), "day_of_month": sdk.Int(10), "month": sdk.Int(12), "range": sdk.String("numbered"), "count": sdk.Int(5), "start_date": sdk.String("2030-12-10")},
		"relative yearly":  {"pattern": sdk.String("relative_yearly"), "interval": sdk.Int(1), "days_of_week": days("tuesday"), "index": sdk.String("second"), "month": sdk.Int(11), "range": sdk.String("no_end"), "start_date": sdk.String("2030-11-12")},
	} {
		t.Run(name, func(t *testing.T) {
			out := row{}
			if err := writeRecurrence(m, out); err != nil {
				t.Fatal(err)
			}
			// Through JSON, as the Web API would hand the row back.
			b, _ := json.Marshal(out)
			var r row
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.UseNumber()
			dec.Decode(&r)
			got, err := readRecurrence(r, "")
			if err != nil {
				t.Fatal(err)
			}
			if want := sdk.Map(m); !got.Equal(want) {
				t.Errorf("columns %s\nread back %v\nwant      %v", b, got, want)
			}
		})
	}
	// Dataverse's "every weekday" is a daily pattern with a flag; the
	// canonical model says weekly, Monday to Friday.
	got, err := readRecurrence(row{"recurrencepatterntype": json.Number("0"), "isweekdaypattern": true, "interval": json.Number("1"), "patternendtype": json.Number("1")}, "Europe/Berlin")
	if err != nil || got.MapVal()["pattern"].Str() != "weekly" || len(got.MapVal()["days_of_week"].ListVal()) != 5 || got.MapVal()["zone"].Str() != "Europe/Berlin" {
		t.Errorf("every weekday: %v %v", got, err)
	}
	if _, err := readRecurrence(row{"recurrencepatterntype": json.Number("9")}, ""); err == nil {
		t.Error("an undocumented pattern type was read")
	}
	for _, bad := range []map[string]sdk.Value{
		{"pattern": sdk.String("hourly")},
		{"pattern": sdk.String("daily"), "range": sdk.String("end_date")},
		{"pattern": sdk.String("daily"), "range": sdk.String("forever")},
	} {
		if err := writeRecurrence(bad, row{}); !sdk.IsKind(err, sdk.ErrPermanent) {
			t.Errorf("%v: got %v, want a permanent error", bad, err)
		}
	}
}
