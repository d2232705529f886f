package codecs

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// The JSON form of CBOR values, specified in docs/protocol.md §5. A value of the model that JSON has no
// literal for is written as a marker object: an object whose set of keys is
// exactly one of those below. A real map whose key set happens to be a
// marker's is wrapped in {"$object": ...}. Objects with any other key set,
// "$" keys included, are plain maps.

// marker identifies a marker object by its key set.
type marker int

const (
	markerNone      marker = iota
	markerBytes            // {"$bytes": "<base64url>"}
	markerTag              // {"$tag": n, "$value": v}
	markerMap              // {"$map": [[k, v], ...]}
	markerUndefined        // {"$undefined": true}
	markerFloat            // {"$float": "NaN" | "Infinity" | "-Infinity"}
	markerSimple           // {"$simple": n}
	markerObject           // {"$object": {...}}
)

// markerKind returns the marker whose key set is exactly m's.
func markerKind(m map[string]any) marker {
	switch len(m) {
	case 1:
		for k := range m {
			return markerByKey(k)
		}
	case 2:
		if _, ok := m["$tag"]; ok {
			if _, ok := m["$value"]; ok {
				return markerTag
			}
		}
	}
	return markerNone
}

// markerByKey returns the one-key marker with key k.
func markerByKey(k string) marker {
	switch k {
	case "$bytes":
		return markerBytes
	case "$map":
		return markerMap
	case "$undefined":
		return markerUndefined
	case "$float":
		return markerFloat
	case "$simple":
		return markerSimple
	case "$object":
		return markerObject
	}
	return markerNone
}

// formError is an error in the JSON form; kind is ErrJSONForm or
// ErrDuplicateKey.
type formError struct {
	kind   error
	detail string
}

func (e *formError) Error() string {
	return e.kind.Error() + ": " + e.detail
}

func (e *formError) Unwrap() error { return e.kind }

func badForm(detail string) error { return &formError{kind: ErrJSONForm, detail: detail} }

// finishObject turns a parsed object into the value it stands for. Its
// values are already converted, except that the object under a "$object"
// key was parsed literally (its own key set not yet read as a marker).
func finishObject(m map[string]any) (any, error) {
	kind := markerKind(m)
	switch kind {
	case markerNone:
		return finishLiteral(m)
	case markerObject:
		c, ok := m["$object"].(map[string]any)
		if !ok {
			return nil, badForm(`"$object" wants an object`)
		}
		return finishLiteral(c)
	case markerBytes:
		s, ok := m["$bytes"].(string)
		if !ok {
			return nil, badForm(`"$bytes" wants a base64url string`)
		}
		return decodeBase64(s)
	case markerTag:
		n, ok := uintOf(m["$tag"])
		if !ok {
			return nil, badForm(`"$tag" wants an integer in [0, 2^64-1]`)
		}
		if n <= 3 {
			content, err := detEnc.Marshal(m["$value"])
			if err != nil {
				return nil, badForm(`"$value": ` + err.Error())
			}
			if msg := tagContentError(n, content[0]); msg != "" {
				return nil, badForm(msg)
			}
		}
		return makeTag(n, m["$value"]), nil
	case markerMap:
		return pairsForm(m["$map"])
	case markerUndefined:
		if m["$undefined"] != true {
			return nil, badForm(`"$undefined" wants true`)
		}
		return Undefined{}, nil
	case markerFloat:
		switch m["$float"] {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return nil, badForm(`"$float" wants "NaN", "Infinity" or "-Infinity"`)
	case markerSimple:
		n, ok := uintOf(m["$simple"])
		if !ok || n > 255 || !Simple(n).valid() {
			return nil, badForm(`"$simple" wants an integer in [0, 19] or [32, 255]`)
		}
		return Simple(n), nil
	}
	return nil, badForm("unknown marker") // not reached
}

// finishLiteral returns m as a plain map, finishing the literally parsed
// object under its "$object" key if it has one.
func finishLiteral(m map[string]any) (map[string]any, error) {
	if c, ok := m["$object"].(map[string]any); ok {
		v, err := finishObject(c)
		if err != nil {
			return nil, err
		}
		m["$object"] = v
	}
	return m, nil
}

// pairsForm reads the content of a "$map" marker.
func pairsForm(v any) (any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, badForm(`"$map" wants an array of [key, value] pairs`)
	}
	m := make(Map, len(a))
	for i, e := range a {
		p, ok := e.([]any)
		if !ok || len(p) != 2 {
			return nil, badForm(`"$map" element ` + strconv.Itoa(i) + ` is not a [key, value] pair`)
		}
		m[i] = Pair{p[0], p[1]}
	}
	sorted, _, err := sortedPairs(m, "json")
	if err != nil {
		if ee, ok := err.(*encodeError); ok {
			return nil, &formError{kind: ee.kind, detail: ee.detail}
		}
		return nil, badForm(err.Error())
	}
	if t, ok := textKeys(sorted); ok {
		return t, nil
	}
	return sorted, nil
}

