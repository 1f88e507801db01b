package crm

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/syncgate/syncgate/internal/winzones"
	"github.com/syncgate/syncgate/sdk"
)

// Dataverse keeps the time zone an activity was entered in as an integer
// code (utcconversiontimezonecode): Microsoft's time zone index values,
// which the timezonedefinition table pairs with Windows zone names. The
// Windows names here are CLDR's, so internal/winzones takes them on to
// IANA; where the index table uses an older name, CLDR's successor is used.
var zoneCodes = map[int]string{
	0: "Dateline Standard Time", 1: "UTC-11", 2: "Hawaiian Standard Time", 3: "Alaskan Standard Time",
	4: "Pacific Standard Time", 10: "Mountain Standard Time", 13: "Mountain Standard Time (Mexico)",
	15: "US Mountain Standard Time", 20: "Central Standard Time", 25: "Canada Central Standard Time",
	30: "Central Standard Time (Mexico)", 33: "Central America Standard Time", 35: "Eastern Standard Time",
	40: "US Eastern Standard Time", 45: "SA Pacific Standard Time", 50: "Atlantic Standard Time",
	55: "SA Western Standard Time", 56: "Pacific SA Standard Time", 60: "Newfoundland Standard Time",
	65: "E. South America Standard Time", 70: "SA Eastern Standard Time", 73: "Greenland Standard Time",
	75: "UTC-02", 80: "Azores Standard Time", 83: "Cape Verde Standard Time", 85: "GMT Standard Time",
	90: "Greenwich Standard Time", 92: "UTC", 95: "Central Europe Standard Time",
	100: "Central European Standard Time", 105: "Romance Standard Time", 110: "W. Europe Standard Time",
	113: "W. Central Africa Standard Time", 115: "E. Europe Standard Time", 120: "Egypt Standard Time",
	125: "FLE Standard Time", 130: "GTB Standard Time", 135: "Israel Standard Time",
	140: "South Africa Standard Time", 145: "Russian Standard Time", 150: "Arab Standard Time",
	155: "E. Africa Standard Time", 158: "Arabic Standard Time", 160: "Iran Standard Time",
	165: "Arabian Standard Time", 170: "Caucasus Standard Time", 175: "Afghanistan Standard Time",
	180: "Ekaterinburg Standard Time", 185: "West Asia Standard Time", 190: "India Standard Time",
	193: "Nepal Standard Time", 195: "Central Asia Standard Time", 200: "Sri Lanka Standard Time",
	201: "N. Central Asia Standard Time", 203: "Myanmar Standard Time", 205: "SE Asia Standard Time",
	207: "North Asia Standard Time", 210: "China Standard Time", 215: "Singapore Standard Time",
	220: "Taipei Standard Time", 225: "W. Australia Standard Time", 227: "North Asia East Standard Time",
	230: "Korea Standard Time", 235: "Tokyo Standard Time", 240: "Yakutsk Standard Time",
	245: "AUS Central Standard Time", 250: "Cen. Australia Standard Time", 255: "AUS Eastern Standard Time",
	260: "E. Australia Standard Time", 265: "Tasmania Standard Time", 270: "Vladivostok Standard Time",
	275: "West Pacific Standard Time", 280: "Central Pacific Standard Time", 285: "Fiji Standard Time",
	290: "New Zealand Standard Time", 300: "Tonga Standard Time",
}

// utcCode is the code of Coordinated Universal Time.
const utcCode = 92

var windowsToCode = func() map[string]int {
	m := map[string]int{}
	for code, name := range zoneCodes {
		if prev, ok := m[name]; !ok || code < prev {
			m[name] = code
		}
	}
	return m
}()

// zoneOfCode returns the IANA zone of a Dataverse zone code; ok is false for
// a code the table does not know, whose times are then read in UTC.
func zoneOfCode(code int64) (string, bool) {
	name, ok := zoneCodes[int(code)]
	if !ok {
		return "", false
	}
	iana, ok := winzones.IANA(name)
	if iana == "UTC" {
		iana = ""
	}
	return iana, ok
}

// codeOfZone returns the Dataverse zone code of an IANA zone ("" is UTC); ok
// is false for a zone with no Windows equivalent.
func codeOfZone(iana string) (int, bool) {
	if iana == "" || iana == "UTC" || iana == "Etc/UTC" {
		return utcCode, true
	}
	name, ok := winzones.Windows(iana)
	if !ok {
		return 0, false
	}
	code, ok := windowsToCode[name]
	return code, ok
}

// readTime reads a UTC column as an instant in zone.
func readTime(r row, col, zone string) (sdk.Value, bool) {
	t, ok := r.time(col)
	if !ok {
		return sdk.Null, false
	}
	return sdk.TimeIn(t, zone), true
}

// rowZone is the IANA zone of a row's utcconversiontimezonecode ("" for UTC
// or a code without an equivalent, which c logs).
func (c *Connector) rowZone(r row) string {
	code, ok := r.int("utcconversiontimezonecode")
	if !ok {
		return ""
	}
	zone, ok := zoneOfCode(code)
	if !ok {
		c.warn("unknown Dataverse time zone code; times are read in UTC", "utcconversiontimezonecode", code)
	}
	return zone
}

// inZone returns t in the IANA zone, or in UTC if this machine does not
// know the zone.
func inZone(t time.Time, zone string) time.Time {
	if zone == "" {
		return t.UTC()
	}
	if loc, err := time.LoadLocation(zone); err == nil {
		return t.In(loc)
	}
	return t.UTC()
}

// zoneColumn is where an activity keeps the zone code of its times.
const zoneColumn = "utcconversiontimezonecode"

// hasZones reports whether t has the zone code column, asking the org once
// per table. Every Dataverse activity table has it; a table without it (a
// trimmed-down org or emulator) is still synced, its times in UTC, and the
// operator is told once.
func (c *Connector) hasZones(ctx context.Context, cl *client, t *table) (bool, error) {
	if !slices.Contains(t.cols, zoneColumn) {
		return false, nil
	}
	c.mu.Lock()
	has, known := c.zones[t.set]
	c.mu.Unlock()
	if known {
		return has, nil
	}
	_, err := cl.do(ctx, request{method: http.MethodGet, url: t.set + "?$select=" + zoneColumn + "&$top=1"})
	switch {
	case err == nil:
		has = true
	case sdk.IsKind(err, sdk.ErrPermanent):
		c.warn("the table has no time zone column: its times are read and written in UTC, their zones are not kept",
			"table", t.logical, "column", zoneColumn, "error", err)
	default:
		return false, err
	}
	c.mu.Lock()
	c.zones[t.set] = has
	c.mu.Unlock()
	return has, nil
}
