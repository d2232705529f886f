// Package codecs encodes and decodes frames as JSON and CBOR with size,
// depth and length limits. It is pure (no I/O) and a leaf: every stage may
// import it, it imports none of them. Golden frames in codecs/testdata are
// shared with firmware-examples.
//
// # Main flow
//
// A connection picks its codec once, when it connects ("json" or "cbor",
// DESIGN.md "Codec and protocol-frame policy"), and builds it with the
// transport's limits:
//
//	c, err := codecs.New("cbor", codecs.Limits{MaxSize: codecs.DefaultMaxSizeMQTT})
//
// Inbound, the protocol layer hands each frame to c.Unmarshal. The frame is
// rejected before parsing if it is longer than Limits.MaxSize, and while
// parsing if it nests deeper than MaxDepth, has an array or map longer than
// MaxItems, repeats a map key, or holds text that is not valid UTF-8. What
// passes becomes a value of the value model (value.go), the same for both
// codecs: nil, bool, int64, uint64, *big.Int, float64, string, []byte, []any,
// map[string]any, Map, Tag, Undefined and Simple. A rejected frame gets a
// *DecodeError that says which rule it broke, where, and matches one of the
// Err sentinels with errors.Is. UnmarshalInto decodes into a Go struct
// instead, under the same limits.
//
// Outbound, c.Marshal encodes deterministically: equal values give equal
// bytes. CBOR uses RFC 8949 §4.2.1 core deterministic encoding; JSON sorts
// keys and writes floats so that they read back as floats.
//
// CBOR can carry values JSON has no literal for (byte strings, tags, maps
// with keys that are not text, undefined, NaN). The JSON codec writes them in
// the JSON form of docs/protocol.md §5 (rules 5.1 to 5.15), e.g. a byte string as
// {"$bytes": "AQID"}, and reads that form back, so a frame from a CBOR device
// can be shown to a JSON client and return unchanged. ToJSONValue and
// FromJSONValue do the same conversion on plain values, for other JSON
// encoders.
//
// # Files
//
//   - codec.go: the Codec interface, Limits, errors.
//   - value.go: the value model.
//   - cbor.go, cbor_decode.go: the CBOR codec on github.com/fxamacker/cbor/v2,
//     which checks well-formedness and the limits and encodes; a small reader
//     builds the value model from the checked bytes, because the library's
//     generic decoding turns tags 0 and 1 into time.Time, undefined into nil
//     and cannot hold maps with array keys.
//   - json.go, json_decode.go, json_encode.go: the JSON codec with its own
//     parser (limits, duplicate keys, unpaired surrogates, int/float by
//     literal) and encoder.
//   - jsonform.go: the JSON form (docs/protocol.md §5) of CBOR values.
package codecs
