package winzones

import (
	"testing"
	"time"
)

func TestKnownZones(t *testing.T) {
	for _, tc := range []struct{ windows, iana string }{
		{"W. Europe Standard Time", "Europe/Berlin"},
		{"Pacific Standard Time", "America/Los_Angeles"},
		{"GMT Standard Time", "Europe/London"},
		{"Tokyo Standard Time", "Asia/Tokyo"},
		{"eastern standard time", "America/New_York"},
	} {
		got, ok := IANA(tc.windows)
		if !ok || got != tc.iana {
			t.Errorf("IANA(%q) = %q, %v; want %q", tc.windows, got, ok, tc.iana)
		}
	}
	if w, ok := Windows("Europe/Paris"); !ok || w != "Romance Standard Time" {
		t.Errorf("Windows(Europe/Paris) = %q, %v", w, ok)
	}
	if w, ok := Windows("Europe/Berlin"); !ok || w != "W. Europe Standard Time" {
		t.Errorf("Windows(Europe/Berlin) = %q, %v", w, ok)
	}
	if _, ok := IANA("Mars Standard Time"); ok {
		t.Error("an unknown zone was mapped")
	}
	if z, ok := IANA("UTC"); !ok || z != "UTC" {
		t.Errorf("IANA(UTC) = %q, %v", z, ok)
	}
}

// TestEveryZoneLoads: every IANA name the table gives for a Windows zone is
// one Go's time package knows, so a mapped zone is always usable.
func TestEveryZoneLoads(t *testing.T) {
	if len(toIANA) < 130 {
		t.Fatalf("only %d Windows zones parsed", len(toIANA))
	}
	for w, z := range toIANA {
		if _, err := time.LoadLocation(z); err != nil {
			t.Errorf("%s → %s: %v", w, z, err)
		}
		if back, ok := Windows(z); !ok || back == "" {
			t.Errorf("%s → %s has no way back", w, z)
		}
	}
}
