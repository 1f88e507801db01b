package core

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Kind is the type of a Value.
type Kind uint8

// The kinds a Value may have. They match the types of the canonical schema.
const (
	KindNull Kind = iota
	KindString
	KindInt
	KindFloat
	KindBool
	KindTime
	KindList
	KindMap
)

var kindNames = [...]string{"null", "string", "int", "float", "bool", "timestamp", "list", "map"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Value is one typed field value. The zero Value is null. A timestamp keeps
// the IANA zone it was expressed in, so that a zone is never silently
// converted away.
type Value struct {
	kind Kind
	s    string // string; zone name for timestamps
	i    int64  // int; unix nanoseconds for timestamps
	f    float64
	b    bool
	l    []Value
	m    map[string]Value
}

// Null is the null value.
var Null = Value{}

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Int returns an integer value.
func Int(i int64) Value { return Value{kind: KindInt, i: i} }

// Float returns a floating-point value.
func Float(f float64) Value { return Value{kind: KindFloat, f: f} }

// Bool returns a boolean value.
func Bool(b bool) Value { return Value{kind: KindBool, b: b} }

// Time returns a timestamp value at t's instant, in t's location. A location
// named "Local" is recorded as UTC: a zone must be a real IANA name.
func Time(t time.Time) Value {
	zone := t.Location().String()
	if zone == "Local" || zone == "UTC" {
		zone = ""
	}
	return Value{kind: KindTime, i: t.UnixNano(), s: zone}
}

// TimeIn returns a timestamp value for the instant t, expressed in the IANA
// zone named zone ("" means UTC). The zone is kept even if this machine's
// time zone database does not know it.
func TimeIn(t time.Time, zone string) Value {
	if zone == "UTC" {
		zone = ""
	}
	return Value{kind: KindTime, i: t.UnixNano(), s: zone}
}

// List returns a list value.
func List(items ...Value) Value { return Value{kind: KindList, l: items} }

// Map returns a map value.
func Map(entries map[string]Value) Value { return Value{kind: KindMap, m: entries} }

// Strings returns a list of string values.
func Strings(items ...string) Value {
	l := make([]Value, len(items))
	for i, s := range items {
		l[i] = String(s)
	}
	return List(l...)
}

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Str returns the string, or "" if v is not a string.
func (v Value) Str() string {
	if v.kind != KindString {
		return ""
	}
	return v.s
}

// IntVal returns the integer, or 0 if v is not an int.
func (v Value) IntVal() int64 {
	if v.kind != KindInt {
		return 0
	}
	return v.i
}

// FloatVal returns the number as a float (ints convert), or 0.
func (v Value) FloatVal() float64 {
	switch v.kind {
	case KindFloat:
		return v.f
	case KindInt:
		return float64(v.i)
	}
	return 0
}

// BoolVal returns the boolean, or false if v is not a bool.
func (v Value) BoolVal() bool { return v.kind == KindBool && v.b }

// TimeVal returns the instant in its zone (UTC if the zone is empty or
// unknown to this machine), or the zero time if v is not a timestamp.
func (v Value) TimeVal() time.Time {
	if v.kind != KindTime {
		return time.Time{}
	}
	t := time.Unix(0, v.i).UTC()
	if v.s != "" {
		if loc, err := time.LoadLocation(v.s); err == nil {
			t = t.In(loc)
		}
	}
	return t
}

// Zone returns a timestamp's IANA zone name ("" means UTC).
func (v Value) Zone() string {
	if v.kind != KindTime {
		return ""
	}
	return v.s
}

// UnixNanos returns a timestamp's instant in nanoseconds since the epoch.
func (v Value) UnixNanos() int64 {
	if v.kind != KindTime {
		return 0
	}
	return v.i
}

// ListVal returns the items of a list, or nil.
func (v Value) ListVal() []Value {
	if v.kind != KindList {
		return nil
	}
	return v.l
}

// MapVal returns the entries of a map, or nil.
func (v Value) MapVal() map[string]Value {
	if v.kind != KindMap {
		return nil
	}
	return v.m
}

// Equal reports whether two values are the same. Timestamps are equal when
// they are the same instant in the same zone; floats compare by value with
// NaN equal to NaN.
func (v Value) Equal(o Value) bool {
	if v.kind != o.kind {
		return false
	}
	switch v.kind {
	case KindNull:
		return true
	case KindString:
		return v.s == o.s
	case KindInt:
		return v.i == o.i
	case KindFloat:
		return v.f == o.f || (math.IsNaN(v.f) && math.IsNaN(o.f))
	case KindBool:
		return v.b == o.b
	case KindTime:
		return v.i == o.i && v.s == o.s
	case KindList:
		if len(v.l) != len(o.l) {
			return false
		}
		for i := range v.l {
			if !v.l[i].Equal(o.l[i]) {
				return false
			}
		}
		return true
	case KindMap:
		if len(v.m) != len(o.m) {
			return false
		}
		for k, x := range v.m {
			y, ok := o.m[k]
			if !ok || !x.Equal(y) {
				return false
			}
		}
		return true
	}
	return false
}

// GoString renders the value for test failure messages.
func (v Value) GoString() string { return v.String() }

// String renders the value in a compact, deterministic form (maps sorted).
func (v Value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v Value) write(b *strings.Builder) {
	switch v.kind {
	case KindNull:
		b.WriteString("null")
	case KindString:
		fmt.Fprintf(b, "%q", v.s)
	case KindInt:
		fmt.Fprintf(b, "%d", v.i)
	case KindFloat:
		fmt.Fprintf(b, "%g", v.f)
	case KindBool:
		fmt.Fprintf(b, "%t", v.b)
	case KindTime:
		b.WriteString(time.Unix(0, v.i).UTC().Format(time.RFC3339Nano))
		if v.s != "" {
			b.WriteString("[" + v.s + "]")
		}
	case KindList:
		b.WriteByte('[')
		for i, x := range v.l {
			if i > 0 {
				b.WriteString(", ")
			}
			x.write(b)
		}
		b.WriteByte(']')
	case KindMap:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(v.m)) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(b, "%s: ", k)
			v.m[k].write(b)
		}
		b.WriteByte('}')
	}
}

