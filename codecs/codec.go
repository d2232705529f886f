package codecs

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Codec encodes values to one wire format and decodes them back. A Codec is
// immutable and safe for concurrent use.
type Codec interface {
	// Name is "json" or "cbor", the value of the codec negotiation option.
	Name() string
	// Marshal encodes v deterministically: equal values of the value model
	// always give the same bytes. It fails with ErrTooLarge when the result
	// exceeds the codec's MaxSize.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes one complete frame into the value model. Errors are
	// *DecodeError values that match one of the Err sentinels.
	Unmarshal(data []byte) (any, error)
	// UnmarshalInto decodes one complete frame into the Go value v points to,
	// under the same limits as Unmarshal. A *any target gets the value model.
	UnmarshalInto(data []byte, v any) error
}

// Interface guards.
var (
	_ Codec = (*CBOR)(nil)
	_ Codec = (*JSON)(nil)
)

// Default limits. A zero field of Limits takes the default below.
const (
	// DefaultMaxSizeMQTT is the default maximum frame size on MQTT (256 KiB),
	// and the default for a zero Limits.MaxSize.
	DefaultMaxSizeMQTT = 256 << 10
	// DefaultMaxSizeWebSocket is the default maximum frame size on the agents
	// WebSocket endpoint (4 MiB).
	DefaultMaxSizeWebSocket = 4 << 20
	// DefaultMaxDepth is the default maximum nesting depth (32).
	DefaultMaxDepth = 32
	// DefaultMaxItems is the default maximum length of one array or map (65536).
	DefaultMaxItems = 65536
)

// Bounds on Limits fields, set by what the CBOR library accepts.
const (
	minDepth = 4
	maxDepth = 65535
	minItems = 16
	maxItems = math.MaxInt32
)

// Limits bound what a decoder accepts. Every field is checked before or
// while decoding, so a hostile frame costs at most memory linear in MaxSize.
type Limits struct {
	// MaxSize is the largest frame in bytes, checked before parsing and after
	// encoding. Default DefaultMaxSizeMQTT (256 KiB); the WebSocket endpoint
	// passes DefaultMaxSizeWebSocket (4 MiB) or its configured size.
	MaxSize int
	// MaxDepth is the deepest nesting of arrays and maps (and, in CBOR, of
	// tags inside tags) that a frame may have; a scalar has depth 0 and
	// [[1]] has depth 2. Default 32, allowed 4 to 65535.
	MaxDepth int
	// MaxItems is the largest number of elements of one array or of
	// key/value pairs of one map. Default 65536, allowed 16 to 2^31-1.
	MaxItems int
}

// withDefaults returns l with zero fields replaced by the defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxSize == 0 {
		l.MaxSize = DefaultMaxSizeMQTT
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxItems == 0 {
		l.MaxItems = DefaultMaxItems
	}
	return l
}

// Validate reports whether l, after zero fields take their defaults, is in
// range.
func (l Limits) Validate() error {
	l = l.withDefaults()
	switch {
	case l.MaxSize < 1:
		return fmt.Errorf("codecs: MaxSize %d is not positive", l.MaxSize)
	case l.MaxDepth < minDepth || l.MaxDepth > maxDepth:
		return fmt.Errorf("codecs: MaxDepth %d is outside [%d, %d]", l.MaxDepth, minDepth, maxDepth)
	case l.MaxItems < minItems || l.MaxItems > maxItems:
		return fmt.Errorf("codecs: MaxItems %d is outside [%d, %d]", l.MaxItems, minItems, maxItems)
	}
	return nil
}

// New returns the codec with the given name, "json" or "cbor".
func New(name string, l Limits) (Codec, error) {
	switch name {
	case "json":
		return NewJSON(l)
	case "cbor":
		return NewCBOR(l)
	}
	return nil, fmt.Errorf("codecs: unknown codec %q", name)
}

// Error kinds. Every decode error is a *DecodeError that matches exactly one
// of them with errors.Is; encode errors match ErrUnsupported, ErrTooLarge,
// ErrDuplicateKey or ErrInvalidUTF8.
var (
	// ErrTooLarge: the frame is longer than Limits.MaxSize.
	ErrTooLarge = errors.New("codecs: frame too large")
	// ErrTooDeep: arrays and maps are nested deeper than Limits.MaxDepth.
	ErrTooDeep = errors.New("codecs: nesting too deep")
	// ErrTooManyItems: an array or map is longer than Limits.MaxItems.
	ErrTooManyItems = errors.New("codecs: too many items")
	// ErrDuplicateKey: a map has the same key twice.
	ErrDuplicateKey = errors.New("codecs: duplicate map key")
	// ErrInvalidUTF8: a text string is not valid UTF-8 (in JSON this includes
	// escapes of unpaired surrogates such as "\ud800").
	ErrInvalidUTF8 = errors.New("codecs: invalid UTF-8")
	// ErrSyntax: the input is not one well-formed JSON text or CBOR data
	// item, or (CBOR) tags 0 to 3 have content of the wrong type.
	ErrSyntax = errors.New("codecs: malformed frame")
	// ErrJSONForm: a JSON object uses a reserved "$" shape of the JSON form
	// of CBOR values wrongly, e.g. {"$bytes": 5}.
	ErrJSONForm = errors.New("codecs: invalid JSON form")
	// ErrType: UnmarshalInto found a value that does not fit the target.
	ErrType = errors.New("codecs: value does not fit the target type")
	// ErrUnsupported: Marshal got a value it cannot encode.
	ErrUnsupported = errors.New("codecs: unsupported value")
)

// DecodeError describes why a frame was rejected.
type DecodeError struct {
	// Codec is "json" or "cbor".
	Codec string
	// Kind is the Err sentinel the error matches.
	Kind error
	// Offset is the byte offset in the frame where the problem was found,
	// or -1 where the underlying library does not say.
	Offset int
	// Detail says more, e.g. which limit or which key.
	Detail string
	// Err is the underlying library error, or nil.
	Err error
}

// Error returns e.g. "codecs: cbor: nesting too deep: limit 32 at offset 7".
func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString("codecs: ")
	b.WriteString(e.Codec)
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Kind.Error(), "codecs: "))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Offset >= 0 {
		b.WriteString(" at offset ")
		b.WriteString(strconv.Itoa(e.Offset))
	}
	return b.String()
}

// Unwrap returns Kind and, where there is one, the library error.
func (e *DecodeError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// tooLarge is the error for a frame of n bytes over limit.
func tooLarge(codec string, n, limit int) *DecodeError {
	return &DecodeError{Codec: codec, Kind: ErrTooLarge, Offset: -1,
		Detail: strconv.Itoa(n) + " bytes, limit " + strconv.Itoa(limit)}
}

// encodeError is an error from Marshal; it matches its kind with errors.Is.
type encodeError struct {
	codec  string
	kind   error
	detail string
}

func (e *encodeError) Error() string {
	return "codecs: " + e.codec + " encode: " + strings.TrimPrefix(e.kind.Error(), "codecs: ") + ": " + e.detail
}

func (e *encodeError) Unwrap() error { return e.kind }
