package codecs

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxEncodeDepth stops Marshal on values nested this deep, which only a
// cyclic value reaches.
const maxEncodeDepth = 10000

// appendJSON appends the JSON form of v (docs/protocol.md §5) to b: map keys sorted
// bytewise, no HTML escaping, no insignificant space.
func appendJSON(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return nil, &encodeError{codec: "json", kind: ErrUnsupported, detail: "nesting deeper than 10000 (a cyclic value?)"}
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case string:
		return appendString(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		return appendFloat(b, x), nil
	case []byte:
		return appendBytes(b, x), nil
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e, depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		return appendObject(b, x, depth)
	case Map:
		return appendMap(b, x, depth)
	case Tag:
		if c, ok := x.Content.([]byte); ok && (x.Number == 2 || x.Number == 3) {
			return appendJSON(b, bignum(x.Number, c), depth)
		}
		if x.Number <= 3 { // protocol.md §5.7, as the CBOR codec enforces it
			content, err := detEnc.Marshal(x.Content)
			if err != nil {
				return nil, &encodeError{codec: "json", kind: ErrUnsupported, detail: err.Error()}
			}
			if msg := tagContentError(x.Number, content[0]); msg != "" {
				return nil, &encodeError{codec: "json", kind: ErrUnsupported, detail: msg}
			}
		}
		b = append(b, `{"$tag":`...)
		b = strconv.AppendUint(b, x.Number, 10)
		b = append(b, `,"$value":`...)
		b, err := appendJSON(b, x.Content, depth+1)
		if err != nil {
			return nil, err
		}
		return append(b, '}'), nil
	case Undefined:
		return append(b, `{"$undefined":true}`...), nil
	case Simple:
		if !x.valid() {
			return nil, &encodeError{codec: "json", kind: ErrUnsupported, detail: "simple value " + strconv.Itoa(int(x))}
		}
		b = append(b, `{"$simple":`...)
		b = strconv.AppendUint(b, uint64(x), 10)
		return append(b, '}'), nil
	case *big.Int:
		if x == nil {
			return append(b, "null"...), nil
		}
		if n, ok := normBig(x).(*big.Int); ok {
			num, mag := bignumParts(n)
			b = append(b, `{"$tag":`...)
			b = strconv.AppendUint(b, num, 10)
			b = append(b, `,"$value":`...)
			b = appendBytes(b, mag)
			return append(b, '}'), nil
		}
		return appendJSON(b, normBig(x), depth)
	}
	return appendReflect(b, reflect.ValueOf(v), depth)
}

// appendObject writes a text map, wrapped in {"$object": ...} if its key
// set is a marker's (rule 9).
func appendObject(b []byte, m map[string]any, depth int) ([]byte, error) {
	if m == nil {
		return append(b, "{}"...), nil
	}
	wrap := markerKind(m) != markerNone
	if wrap {
		b = append(b, `{"$object":`...)
	}
	var buf [16]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendString(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendJSON(b, m[k], depth+1); err != nil {
			return nil, err
		}
	}
	b = append(b, '}')
	if wrap {
		b = append(b, '}')
	}
	return b, nil
}

// appendMap writes a Map as {"$map": [[k, v], ...]} in deterministic key
// order, or as an object when all its keys are text.
func appendMap(b []byte, m Map, depth int) ([]byte, error) {
	pairs, _, err := sortedPairs(m, "json")
	if err != nil {
		return nil, err
	}
	if t, ok := textKeys(pairs); ok {
		return appendObject(b, t, depth)
	}
	b = append(b, `{"$map":[`...)
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		if b, err = appendJSON(b, p.Key, depth+1); err != nil {
			return nil, err
		}
		b = append(b, ',')
		if b, err = appendJSON(b, p.Value, depth+1); err != nil {
			return nil, err
		}
		b = append(b, ']')
	}
	return append(b, "]}"...), nil
}

