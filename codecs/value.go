package codecs

import (
	"bytes"
	"math"
	"math/big"
	"slices"
)

// The value model. Unmarshal of both codecs returns only these Go types:
//
//	nil                     null
//	bool                    false, true
//	int64                   an integer in [-2^63, 2^63-1]
//	uint64                  an integer in [2^63, 2^64-1]
//	*big.Int                an integer outside both (CBOR bignums, tags 2 and 3)
//	float64                 a floating-point number, NaN and ±Inf included
//	string                  a text string (valid UTF-8)
//	[]byte                  a byte string
//	[]any                   an array
//	map[string]any          a map whose keys are all text strings
//	Map                     a map with at least one key that is not a text string
//	Tag                     a CBOR tag other than a bignum
//	Undefined               CBOR undefined
//	Simple                  a CBOR simple value other than false, true, null, undefined
//
// The integer types never overlap: a decoder returns int64 whenever the value
// fits, so equal integers have equal Go representations. Marshal accepts the
// model and, besides, other Go integers and floats, typed slices and maps,
// pointers and structs (see the codec types).

// Tag is a CBOR tag (RFC 8949 §3.4): a tag number and its content, a value of
// the model. Bignums (tags 2 and 3 around a byte string) are not Tags: they
// decode to integers, and Marshal encodes a Tag{2 or 3, []byte} as the
// integer it denotes.
type Tag struct {
	Number  uint64
	Content any
}

// Map is a map with at least one key that is not a text string (CBOR allows
// any value as a key). A decoder returns its pairs sorted by the deterministic
// CBOR encoding of their keys; Marshal sorts them the same way and rejects
// duplicate keys, so the order of a Map built by hand does not matter.
type Map []Pair

// Pair is one key/value pair of a Map.
type Pair struct {
	Key   any
	Value any
}

// Undefined is the CBOR simple value undefined (0xf7).
type Undefined struct{}

// Simple is a CBOR simple value (RFC 8949 §3.3) other than false (20),
// true (21), null (22) and undefined (23): 0 to 19, or 32 to 255. Values 24
// to 31 are not well-formed and cannot be encoded.
type Simple uint8

// valid reports whether s is a simple value that the model represents as Simple.
func (s Simple) valid() bool { return s < 20 || s >= 32 }

// normBig returns b as int64 or uint64 when it fits, else b itself.
func normBig(b *big.Int) any {
	if b.IsInt64() {
		return b.Int64()
	}
	if b.IsUint64() {
		return b.Uint64()
	}
	return b
}

// bignum returns the integer denoted by bignum tag 2 (positive) or 3
// (negative) around content b, normalized to int64 or uint64 when it fits.
func bignum(number uint64, b []byte) any {
	n := new(big.Int).SetBytes(b)
	if number == 3 {
		n.Add(n, bigOne)
		n.Neg(n)
	}
	return normBig(n)
}

var bigOne = big.NewInt(1)

// makeTag returns the model value for tag number around content: an integer
// for a bignum with byte string content, else a Tag.
func makeTag(number uint64, content any) any {
	if b, ok := content.([]byte); ok && (number == 2 || number == 3) {
		return bignum(number, b)
	}
	return Tag{Number: number, Content: content}
}

// tagContentError checks the content of the tags whose content type RFC
// 8949 §3.4 fixes, as the CBOR library does when it encodes them: tag 0
// wants a text string, tag 1 an integer or a float, tags 2 and 3 a byte
// string. head is the first byte of the encoded content.
func tagContentError(number uint64, head byte) string {
	major := head >> 5
	switch number {
	case 0:
		if major != 3 {
			return "tag 0 wants a text string"
		}
	case 1:
		if major > 1 && (head < 0xf9 || head > 0xfb) {
			return "tag 1 wants an integer or a float"
		}
	case 2, 3:
		if major != 2 {
			return "tags 2 and 3 want a byte string"
		}
	}
	return ""
}

// bignumParts returns the tag number (2 or 3) and the big-endian magnitude
// bytes that encode n as a CBOR bignum.
func bignumParts(n *big.Int) (uint64, []byte) {
	if n.Sign() >= 0 {
		return 2, n.Bytes()
	}
	m := new(big.Int).Neg(n)
	m.Sub(m, bigOne)
	return 3, m.Bytes()
}

// sortedPairs returns the pairs of m sorted by the deterministic CBOR
// encoding of their keys, and fails with ErrDuplicateKey if two keys encode
// the same. keys[i] is the encoding of the key of pairs[i].
func sortedPairs(m Map, codec string) (pairs Map, keys [][]byte, err error) {
	type entry struct {
		key []byte
		p   Pair
	}
	es := make([]entry, len(m))
	for i, p := range m {
		k, err := detEnc.Marshal(p.Key)
		if err != nil {
			return nil, nil, &encodeError{codec: codec, kind: ErrUnsupported, detail: "map key: " + err.Error()}
		}
		es[i] = entry{k, p}
	}
	slices.SortFunc(es, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	pairs = make(Map, len(es))
	keys = make([][]byte, len(es))
	for i, e := range es {
		if i > 0 && bytes.Equal(e.key, keys[i-1]) {
			return nil, nil, &encodeError{codec: codec, kind: ErrDuplicateKey, detail: "map key " + diagKey(e.p.Key)}
		}
		pairs[i], keys[i] = e.p, e.key
	}
	return pairs, keys, nil
}

// textKeys returns m as a map[string]any if all its keys are text strings.
func textKeys(m Map) (map[string]any, bool) {
	for _, p := range m {
		if _, ok := p.Key.(string); !ok {
			return nil, false
		}
	}
	out := make(map[string]any, len(m))
	for _, p := range m {
		out[p.Key.(string)] = p.Value
	}
	return out, true
}

// diagKey describes a map key briefly for an error message.
func diagKey(k any) string {
	switch k := k.(type) {
	case string:
		if len(k) > 40 {
			k = k[:40] + "…"
		}
		return quote(k)
	case int64, uint64, bool, nil:
		b, _ := appendJSON(nil, k, 0)
		return string(b)
	}
	return "of type " + typeName(k)
}

// isNonFinite reports whether f is NaN or ±Inf.
func isNonFinite(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }
