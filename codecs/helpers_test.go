package codecs

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"testing"
)

// equal compares two values of the model exactly: floats by bits except
// that every NaN equals every NaN (CBOR encoding canonicalises payloads),
// so -0.0 and 0.0 differ; nil and empty byte strings are equal; Map pairs in
// order (decoders return them sorted).
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, string, int64, uint64, Undefined, Simple:
		return a == b
	case float64:
		y, ok := b.(float64)
		if !ok {
			return false
		}
		if math.IsNaN(x) || math.IsNaN(y) {
			return math.IsNaN(x) && math.IsNaN(y)
		}
		return math.Float64bits(x) == math.Float64bits(y)
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case Map:
		y, ok := b.(Map)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i].Key, y[i].Key) || !equal(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case Tag:
		y, ok := b.(Tag)
		return ok && x.Number == y.Number && equal(x.Content, y.Content)
	}
	return false
}

// show renders a value for failure messages through the JSON form.
func show(v any) string {
	b, err := appendJSON(nil, v, 0)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func mustCBOR(t testing.TB, l Limits) *CBOR {
	t.Helper()
	c, err := NewCBOR(l)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustJSON(t testing.TB, l Limits) *JSON {
	t.Helper()
	j, err := NewJSON(l)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// vector is one entry of testdata/appendix_a.json (RFC 8949 Appendix A, in
// the layout of github.com/cbor/test-vectors).
type vector struct {
	CBOR       []byte          `json:"cbor"` // base64 in the file
	Hex        string          `json:"hex"`
	Roundtrip  bool            `json:"roundtrip"`
	Decoded    json.RawMessage `json:"decoded"`
	Diagnostic *string         `json:"diagnostic"`
}

// name identifies a vector in subtest names.
func (v vector) name() string { return v.Hex }

func loadVectors(t testing.TB) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/appendix_a.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	return vs
}
