package codecs

import (
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/fxamacker/cbor/v2"
)

// detEnc encodes with RFC 8949 §4.2.1 core deterministic encoding:
// preferred (shortest) heads, no indefinite lengths, map keys sorted
// bytewise by their encoding, floats in the shortest form that keeps the
// value (NaN as f97e00, ±Inf as half precision), bignums only when the
// integer does not fit major types 0 and 1. Typed nil slices and maps encode
// as empty containers, as in the JSON codec.
var detEnc = func() cbor.EncMode {
	opts := cbor.CoreDetEncOptions()
	opts.BigIntConvert = cbor.BigIntConvertShortest
	opts.NilContainers = cbor.NilContainerAsEmpty
	em, err := opts.EncMode()
	if err != nil {
		panic("codecs: cbor encode options: " + err.Error()) // the options are constants
	}
	return em
}()

// CBOR is the CBOR codec (RFC 8949), built on github.com/fxamacker/cbor/v2.
//
// Unmarshal first checks MaxSize, then has the library check that the frame
// is one well-formed data item within MaxDepth (the library's
// MaxNestedLevels) and MaxItems (MaxArrayElements, MaxMapPairs), then builds
// the value model, rejecting duplicate map keys, invalid UTF-8 and tags 0 to
// 3 around content of the wrong type (docs/protocol.md §5.7). Any other
// well-formed input is accepted: non-shortest heads and floats, indefinite
// lengths, unknown tags and simple values. (Two-byte simple values below 32,
// f800 to f81f, are not well-formed: RFC 8949 §3.3.)
//
// Marshal uses RFC 8949 §4.2.1 core deterministic encoding: shortest heads,
// definite lengths, map keys sorted bytewise by their encoding, floats in the
// shortest of half, single and double precision that keeps the value (NaN as
// f97e00), bignums only for integers beyond 64 bits. Typed nil slices and
// maps encode as empty, as in the JSON codec. Values of the model nested in
// structs encode as they do at the top level.
//
// UnmarshalInto decodes with the library directly, under the same limits,
// duplicate keys and invalid UTF-8 being errors; a struct field of type any
// gets the library's generic values (map[string]any for maps, time.Time for
// tags 0 and 1), so use Unmarshal for generic values.
type CBOR struct {
	lim Limits
	dm  cbor.DecMode // checks well-formedness and limits; decodes typed values
}

// NewCBOR returns a CBOR codec with the given limits (zero fields take the
// defaults).
func NewCBOR(l Limits) (*CBOR, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	l = l.withDefaults()
	opts := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  l.MaxDepth,
		MaxArrayElements: l.MaxItems,
		MaxMapPairs:      l.MaxItems,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
		IntDec:           cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:        cbor.BigIntDecodePointer,
		DefaultMapType:   reflect.TypeFor[map[string]any](),
		UTF8:             cbor.UTF8RejectInvalid,
	}
	dm, err := opts.DecMode()
	if err != nil {
		return nil, err
	}
	return &CBOR{lim: l, dm: dm}, nil
}

// Name returns "cbor".
func (c *CBOR) Name() string { return "cbor" }

// Limits returns the codec's limits, defaults filled in.
func (c *CBOR) Limits() Limits { return c.lim }

// Marshal encodes v with core deterministic encoding.
func (c *CBOR) Marshal(v any) ([]byte, error) {
	b, err := detEnc.Marshal(v)
	if err != nil {
		var ee *encodeError
		if errors.As(err, &ee) {
			return nil, ee
		}
		return nil, &encodeError{codec: "cbor", kind: ErrUnsupported, detail: strings.TrimPrefix(err.Error(), "cbor: ")}
	}
	if len(b) > c.lim.MaxSize {
		return nil, &encodeError{codec: "cbor", kind: ErrTooLarge,
			detail: strconv.Itoa(len(b)) + " bytes, limit " + strconv.Itoa(c.lim.MaxSize)}
	}
	return b, nil
}

// Unmarshal decodes one CBOR data item into the value model.
func (c *CBOR) Unmarshal(data []byte) (any, error) {
	if len(data) > c.lim.MaxSize {
		return nil, tooLarge("cbor", len(data), c.lim.MaxSize)
	}
	if err := c.dm.Wellformed(data); err != nil {
		return nil, cborError(err)
	}
	r := cborReader{data: data}
	return r.value()
}

// UnmarshalInto decodes one CBOR data item into the value v points to.
func (c *CBOR) UnmarshalInto(data []byte, v any) error {
	if p, ok := v.(*any); ok {
		x, err := c.Unmarshal(data)
		if err == nil {
			*p = x
		}
		return err
	}
	if len(data) > c.lim.MaxSize {
		return tooLarge("cbor", len(data), c.lim.MaxSize)
	}
	if err := c.dm.Unmarshal(data, v); err != nil {
		return cborError(err)
	}
	return nil
}

// cborError turns an error of the CBOR library into a *DecodeError.
func cborError(err error) *DecodeError {
	e := &DecodeError{Codec: "cbor", Kind: ErrSyntax, Offset: -1, Err: err,
		Detail: strings.TrimPrefix(err.Error(), "cbor: ")}
	var (
		nested *cbor.MaxNestedLevelError
		arr    *cbor.MaxArrayElementsError
		pairs  *cbor.MaxMapPairsError
		dup    *cbor.DupMapKeyError
		sem    *cbor.SemanticError
		typ    *cbor.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &nested):
		e.Kind = ErrTooDeep
	case errors.As(err, &arr), errors.As(err, &pairs):
		e.Kind = ErrTooManyItems
	case errors.As(err, &dup):
		e.Kind = ErrDuplicateKey
	case errors.As(err, &sem) && strings.Contains(err.Error(), "UTF-8"):
		e.Kind = ErrInvalidUTF8
	case errors.As(err, &typ):
		e.Kind = ErrType
	case errors.Is(err, io.EOF):
		e.Detail = "empty input"
	case errors.Is(err, io.ErrUnexpectedEOF):
		e.Detail = "unexpected end of input"
	}
	return e
}

// MarshalCBOR encodes t as a CBOR tag, or a bignum tag around a byte string
// as the integer it denotes.
func (t Tag) MarshalCBOR() ([]byte, error) {
	if b, ok := t.Content.([]byte); ok && (t.Number == 2 || t.Number == 3) {
		return detEnc.Marshal(bignum(t.Number, b))
	}
	return detEnc.Marshal(cbor.Tag{Number: t.Number, Content: t.Content})
}

// MarshalCBOR encodes m as a CBOR map with its pairs in core deterministic
// order; duplicate keys are an error.
func (m Map) MarshalCBOR() ([]byte, error) {
	pairs, keys, err := sortedPairs(m, "cbor")
	if err != nil {
		return nil, err
	}
	out := appendCBORHead(nil, 5, uint64(len(pairs)))
	for i, p := range pairs {
		v, err := detEnc.Marshal(p.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, keys[i]...)
		out = append(out, v...)
	}
	return out, nil
}

// MarshalCBOR encodes undefined (0xf7).
func (Undefined) MarshalCBOR() ([]byte, error) { return []byte{0xf7}, nil }

// MarshalCBOR encodes s in one byte (0 to 19) or two (32 to 255).
func (s Simple) MarshalCBOR() ([]byte, error) {
	switch {
	case s < 20:
		return []byte{0xe0 | byte(s)}, nil
	case s >= 32:
		return []byte{0xf8, byte(s)}, nil
	}
	return nil, &encodeError{codec: "cbor", kind: ErrUnsupported, detail: "simple value " + strconv.Itoa(int(s))}
}

// appendCBORHead appends the shortest head of major type major with argument n.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