// jsonValue is the tagged JSON form of a Value: exactly one member is set, so
// that an int stays an int and a timestamp keeps its zone through JSON.
type jsonValue struct {
	String *string           `json:"string,omitempty"`
	Int    *int64            `json:"int,omitempty"`
	Float  *float64          `json:"float,omitempty"`
	Bool   *bool             `json:"bool,omitempty"`
	Time   *jsonTime         `json:"timestamp,omitempty"`
	List   *[]Value          `json:"list,omitempty"`
	Map    *map[string]Value `json:"map,omitempty"`
}

type jsonTime struct {
	At   time.Time `json:"at"`
	Zone string    `json:"zone,omitempty"`
}

// MarshalJSON encodes the value in its tagged form; null is JSON null.
func (v Value) MarshalJSON() ([]byte, error) {
	var j jsonValue
	switch v.kind {
	case KindNull:
		return []byte("null"), nil
	case KindString:
		j.String = &v.s
	case KindInt:
		j.Int = &v.i
	case KindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return nil, fmt.Errorf("float value %v cannot be encoded", v.f)
		}
		j.Float = &v.f
	case KindBool:
		j.Bool = &v.b
	case KindTime:
		j.Time = &jsonTime{At: time.Unix(0, v.i).UTC(), Zone: v.s}
	case KindList:
		l := v.l
		if l == nil {
			l = []Value{}
		}
		j.List = &l
	case KindMap:
		m := v.m
		if m == nil {
			m = map[string]Value{}
		}
		j.Map = &m
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the tagged form written by MarshalJSON.
func (v *Value) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*v = Null
		return nil
	}
	var j jsonValue
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	n := 0
	if j.String != nil {
		*v, n = String(*j.String), n+1
	}
	if j.Int != nil {
		*v, n = Int(*j.Int), n+1
	}
	if j.Float != nil {
		*v, n = Float(*j.Float), n+1
	}
	if j.Bool != nil {
		*v, n = Bool(*j.Bool), n+1
	}
	if j.Time != nil {
		*v, n = TimeIn(j.Time.At, j.Time.Zone), n+1
	}
	if j.List != nil {
		*v, n = List(*j.List...), n+1
	}
	if j.Map != nil {
		*v, n = Map(*j.Map), n+1
	}
	if n != 1 {
		return fmt.Errorf("value %s: want exactly one of string, int, float, bool, timestamp, list, map", data)
	}
	return nil
}

// Fields is an item's field values by canonical field name.
type Fields map[string]Value

// Equal reports whether two field sets hold the same values; a missing field
// and a null field are the same.
func (f Fields) Equal(o Fields) bool {
	for k, v := range f {
		if !v.Equal(o[k]) {
			return false
		}
	}
	for k, v := range o {
		if _, ok := f[k]; !ok && !v.IsNull() {
			return false
		}
	}
	return true
}

// Clone returns a shallow copy of f.
func (f Fields) Clone() Fields {
	c := make(Fields, len(f))
	for k, v := range f {
		c[k] = v
	}
	return c
}