// appendBytes writes {"$bytes": "<base64url without padding>"}.
func appendBytes(b, x []byte) []byte {
	b = append(b, `{"$bytes":"`...)
	b = base64.RawURLEncoding.AppendEncode(b, x)
	return append(b, `"}`...)
}

// appendFloat writes a finite float as the shortest decimal that reads back
// to the same float64, always with a fraction or an exponent (1.0, not 1),
// in the format of encoding/json otherwise; NaN and ±Inf as {"$float": ...}.
func appendFloat(b []byte, f float64) []byte {
	if isNonFinite(f) {
		b = append(b, `{"$float":"`...)
		b = append(b, floatName(f)...)
		return append(b, `"}`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Like encoding/json: e-07 becomes e-7.
		n := len(b)
		if n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	if bytes.IndexByte(b[start:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

// appendString writes a JSON string: '"', '\\' and control characters
// escaped (\n, \r, \t, \b, \f or \u00XX), U+2028 and U+2029 escaped as in
// encoding/json, no HTML escaping. Invalid UTF-8 is an error.
func appendString(b []byte, s string) ([]byte, error) {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return nil, &encodeError{codec: "json", kind: ErrInvalidUTF8, detail: "string " + strconv.Quote(s)}
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// appendReflect writes Go values outside the model: other integer and
// float types, typed slices, arrays and maps, pointers. Structs and types
// with their own MarshalJSON or MarshalText go to encoding/json.
func appendReflect(b []byte, rv reflect.Value, depth int) ([]byte, error) {
	if !rv.IsValid() {
		return append(b, "null"...), nil
	}
	t := rv.Type()
	if rv.Kind() == reflect.Struct || t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) {
		if (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) && rv.IsNil() {
			return append(b, "null"...), nil
		}
		return appendStd(b, rv.Interface())
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, "null"...), nil
		}
		return appendJSON(b, rv.Elem().Interface(), depth+1)
	case reflect.Bool:
		return strconv.AppendBool(b, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, rv.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, rv.Uint(), 10), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(b, rv.Float()), nil
	case reflect.String:
		return appendString(b, rv.String())
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			if rv.Kind() == reflect.Slice {
				return appendBytes(b, rv.Bytes()), nil
			}
			c := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(c), rv)
			return appendBytes(b, c), nil
		}
		b = append(b, '[')
		for i := range rv.Len() {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, rv.Index(i).Interface(), depth+1); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			m := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				m[it.Key().String()] = it.Value().Interface()
			}
			return appendObject(b, m, depth)
		}
		m := make(Map, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m = append(m, Pair{it.Key().Interface(), it.Value().Interface()})
		}
		return appendMap(b, m, depth)
	}
	return nil, &encodeError{codec: "json", kind: ErrUnsupported, detail: "Go type " + t.String()}
}

// appendStd writes v with encoding/json, without HTML escaping.
func appendStd(b []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, &encodeError{codec: "json", kind: ErrUnsupported, detail: err.Error()}
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...), nil
}

// MarshalJSON writes the JSON form of t, so that a Tag inside a struct
// encoded by encoding/json looks as it does in the JSON codec.
func (t Tag) MarshalJSON() ([]byte, error) { return appendJSON(nil, t, 0) }

// MarshalJSON writes the JSON form of m.
func (m Map) MarshalJSON() ([]byte, error) { return appendJSON(nil, m, 0) }

// MarshalJSON writes {"$undefined":true}.
func (u Undefined) MarshalJSON() ([]byte, error) { return appendJSON(nil, u, 0) }

// MarshalJSON writes {"$simple":n}.
func (s Simple) MarshalJSON() ([]byte, error) { return appendJSON(nil, s, 0) }

// quote returns s as a Go-quoted string for messages.
func quote(s string) string { return strconv.Quote(s) }

// typeName returns the Go type of v for messages.
func typeName(v any) string { return fmt.Sprintf("%T", v) }
