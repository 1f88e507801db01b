package dataverseemu

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// apiError is an answer in the Web API error shape {"error":{"code","message"}}
// (compose-http-requests-handle-errors.md).
type apiError struct {
	status  int
	code    string
	msg     string
	headers map[string]string
	// annotations are the @Microsoft.PowerApps.CDS.* details sent only when
	// the request asked for them with Prefer: odata.include-annotations.
	annotations object
}

func (e *apiError) write(w http.ResponseWriter) {
	for k, v := range e.headers {
		w.Header().Set(k, v)
	}
	writeError(w, e.status, e.code, e.msg, e.annotations...)
}

func writeError(w http.ResponseWriter, status int, code, msg string, extra ...field) {
	inner := object{{"code", code}, {"message", msg}}
	inner = append(inner, extra...)
	writeJSON(w, status, object{{"error", inner}})
}

func badRequest(code, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, msg: msg}
}

// Codes the service uses; see the error reference of the Web API docs.
const (
	codeQuery       = "0x80060888" // OData URI or payload names something the type does not have
	codePayload     = "0x80048d19" // a value in the payload cannot be converted
	codeNotExist    = "0x80040217" // ObjectDoesNotExist
	codeExpired     = "0x80044352" // ExpiredVersionStamp
	codeDuplicate   = "0x80040237" // DuplicateRecord
	codePluginError = "0x80040265" // raised by a plug-in (InvalidPluginExecutionException)
)

func notFound(t *table, id string) *apiError {
	return &apiError{status: http.StatusNotFound, code: codeNotExist, msg: t.logical + " With Id = " + id + " Does Not Exist"}
}

// field and object keep JSON members in the order the service writes them
// (annotations first), which encoding/json's maps would not.
type field struct {
	k string
	v any
}

type object []field

func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := marshal(f.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	writeJSONType(w, status, "application/json; odata.metadata=minimal", body)
}

// marshal is json.Marshal without HTML escaping: the service writes the '&'
// of a nextLink as it is, not as \u0026.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func writeJSONType(w http.ResponseWriter, status int, ctype string, body any) {
	b, err := marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// preferences parses the Prefer headers into name → value ("" when the
// preference has no value).
func preferences(r *http.Request) map[string]string {
	m := map[string]string{}
	for _, h := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(h, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			k, v, _ := strings.Cut(p, "=")
			m[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return m
}

func hasPreference(r *http.Request, name string) bool {
	_, ok := preferences(r)[name]
	return ok
}

func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// escapeCookie percent-encodes s the way the service writes paging cookies:
// the outer cookie keeps '=' and '/' and uses upper-case hex, the inner one
// (lower) escapes them too, in lower-case hex, as the documented samples show.
func escapeCookie(s string, lower bool) string {
	const upperHex, lowerHex = "0123456789ABCDEF", "0123456789abcdef"
	hex := upperHex
	if lower {
		hex = lowerHex
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (!lower && (c == '=' || c == '/')) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
