// Package winzones maps Windows time zone names (what Exchange and Dynamics
// store, e.g. "W. Europe Standard Time") to IANA names (what the canonical
// model carries, e.g. "Europe/Berlin") and back, with the table CLDR
// publishes for exactly this purpose (windowsZones.xml, Unicode CLDR 41,
// embedded as shipped by Debian's unicode-cldr-core).
package winzones

import (
	_ "embed"
	"encoding/xml"
	"strings"
)

//go:embed windowsZones.xml
var windowsZonesXML []byte

var (
	toIANA    map[string]string // Windows name → the IANA zone of territory 001
	toWindows map[string]string // every IANA zone listed → its Windows name
)

func init() {
	var doc struct {
		Zones []struct {
			Other     string `xml:"other,attr"`
			Territory string `xml:"territory,attr"`
			Type      string `xml:"type,attr"`
		} `xml:"windowsZones>mapTimezones>mapZone"`
	}
	if err := xml.Unmarshal(windowsZonesXML, &doc); err != nil {
		panic("winzones: embedded windowsZones.xml: " + err.Error())
	}
	toIANA = map[string]string{}
	toWindows = map[string]string{}
	for _, z := range doc.Zones {
		iana := strings.Fields(z.Type)
		if len(iana) == 0 {
			continue
		}
		if z.Territory == "001" {
			toIANA[strings.ToLower(z.Other)] = iana[0]
			// The 001 zone is the canonical way back, whatever a
			// territory line said before.
			toWindows[iana[0]] = z.Other
		}
		for _, name := range iana {
			if _, seen := toWindows[name]; !seen {
				toWindows[name] = z.Other
			}
		}
	}
}

// IANA returns the IANA zone for a Windows zone name (case-insensitive).
// "UTC" and IANA names are passed through, since Graph and Dataverse answer
// with either, depending on headers and on how an item was made.
func IANA(windows string) (string, bool) {
	if windows == "UTC" || windows == "Etc/UTC" {
		return "UTC", true
	}
	if z, ok := toIANA[strings.ToLower(strings.TrimSpace(windows))]; ok {
		return z, true
	}
	if _, ok := toWindows[windows]; ok {
		return windows, true
	}
	return "", false
}

// Windows returns the Windows zone name for an IANA zone.
func Windows(iana string) (string, bool) {
	if iana == "UTC" || iana == "Etc/UTC" {
		return "UTC", true
	}
	z, ok := toWindows[iana]
	return z, ok
}
