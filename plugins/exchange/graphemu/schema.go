package graphemu

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// graph-v1-schema.json is a copy of ../shared/fixtures/graph-v1-schema.json
// (the Graph v1.0 types the emulator serves, extracted from the service's
// CSDL). The emulator checks request bodies against it, so that a property
// Graph does not know is a 400 here too; the tests check that the copy still
// matches the shared fixture.
//
//go:embed graph-v1-schema.json
var schemaJSON []byte

// schemaType is one entry of graph-v1-schema.json.
type schemaType struct {
	Kind                    string            `json:"kind"`
	Properties              map[string]string `json:"properties"`
	NavigationProperties    map[string]string `json:"navigationProperties"`
	AllProperties           map[string]string `json:"allProperties"`
	AllNavigationProperties map[string]string `json:"allNavigationProperties"`
	Members                 []string          `json:"members"`
}

// props returns declared plus inherited structural properties.
func (t *schemaType) props() map[string]string {
	if t.AllProperties != nil {
		return t.AllProperties
	}
	return t.Properties
}

// navs returns declared plus inherited navigation properties.
func (t *schemaType) navs() map[string]string {
	if t.AllNavigationProperties != nil {
		return t.AllNavigationProperties
	}
	return t.NavigationProperties
}

var schema = func() map[string]*schemaType {
	var s map[string]*schemaType
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		panic("graphemu: embedded graph-v1-schema.json: " + err.Error())
	}
	return s
}()

// readOnly lists, per type, the properties Graph computes itself: a body may
// carry them (clients echo what they read), and they are dropped, not stored.
var readOnly = map[string][]string{
	"contact": {"id", "createdDateTime", "lastModifiedDateTime", "changeKey", "parentFolderId"},
	"event": {"id", "createdDateTime", "lastModifiedDateTime", "changeKey", "iCalUId", "type", "seriesMasterId",
		"webLink", "bodyPreview", "hasAttachments", "isOrganizer", "responseStatus", "onlineMeeting",
		"onlineMeetingUrl", "isCancelled", "originalStart", "cancelledOccurrences", "isDraft"},
	"todoTask":       {"id", "createdDateTime", "lastModifiedDateTime", "hasAttachments", "bodyLastModifiedDateTime"},
	"linkedResource": {"id"},
	"subscription":   {"id", "applicationId", "creatorId"},
}

// badBody is a request body Graph would refuse: the message says which
// property and why, as Graph's RequestBodyRead errors do.
type badBody struct{ msg string }

func (b *badBody) Error() string { return b.msg }

func badBodyf(format string, args ...any) error { return &badBody{fmt.Sprintf(format, args...)} }

// parseBody checks a POST or PATCH body for typeName against the schema and
// returns its structural properties, normalised (enum members in Graph's
// casing, numbers as float64), without read-only ones. Navigation properties
// the caller accepts inline (nav) are returned apart, unchecked, for the
// caller to parse.
func parseBody(typeName string, body map[string]any, nav ...string) (props, navs map[string]any, err error) {
	t := schema[typeName]
	props, navs = map[string]any{}, map[string]any{}
	for k, v := range body {
		if strings.Contains(k, "@") {
			continue // annotations such as @odata.type
		}
		pt, ok := t.props()[k]
		if !ok {
			if _, isNav := t.navs()[k]; isNav && slices.Contains(nav, k) {
				navs[k] = v
				continue
			}
			return nil, nil, unknownProperty(k, typeName)
		}
		if slices.Contains(readOnly[typeName], k) {
			continue
		}
		nv, err := normalize(pt, v, k)
		if err != nil {
			return nil, nil, err
		}
		props[k] = nv
	}
	return props, navs, nil
}

func unknownProperty(name, typeName string) error {
	return badBodyf("The property '%s' does not exist on type 'microsoft.graph.%s'. Make sure to only use property names that are defined by the type.", name, typeName)
}

// normalize checks one JSON value against a CSDL type name.
func normalize(csdl string, v any, path string) (any, error) {
	if v == nil {
		return nil, nil
	}
	if inner, ok := strings.CutPrefix(csdl, "Collection("); ok {
		inner = strings.TrimSuffix(inner, ")")
		arr, ok := v.([]any)
		if !ok {
			return nil, badBodyf("The property '%s' expects a collection (JSON array) of %s.", path, inner)
		}
		out := make([]any, 0, len(arr))
		for i, x := range arr {
			nx, err := normalize(inner, x, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out = append(out, nx)
		}
		return out, nil
	}
	switch csdl {
	case "Edm.String", "Edm.Binary", "Edm.Guid":
		if _, ok := v.(string); !ok {
			return nil, badBodyf("Cannot convert the literal '%v' of property '%s' to the expected type 'Edm.String'.", v, path)
		}
		return v, nil
	case "Edm.Boolean":
		if _, ok := v.(bool); !ok {
			return nil, badBodyf("Cannot convert the literal '%v' of property '%s' to the expected type 'Edm.Boolean'.", v, path)
		}
		return v, nil
	case "Edm.Int32", "Edm.Int64", "Edm.Double", "Edm.Decimal", "Edm.Single":
		f, ok := v.(float64)
		if !ok || (strings.HasPrefix(csdl, "Edm.Int") && f != math.Trunc(f)) {
			return nil, badBodyf("Cannot convert the literal '%v' of property '%s' to the expected type '%s'.", v, path, csdl)
		}
		return f, nil
	case "Edm.DateTimeOffset":
		s, ok := v.(string)
		if ok {
			if _, err := parseDateTimeOffset(s); err == nil {
				return s, nil
			}
		}
		return nil, badBodyf("Cannot convert the literal '%v' of property '%s' to the expected type 'Edm.DateTimeOffset'.", v, path)
	case "Edm.Date":
		s, ok := v.(string)
		if ok {
			if _, err := time.Parse(time.DateOnly, s); err == nil {
				return s, nil
			}
		}
		return nil, badBodyf("Cannot convert the literal '%v' of property '%s' to the expected type 'Edm.Date'.", v, path)
	}
	name, ok := strings.CutPrefix(csdl, "graph.")
	t := schema[name]
	if !ok || t == nil {
		return v, nil // a type outside the extract (Edm.Stream and the like): taken as is
	}
	switch t.Kind {
	case "enum":
		s, ok := v.(string)
		if !ok {
			return nil, badBodyf("The property '%s' expects a string member of '%s'.", path, name)
		}
		for _, m := range t.Members {
			if strings.EqualFold(m, s) {
				return m, nil
			}
		}
		return nil, badBodyf("Requested value '%s' was not found for property '%s' (type 'microsoft.graph.%s'; one of %s).", s, path, name, strings.Join(t.Members, ", "))
	case "complex", "entity":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, badBodyf("The property '%s' expects a JSON object of type 'microsoft.graph.%s'.", path, name)
		}
		out := map[string]any{}
		for k, x := range obj {
			if strings.Contains(k, "@") {
				continue
			}
			pt, ok := t.props()[k]
			if !ok {
				return nil, unknownProperty(k, name)
			}
			nx, err := normalize(pt, x, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = nx
		}
		return out, nil
	}
	return v, nil
}

// parseDateTimeOffset accepts what Graph accepts for Edm.DateTimeOffset:
// RFC 3339 with any fraction, and (as the contact samples show for
// birthday) a bare date.
func parseDateTimeOffset(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Parse(time.DateOnly, s)
}
