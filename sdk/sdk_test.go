package sdk_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/syncgate/syncgate/internal/golden"
	"github.com/syncgate/syncgate/sdk"
)

// TestModelDoc keeps docs/canonical-model.md, the people's copy of the
// canonical model, generated from the schema in code.
func TestModelDoc(t *testing.T) {
	const path = "../docs/canonical-model.md"
	want := sdk.SchemaMarkdown()
	golden.Check(t, "../docs/canonical-model.md", want, "go test ./sdk -run TestModelDoc -update")
}

func TestValueJSONRoundTrip(t *testing.T) {
	berlin := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	values := []sdk.Value{
		sdk.Null, sdk.String("Ünïcode ✓"), sdk.Int(-42), sdk.Float(2.5), sdk.Bool(true), sdk.Bool(false),
		sdk.TimeIn(berlin, "Europe/Berlin"), sdk.TimeIn(berlin, "Not/AZone"), sdk.Time(berlin),
		sdk.List(), sdk.Strings("a", "b"),
		sdk.Map(map[string]sdk.Value{"kind": sdk.String("work"), "n": sdk.Int(1), "nested": sdk.List(sdk.Map(nil))}),
	}
	for _, v := range values {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("marshal %v: %v", v, err)
		}
		var back sdk.Value
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("unmarshal %s: %v", raw, err)
		}
		if !back.Equal(v) {
			t.Errorf("%v → %s → %v", v, raw, back)
		}
	}
	// An int stays an int (not a float64, as plain JSON would make it).
	var v sdk.Value
	json.Unmarshal([]byte(`{"int":9007199254740993}`), &v)
	if v.Kind() != sdk.KindInt || v.IntVal() != 9007199254740993 {
		t.Fatalf("int decoded as %v", v)
	}
	for _, bad := range []string{`{}`, `{"int":1,"string":"x"}`, `"bare"`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}

func TestTimeKeepsItsZone(t *testing.T) {
	loc, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Skip("no time zone database on this machine")
	}
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, loc)
	v := sdk.Time(at)
	if v.Zone() != "America/Los_Angeles" || !v.TimeVal().Equal(at) || v.TimeVal().Location().String() != "America/Los_Angeles" {
		t.Fatalf("zone lost: %v", v)
	}
	if sdk.Time(at.UTC()).Equal(v) {
		t.Fatal("the same instant in another zone compared equal: a zone change is a change")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		entity string
		fields sdk.Fields
		want   []string // substrings of the diagnostics, in order; none = valid
	}{
		{"valid contact", "contact", sdk.Fields{
			"given_name": sdk.String("Ada"), "birthday": sdk.String("1815-12-10"),
			"emails": sdk.List(sdk.Map(map[string]sdk.Value{"address": sdk.String("ada@example.com"), "kind": sdk.String("work")})),
			"notes":  sdk.Null,
		}, nil},
		{"unknown entity", "lead", sdk.Fields{}, []string{"error at lead: unknown entity"}},
		{"unknown field", "contact", sdk.Fields{"nickname": sdk.String("x")}, []string{`error at nickname: unknown field; contact has no field "nickname"`}},
		{"wrong type", "task", sdk.Fields{"percent_complete": sdk.String("50")}, []string{"error at percent_complete: wrong type; want int, got string"}},
		{"enum", "task", sdk.Fields{"status": sdk.String("done")}, []string{`"done" is not one of not_started`}},
		{"date", "contact", sdk.Fields{"birthday": sdk.String("10/12/1815")}, []string{"malformed date"}},
		{"nested", "appointment", sdk.Fields{"attendees": sdk.List(sdk.Map(map[string]sdk.Value{"role": sdk.String("boss"), "x": sdk.Int(1)}))},
			[]string{"error at attendees.0.role: value not allowed", "error at attendees.0.x: unknown field"}},
		{"service appointment has resources", "service_appointment", sdk.Fields{"resources": sdk.List(), "subject": sdk.String("Repair")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := sdk.Validate(c.entity, c.fields)
			if len(ds) != len(c.want) {
				t.Fatalf("got %d diagnostics %v, want %d", len(ds), ds, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(ds[i].String(), w) {
					t.Errorf("diagnostic %d = %q, want it to contain %q", i, ds[i], w)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	err := error(sdk.Throttled(1500*time.Millisecond, sdk.ThrottleScopeWide, "mailbox %s", "a@b"))
	if !sdk.IsKind(err, sdk.ErrThrottled) || err.Error() != "throttled: mailbox a@b (retry after 1.5s, scope)" {
		t.Fatalf("%v", err)
	}
	if e := sdk.AsError(os.ErrDeadlineExceeded); e.Kind != sdk.ErrRetryable {
		t.Fatalf("an untyped error became %v, want retryable", e.Kind)
	}
	if sdk.AsError(nil) != nil {
		t.Fatal("AsError(nil) is not nil")
	}
}