// uintOf returns v as a uint64 if it is a non-negative integer of the model.
func uintOf(v any) (uint64, bool) {
	switch n := v.(type) {
	case int64:
		return uint64(n), n >= 0
	case uint64:
		return n, true
	}
	return 0, false
}

// decodeBase64 decodes base64url or standard base64, with or without padding.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	enc := base64.RawURLEncoding
	if strings.ContainsAny(s, "+/") {
		enc = base64.RawStdEncoding
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil {
		return nil, badForm(`"$bytes": ` + strings.TrimPrefix(err.Error(), "illegal base64 data "))
	}
	return b, nil
}

// ToJSONValue returns the JSON form of a value of the model as plain JSON
// values (nil, bool, int64, uint64, float64, string, []any, map[string]any),
// following the rules of docs/protocol.md §5: byte strings, tags, maps with keys
// that are not text, undefined, simple values, NaN, ±Inf and bignums become
// marker objects, and a text map whose key set is a marker's is wrapped in
// {"$object": ...}. The pairs of a Map keep their order (a decoded Map is in
// deterministic order; JSON.Marshal sorts). Values outside the model are
// returned unchanged. Finite floats stay float64: the JSON codec writes them
// with a fraction or exponent so that they read back as floats.
func ToJSONValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64, uint64:
		return x
	case float64:
		if isNonFinite(x) {
			return map[string]any{"$float": floatName(x)}
		}
		return x
	case *big.Int:
		if x == nil {
			return nil
		}
		if n, ok := normBig(x).(*big.Int); ok {
			num, mag := bignumParts(n)
			return map[string]any{"$tag": int64(num), "$value": map[string]any{"$bytes": base64.RawURLEncoding.EncodeToString(mag)}}
		}
		return normBig(x)
	case []byte:
		return map[string]any{"$bytes": base64.RawURLEncoding.EncodeToString(x)}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ToJSONValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = ToJSONValue(e)
		}
		if markerKind(out) != markerNone {
			return map[string]any{"$object": out}
		}
		return out
	case Map:
		if t, ok := textKeys(x); ok && len(t) == len(x) {
			return ToJSONValue(t)
		}
		pairs := make([]any, len(x))
		for i, p := range x {
			pairs[i] = []any{ToJSONValue(p.Key), ToJSONValue(p.Value)}
		}
		return map[string]any{"$map": pairs}
	case Tag:
		if b, ok := x.Content.([]byte); ok && (x.Number == 2 || x.Number == 3) {
			return ToJSONValue(bignum(x.Number, b))
		}
		return map[string]any{"$tag": uintValue(x.Number), "$value": ToJSONValue(x.Content)}
	case Undefined:
		return map[string]any{"$undefined": true}
	case Simple:
		return map[string]any{"$simple": int64(x)}
	}
	return v
}

// FromJSONValue reads the JSON form: it turns plain JSON values, as
// Unmarshal of the JSON codec or encoding/json return them, back into the
// value model, reading marker objects (docs/protocol.md §5). It accepts nil, bool,
// string, int, int64, uint64, float64, json.Number, *big.Int, []any and
// map[string]any. Errors match ErrJSONForm or ErrDuplicateKey. The JSON
// codec's Unmarshal already applies it.
func FromJSONValue(v any) (any, error) { return fromJSON(v, false) }

func fromJSON(v any, literal bool) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64, uint64, float64:
		return x, nil
	case int:
		return int64(x), nil
	case *big.Int:
		if x == nil {
			return nil, nil
		}
		return normBig(x), nil
	case json.Number:
		r := jsonReader{data: []byte(x), lim: Limits{}.withDefaults()}
		n, err := r.top()
		if err != nil {
			return nil, badForm("json.Number " + quote(string(x)) + " is not a number")
		}
		switch n.(type) {
		case int64, uint64, float64:
			return n, nil
		}
		return nil, badForm("json.Number " + quote(string(x)) + " is not a number")
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromJSON(e, false)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := fromJSON(e, k == "$object")
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		if literal {
			return out, nil
		}
		return finishObject(out)
	}
	return nil, badForm("unexpected Go type " + typeName(v))
}

// floatName names a non-finite float in the JSON form.
func floatName(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case f > 0:
		return "Infinity"
	}
	return "-Infinity"
}

// uintValue returns n as int64 when it fits, as the JSON decoder would.
func uintValue(n uint64) any {
	if n <= math.MaxInt64 {
		return int64(n)
	}
	return n
}
