package crm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/syncgate/syncgate/sdk"
)

// row is one Dataverse row as the Web API returns it: column names to JSON
// values, numbers kept as json.Number.
type row map[string]any

func (r row) str(col string) string {
	switch v := r[col].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func (r row) has(col string) bool { return r[col] != nil }

func (r row) int(col string) (int64, bool) {
	switch v := r[col].(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n, true
		}
		if f, err := v.Float64(); err == nil {
			return int64(f), true
		}
	case float64:
		return int64(v), true
	}
	return 0, false
}

func (r row) bool(col string) (bool, bool) {
	b, ok := r[col].(bool)
	return b, ok
}

// time reads a Dataverse date and time column (always UTC on the wire).
func (r row) time(col string) (time.Time, bool) {
	s := r.str(col)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// version is the row's version: its versionnumber, or the number in its
// weak etag W/"<n>" when the column was not selected.
func (r row) version() string {
	if v := r.str("versionnumber"); v != "" {
		return v
	}
	return etagVersion(r.str("@odata.etag"))
}

// etagVersion turns W/"123" into 123.
func etagVersion(etag string) string {
	etag = strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	return strings.Trim(etag, `"`)
}

// ifMatch turns a version back into the weak etag Dataverse compares.
func ifMatch(version string) string { return `W/"` + version + `"` }

// modified is the row's modifiedon, or the zero time.
func (r row) modified() time.Time {
	t, _ := r.time("modifiedon")
	return t
}

// isGUID reports whether s looks like a Dataverse id. Ids are spliced into
// URLs and OData filters, so anything else is refused before it gets there.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

// odataString quotes s as an OData string literal.
func odataString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Values from canonical fields to columns and back.

func strOrNil(v sdk.Value) any {
	if v.IsNull() || v.Str() == "" {
		return nil
	}
	return v.Str()
}

func setStr(f sdk.Fields, name string, r row, col string) {
	if s := r.str(col); s != "" {
		f[name] = sdk.String(s)
	}
}

// utc renders an instant the way Dataverse takes date and time columns.
func utc(v sdk.Value) any {
	if v.IsNull() {
		return nil
	}
	return time.Unix(0, v.UnixNanos()).UTC().Format("2006-01-02T15:04:05Z")
}

// wantKind fails an op whose field has the wrong kind: the engine validates
// fields against the schema, so this is a bug upstream, never retryable.
func wantKind(name string, v sdk.Value, k sdk.Kind) error {
	if v.IsNull() || v.Kind() == k {
		return nil
	}
	return sdk.NewError(sdk.ErrPermanent, "field %s: want %s, got %s", name, k, v.Kind())
}

// itoa is strconv.Itoa for the int64s of the SDK.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func errf(format string, args ...any) error {
	return sdk.NewError(sdk.ErrPermanent, "%s", fmt.Sprintf(format, args...))
}

// orFilters splits ids into batches of size and renders each as an OData
// "(term or term ...)" expression: queries by many ids stay short enough
// for any URL limit.
func orFilters(ids []string, size int, term func(id string) string) []string {
	var out []string
	for len(ids) > 0 {
		batch := ids[:min(len(ids), size)]
		ids = ids[len(batch):]
		terms := make([]string, len(batch))
		for i, id := range batch {
			terms[i] = term(id)
		}
		out = append(out, "("+strings.Join(terms, " or ")+")")
	}
	return out
}
