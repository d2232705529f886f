package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Fuzzing limits: the decoders under test use the defaults but a smaller
// MaxSize; the codecs that re-encode get room for the canonical form (an
// indefinite-length item can be a few bytes shorter than its definite
// form) and for the larger, deeper JSON form (docs/protocol.md §5 §5.15: up to
// four JSON levels per CBOR level; f7 becomes {"$undefined":true}, 19
// bytes).
var (
	fuzzLimits = Limits{MaxSize: 64 << 10}
	roomLimits = Limits{MaxSize: 32 * fuzzLimits.MaxSize, MaxDepth: 4*DefaultMaxDepth + 8}
)

func goldenSeeds(f *testing.F, ext string) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*."+ext))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no golden %s files: %v", ext, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// checkDecodeError fails unless err is a *DecodeError of a known kind.
func checkDecodeError(t *testing.T, err error) {
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	for _, k := range []error{ErrTooLarge, ErrTooDeep, ErrTooManyItems, ErrDuplicateKey, ErrInvalidUTF8, ErrSyntax, ErrJSONForm} {
		if de.Kind == k {
			return
		}
	}
	t.Fatalf("error %v has unknown kind %v", err, de.Kind)
}

// FuzzCBOR: decoding never panics and fails only with a *DecodeError; what
// decodes re-encodes, decodes to the same value and re-encodes to the same
// bytes (decode → encode → decode is stable); its JSON form reads back to
// the same value, and ToJSONValue agrees with the JSON codec.
func FuzzCBOR(f *testing.F) {
	vs := loadVectors(f)
	for _, v := range vs {
		f.Add(v.CBOR)
	}
	goldenSeeds(f, "cbor")
	for _, s := range []string{"bf01020304ff", "a2 0100 1801 00", "7f 61 c3 61 bc ff", "c2 5f 41 01 ff", "a1 a0 00", "d9d9f7 83 01 02 03", "f9 7e01"} {
		f.Add([]byte(s)) // not hex: more raw bytes for the mutator
	}
	c := mustCBOR(f, fuzzLimits)
	room := mustCBOR(f, roomLimits)
	j := mustJSON(f, roomLimits)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := c.Unmarshal(data)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc, err := room.Marshal(v)
		if err != nil {
			t.Fatalf("%x decodes to %s that does not encode: %v", data, show(v), err)
		}
		v2, err := room.Unmarshal(enc)
		if err != nil {
			t.Fatalf("canonical form %x of %x does not decode: %v", enc, data, err)
		}
		if !equal(v, v2) {
			t.Fatalf("%x: %s, after re-encoding %s", data, show(v), show(v2))
		}
		if enc2, err := room.Marshal(v2); err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("%x: encoding not stable: %x then %x, %v", data, enc, enc2, err)
		}
		text, err := j.Marshal(v)
		if err != nil {
			t.Fatalf("%x: no JSON form: %v", data, err)
		}
		v3, err := j.Unmarshal(text)
		if err != nil || !equal(v, v3) {
			t.Fatalf("%x: JSON form %s reads back as %s, %v", data, text, show(v3), err)
		}
		if back, err := FromJSONValue(ToJSONValue(v)); err != nil || !equal(v, back) {
			t.Fatalf("%x: FromJSONValue(ToJSONValue) = %s, %v", data, show(back), err)
		}
	})
}

// FuzzJSON: decoding never panics and fails only with a *DecodeError; it
// accepts only what encoding/json finds valid; what decodes re-encodes to
// text that decodes to the same value and re-encodes to the same bytes, and
// survives a trip through CBOR.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"type":"rpc","id":"1","method":"m","args":[1,2.5,"x",null,true]}`,
		`{"$bytes":"AQID"}`, `{"$object":{"$bytes":"x"}}`, `{"$map":[[1,2],["a",3]]}`,
		`{"$tag":2,"$value":{"$bytes":"AQAAAAAAAAAA"}}`, `{"$float":"NaN"}`, `{"$simple":16}`,
		`"\ud83d\ude00 \u00e9 \\ \/"`, `[-0.0, 1e+21, 18446744073709551615, 18446744073709551616]`,
		`{"a":1,"a":2}`, `"\ud800"`, "\"\xff\"", ` [ { } , [ ] ] `,
	} {
		f.Add([]byte(s))
	}
	goldenSeeds(f, "json")
	jc := mustJSON(f, roomLimits)
	for _, v := range loadVectors(f) {
		if val, err := mustCBOR(f, Limits{}).Unmarshal(v.CBOR); err == nil {
			text, _ := jc.Marshal(val)
			f.Add(text)
		}
	}
	j := mustJSON(f, fuzzLimits)
	c := mustCBOR(f, roomLimits)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := j.Unmarshal(data)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted %q, which encoding/json rejects", data)
		}
		text, err := jc.Marshal(v)
		if err != nil {
			t.Fatalf("%q decodes to %s that does not encode: %v", data, show(v), err)
		}
		v2, err := jc.Unmarshal(text)
		if err != nil || !equal(v, v2) {
			t.Fatalf("%q: %s, after re-encoding %s (%s), %v", data, show(v), show(v2), text, err)
		}
		if text2, err := jc.Marshal(v2); err != nil || !bytes.Equal(text, text2) {
			t.Fatalf("%q: encoding not stable: %s then %s, %v", data, text, text2, err)
		}
		enc, err := c.Marshal(v)
		if err != nil {
			t.Fatalf("%q: no CBOR encoding: %v", data, err)
		}
		v3, err := c.Unmarshal(enc)
		if err != nil || !equal(v, v3) {
			t.Fatalf("%q: through CBOR %x: %s, %v", data, enc, show(v3), err)
		}
	})
}
