package codecs

import (
	"encoding/json"
	"errors"
	"strconv"
)

// JSON is the JSON codec (RFC 8259), with its own parser and encoder so
// that every rule below holds without a second pass.
//
// Unmarshal checks MaxSize, then parses, enforcing MaxDepth and MaxItems as
// it goes and rejecting duplicate object keys, invalid UTF-8 and escapes of
// unpaired surrogates ("\ud800"). An integer literal (no fraction, no
// exponent) becomes int64, or uint64 above 2^63-1; every other number, and
// an integer literal outside both ranges, becomes float64. It reads the JSON
// form of CBOR values (docs/protocol.md §5), so {"$bytes":"AQI"} decodes to
// []byte{1, 2}.
//
// Marshal writes the JSON form of the value model: map keys sorted bytewise,
// no HTML escaping, no insignificant space; floats always carry a fraction or
// an exponent (1.0, 1e+21) so that they read back as floats. Structs and
// types with a MarshalJSON or MarshalText method are written by encoding/json
// (where []byte is a base64 string and NaN an error; Tag, Map, Undefined and
// Simple still write their JSON form).
//
// UnmarshalInto checks the frame as Unmarshal does, then decodes it with
// encoding/json into the target.
type JSON struct {
	lim Limits
}

// NewJSON returns a JSON codec with the given limits (zero fields take the
// defaults).
func NewJSON(l Limits) (*JSON, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &JSON{lim: l.withDefaults()}, nil
}

// Name returns "json".
func (j *JSON) Name() string { return "json" }

// Limits returns the codec's limits, defaults filled in.
func (j *JSON) Limits() Limits { return j.lim }

// Marshal encodes the JSON form of v.
func (j *JSON) Marshal(v any) ([]byte, error) {
	b, err := appendJSON(make([]byte, 0, 128), v, 0)
	if err != nil {
		return nil, err
	}
	if len(b) > j.lim.MaxSize {
		return nil, &encodeError{codec: "json", kind: ErrTooLarge,
			detail: strconv.Itoa(len(b)) + " bytes, limit " + strconv.Itoa(j.lim.MaxSize)}
	}
	return b, nil
}

// Unmarshal decodes one JSON text into the value model.
func (j *JSON) Unmarshal(data []byte) (any, error) {
	if len(data) > j.lim.MaxSize {
		return nil, tooLarge("json", len(data), j.lim.MaxSize)
	}
	r := jsonReader{data: data, lim: j.lim}
	return r.top()
}

// UnmarshalInto decodes one JSON text into the value v points to.
func (j *JSON) UnmarshalInto(data []byte, v any) error {
	x, err := j.Unmarshal(data)
	if err != nil {
		return err
	}
	if p, ok := v.(*any); ok {
		*p = x
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		e := &DecodeError{Codec: "json", Kind: ErrType, Offset: -1, Detail: err.Error(), Err: err}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			e.Offset = int(te.Offset)
		}
		return e
	}
	return nil
}
