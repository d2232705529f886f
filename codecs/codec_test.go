package codecs

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nestedCBOR returns depth nested one-element arrays around 0.
func nestedCBOR(depth int) []byte {
	return append(bytes.Repeat([]byte{0x81}, depth), 0x00)
}

func nestedJSON(depth int) []byte {
	return []byte(strings.Repeat("[", depth) + "0" + strings.Repeat("]", depth))
}

// cborArray returns a definite array of n zeros; cborMap a map of n pairs
// with keys 0..n-1.
func cborArray(n int) []byte {
	b := appendCBORHead(nil, 4, uint64(n))
	return append(b, make([]byte, n)...)
}

func cborMap(n int) []byte {
	b := appendCBORHead(nil, 5, uint64(n))
	for i := range n {
		b = appendCBORHead(b, 0, uint64(i))
		b = append(b, 0)
	}
	return b
}

func jsonArray(n int) []byte {
	return []byte("[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]")
}

func jsonObject(n int) []byte {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + string(rune('a'+i/26)) + string(rune('a'+i%26)) + `":0`)
	}
	b.WriteString("}")
	return []byte(b.String())
}

// TestLimits checks every limit in both codecs, just under and just over.
func TestLimits(t *testing.T) {
	small := Limits{MaxSize: 1024, MaxDepth: 4, MaxItems: 16}
	c := mustCBOR(t, small)
	j := mustJSON(t, small)
	tests := []struct {
		name  string
		codec Codec
		in    []byte
		want  error // nil: accepted
	}{
		{"cbor size ok", c, append([]byte{0x59, 0x03, 0xfd}, make([]byte, 1021)...), nil},
		{"cbor too large", c, append([]byte{0x59, 0x03, 0xfe}, make([]byte, 1022)...), ErrTooLarge},
		{"json size ok", j, []byte(`"` + strings.Repeat("a", 1022) + `"`), nil},
		{"json too large", j, []byte(`"` + strings.Repeat("a", 1023) + `"`), ErrTooLarge},
		{"cbor depth ok", c, nestedCBOR(4), nil},
		{"cbor too deep", c, nestedCBOR(5), ErrTooDeep},
		{"cbor too deep in maps", c, unhex(t, "a1 00 a1 00 a1 00 a1 00 a1 00 00"), ErrTooDeep},
		{"cbor too deep in tags", c, unhex(t, "81 81 81 c1 c1 c1 00"), ErrTooDeep},
		{"json depth ok", j, nestedJSON(4), nil},
		{"json too deep", j, nestedJSON(5), ErrTooDeep},
		{"json too deep in objects", j, []byte(`{"a":{"a":{"a":{"a":{"a":0}}}}}`), ErrTooDeep},
		{"cbor array ok", c, cborArray(16), nil},
		{"cbor array too long", c, cborArray(17), ErrTooManyItems},
		{"cbor indefinite array too long", c, append(append([]byte{0x9f}, make([]byte, 17)...), 0xff), ErrTooManyItems},
		{"cbor map ok", c, cborMap(16), nil},
		{"cbor map too long", c, cborMap(17), ErrTooManyItems},
		{"json array ok", j, jsonArray(16), nil},
		{"json array too long", j, jsonArray(17), ErrTooManyItems},
		{"json object ok", j, jsonObject(16), nil},
		{"json object too long", j, jsonObject(17), ErrTooManyItems},
		{"cbor duplicate text key", c, unhex(t, "a2 6161 01 6161 02"), ErrDuplicateKey},
		{"cbor duplicate key, one not shortest", c, unhex(t, "a2 7801 61 01 6161 02"), ErrDuplicateKey},
		{"cbor duplicate int key", c, unhex(t, "a2 01 00 1801 00"), ErrDuplicateKey},
		{"cbor duplicate key in indefinite map", c, unhex(t, "bf 01 00 01 00 ff"), ErrDuplicateKey},
		{"cbor duplicate array key", c, unhex(t, "a2 820102 00 9f0102ff 00"), ErrDuplicateKey},
		{"json duplicate key", j, []byte(`{"a":1,"b":2,"a":3}`), ErrDuplicateKey},
		{"json duplicate key after escape", j, []byte(`{"a":1,"\u0061":2}`), ErrDuplicateKey},
		{"cbor invalid UTF-8", c, unhex(t, "62 c3 28"), ErrInvalidUTF8},
		{"cbor surrogate in UTF-8", c, unhex(t, "63 ed a0 80"), ErrInvalidUTF8},
		{"cbor UTF-8 split across chunks", c, unhex(t, "7f 61 c3 61 bc ff"), ErrInvalidUTF8},
		{"cbor invalid UTF-8 in key", c, unhex(t, "a1 61 ff 00"), ErrInvalidUTF8},
		{"json invalid UTF-8", j, []byte("\"a\xffb\""), ErrInvalidUTF8},
		{"json invalid UTF-8 after escape", j, []byte("\"\\n\xc3\x28\""), ErrInvalidUTF8},
		{"json unpaired high surrogate", j, []byte(`"\ud800"`), ErrInvalidUTF8},
		{"json unpaired low surrogate", j, []byte(`"\udc00x"`), ErrInvalidUTF8},
		{"json surrogate then non-surrogate", j, []byte(`"\ud800\u0041"`), ErrInvalidUTF8},
		{"json surrogate pair", j, []byte(`"\ud83d\ude00"`), nil},
		{"cbor empty", c, nil, ErrSyntax},
		{"cbor truncated", c, unhex(t, "83 01 02"), ErrSyntax},
		{"cbor trailing data", c, unhex(t, "01 02"), ErrSyntax},
		{"cbor reserved additional information", c, unhex(t, "1c"), ErrSyntax},
		{"cbor lone break", c, unhex(t, "ff"), ErrSyntax},
		{"cbor tag 0 around an integer", c, unhex(t, "c0 01"), ErrSyntax},
		{"cbor tag 1 around text", c, unhex(t, "c1 61 61"), ErrSyntax},
		{"cbor tag 2 around text", c, unhex(t, "c2 61 61"), ErrSyntax},
		{"cbor tag 3 around a bignum", c, unhex(t, "c3 c2 41 01"), ErrSyntax},
		{"json empty", j, nil, ErrSyntax},
		{"json trailing data", j, []byte(`1 2`), ErrSyntax},
		{"json trailing comma", j, []byte(`[1,]`), ErrSyntax},
		{"json leading zero", j, []byte(`01`), ErrSyntax},
		{"json control character", j, []byte("\"a\nb\""), ErrSyntax},
		{"json number out of range", j, []byte(`1e400`), ErrSyntax},
		{"json single quotes", j, []byte(`'a'`), ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := tc.codec.Unmarshal(tc.in)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %s, %v; want %v", show(v), err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Codec != tc.codec.Name() {
				t.Fatalf("error %v is not a *DecodeError of %s", err, tc.codec.Name())
			}
			t.Log(err)
		})
	}
}

// TestCBORAcceptsAnyWellFormed: non-shortest heads and floats and
// indefinite lengths decode to the same value as the preferred encoding.
func TestCBORAcceptsAnyWellFormed(t *testing.T) {
	c := mustCBOR(t, Limits{})
	tests := []struct {
		in, canonical string
	}{
		{"1800", "00"},
		{"1b 0000000000000001", "01"},
		{"39 0000", "20"},
		{"fa 3f800000", "f9 3c00"},
		{"fb 3ff0000000000000", "f9 3c00"},
		{"fb 3ff199999999999a", "fb 3ff199999999999a"},
		{"78 01 61", "61 61"},
		{"59 0001 01", "41 01"},
		{"98 01 01", "81 01"},
		{"b8 01 61 61 01", "a1 61 61 01"},
		{"7f 61 61 62 62 63 ff", "63 61 62 63"},
		{"7f ff", "60"},
		{"5f ff", "40"},
		{"9f 9f ff ff", "81 80"},
		{"bf 61 62 01 61 61 02 ff", "a2 61 61 02 61 62 01"},
		{"bf 01 02 ff", "a1 01 02"},
		{"c2 41 01", "01"},                                   // bignum that fits: an integer
		{"c2 49 00 0000000000000001", "01"},                  // bignum with leading zeros
		{"c3 48 ffffffffffffffff", "3b ffffffffffffffff"},    // -2^64 as a bignum
		{"c2 5f 41 01 ff", "01"},                             // bignum in chunks
		{"d9 d9f7 01", "d9 d9f7 01"},                         // self-described CBOR stays a tag
		{"c1 3b ffffffffffffffff", "c1 3b ffffffffffffffff"}, // tag 1 around -2^64
		{"a2 02 00 61 61 00", "a2 02 00 61 61 00"},           // mixed keys sort by encoding
		{"a2 61 61 00 02 00", "a2 02 00 61 61 00"},
		{"a1 a0 00", "a1 a0 00"}, // a map as a key
		{"f9 7e01", "f9 7e00"},   // NaN payloads are canonicalised
		{"fb 7ff8000000000001", "f9 7e00"},
		{"f8 20", "f8 20"},
	}
	for _, tc := range tests {
		v, err := c.Unmarshal(unhex(t, tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		enc, err := c.Marshal(v)
		if err != nil {
			t.Errorf("%s: %s: %v", tc.in, show(v), err)
			continue
		}
		if want := unhex(t, tc.canonical); !bytes.Equal(enc, want) {
			t.Errorf("%s re-encodes as %x, want %x", tc.in, enc, want)
		}
	}
}

func TestDecodeErrorOffsets(t *testing.T) {
	c := mustCBOR(t, Limits{})
	j := mustJSON(t, Limits{})
	tests := []struct {
		codec Codec
		in    []byte
		off   int
	}{
		{j, []byte(`{"a":1, "a":2}`), 8},
		{j, []byte(`["ok", "\ud800"]`), 8},
		{j, []byte("[\"ok\", \"x\xff\"]"), 9},
		{j, []byte(`[1, 2, x]`), 7},
		{c, unhex(t, "82 61 61 62 61 ff"), 5},
		{c, unhex(t, "a2 61 61 01 61 61 02"), 4},
	}
	for _, tc := range tests {
		_, err := tc.codec.Unmarshal(tc.in)
		var de *DecodeError
		if !errors.As(err, &de) || de.Offset != tc.off {
			t.Errorf("%s %q: %v, want offset %d", tc.codec.Name(), tc.in, err, tc.off)
		}
	}
}

func TestJSONNumbers(t *testing.T) {
	j := mustJSON(t, Limits{})
	tests := []struct {
		in   string
		want any
	}{
		{"0", int64(0)},
		{"-0", int64(0)},
		{"-0.0", math.Copysign(0, -1)},
		{"1", int64(1)},
		{"1.0", 1.0},
		{"1e3", 1000.0},
		{"1E+3", 1000.0},
		{"-12.5e-1", -1.25},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", uint64(1 << 63)},
		{"18446744073709551615", uint64(math.MaxUint64)},
		{"18446744073709551616", 18446744073709551616.0},
		{"-9223372036854775809", -9223372036854775809.0},
		{"5e-324", 5e-324},
		{"1e-400", 0.0},
	}
	for _, tc := range tests {
		got, err := j.Unmarshal([]byte(tc.in))
		if err != nil || !equal(got, tc.want) {
			t.Errorf("%s: got %v (%T), %v; want %v (%T)", tc.in, got, got, err, tc.want, tc.want)
		}
	}
}

func TestJSONMarshal(t *testing.T) {
	j := mustJSON(t, Limits{})
	tests := []struct {
		in   any
		want string
	}{
		{1.0, "1.0"},
		{math.Copysign(0, -1), "-0.0"},
		{0.5, "0.5"},
		{1e20, "100000000000000000000.0"},
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{123456789.125, "123456789.125"},
		{float32(0.5), "0.5"},
		{math.NaN(), `{"$float":"NaN"}`},
		{int64(-5), "-5"},
		{7, "7"},
		{uint8(7), "7"},
		{"<a href=\"x\">&</a>", `"<a href=\"x\">&</a>"`},
		{"tab\tnl\nnul\x00 \u2028 é 😀", `"tab\tnl\nnul\u0000 \u2028 é 😀"`},
		{map[string]any{"b": 1.5, "a": []any{nil, true}, "": "e"}, `{"":"e","a":[null,true],"b":1.5}`},
		{[]any(nil), "[]"},
		{map[string]any(nil), "{}"},
		{[]string{"x", "y"}, `["x","y"]`},
		{map[string]int{"z": 1, "a": 2}, `{"a":2,"z":1}`},
		{map[int]string{2: "b", 1: "a"}, `{"$map":[[1,"a"],[2,"b"]]}`},
		{[3]byte{1, 2, 3}, `{"$bytes":"AQID"}`},
		{struct {
			A int    `json:"a"`
			B string `json:"b,omitempty"`
			T Tag    `json:"t"`
		}{A: 1, T: Tag{Number: 32, Content: "u"}}, `{"a":1,"t":{"$tag":32,"$value":"u"}}`},
		{new(big.Int).Lsh(big.NewInt(1), 64), `{"$tag":2,"$value":{"$bytes":"AQAAAAAAAAAA"}}`},
		{big.NewInt(-3), "-3"},
		{Map{{"b", 1}, {"a", 2}}, `{"a":2,"b":1}`},
		{Map{{"a", 1}, {int64(1), 2}}, `{"$map":[[1,2],["a",1]]}`},
	}
	for _, tc := range tests {
		got, err := j.Marshal(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("%#v: got %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	c := mustCBOR(t, Limits{MaxSize: 64})
	j := mustJSON(t, Limits{MaxSize: 64})
	big := strings.Repeat("x", 100)
	for _, codec := range []Codec{c, j} {
		if _, err := codec.Marshal(big); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: oversized: %v", codec.Name(), err)
		}
		if _, err := codec.Marshal(Map{{1, 1}, {int64(1), 2}}); !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s: duplicate keys: %v", codec.Name(), err)
		}
		if _, err := codec.Marshal(make(chan int)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: chan: %v", codec.Name(), err)
		}
		if _, err := codec.Marshal(Tag{Number: 0, Content: int64(1)}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: tag 0 around an integer: %v", codec.Name(), err)
		}
		if _, err := codec.Marshal(Simple(24)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: simple(24): %v", codec.Name(), err)
		}
	}
	if _, err := j.Marshal("a\xffb"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("json: invalid UTF-8: %v", err)
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	if _, err := j.Marshal(cyclic); !errors.Is(err, ErrUnsupported) {
		t.Errorf("json: cyclic: %v", err)
	}
}

// TestDeterministic: equal values encode to the same bytes, whatever the
// order maps were filled in; CBOR sorts keys by their encoding (shorter
// first), JSON bytewise.
func TestDeterministic(t *testing.T) {
	c := mustCBOR(t, Limits{})
	j := mustJSON(t, Limits{})
	keys := []string{"type", "id", "a", "bb", "zz", "method", "args", "é", "A"}
	var first [2][]byte
	for round := range 20 {
		m := map[string]any{}
		for i := range keys {
			k := keys[(i*7+round)%len(keys)]
			m[k] = map[string]any{"x": int64(len(k)), "y": []any{k}}
		}
		for i, codec := range []Codec{c, j} {
			b, err := codec.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				first[i] = b
			} else if !bytes.Equal(b, first[i]) {
				t.Fatalf("%s: round %d gives %x, want %x", codec.Name(), round, b, first[i])
			}
		}
	}
	b, _ := c.Marshal(map[string]any{"bb": 1, "a": 2, "c": 3})
	if want := unhex(t, "a3 6161 02 6163 03 626262 01"); !bytes.Equal(b, want) {
		t.Errorf("cbor key order %x, want %x", b, want)
	}
	b, _ = j.Marshal(map[string]any{"bb": 1, "a": 2, "c": 3})
	if string(b) != `{"a":2,"bb":1,"c":3}` {
		t.Errorf("json key order %s", b)
	}
}

func TestUnmarshalInto(t *testing.T) {
	type frame struct {
		Type   string  `json:"type"`
		ID     string  `json:"id"`
		Method string  `json:"method"`
		Args   []int   `json:"args"`
		Temp   float64 `json:"temp"`
	}
	want := frame{Type: "rpc", ID: "1", Method: "m", Args: []int{1, 2}, Temp: 21.5}
	v := map[string]any{"type": "rpc", "id": "1", "method": "m", "args": []any{int64(1), int64(2)}, "temp": 21.5}
	lim := Limits{MaxDepth: 4, MaxItems: 16}
	for _, codec := range []Codec{mustCBOR(t, lim), mustJSON(t, lim)} {
		data, err := codec.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var got frame
		if err := codec.UnmarshalInto(data, &got); err != nil {
			t.Fatalf("%s: %v", codec.Name(), err)
		}
		if got.Type != want.Type || got.ID != want.ID || got.Method != want.Method ||
			len(got.Args) != 2 || got.Args[1] != 2 || got.Temp != want.Temp {
			t.Errorf("%s: got %+v", codec.Name(), got)
		}
		var generic any
		if err := codec.UnmarshalInto(data, &generic); err != nil || !equal(generic, v) {
			t.Errorf("%s: *any target: %s, %v", codec.Name(), show(generic), err)
		}
		var wrong struct {
			Type int `json:"type"`
		}
		if err := codec.UnmarshalInto(data, &wrong); !errors.Is(err, ErrType) {
			t.Errorf("%s: wrong type: %v", codec.Name(), err)
		}
	}
	c := mustCBOR(t, lim)
	var m map[string]int
	if err := c.UnmarshalInto(unhex(t, "a2 6161 01 6161 02"), &m); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("cbor: duplicate key: %v", err)
	}
	if err := c.UnmarshalInto(nestedCBOR(5), new(any)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("cbor: too deep: %v", err)
	}
	var s []any
	if err := c.UnmarshalInto(nestedCBOR(5), &s); !errors.Is(err, ErrTooDeep) {
		t.Errorf("cbor: too deep, typed: %v", err)
	}
	var str string
	if err := c.UnmarshalInto(unhex(t, "62 c3 28"), &str); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("cbor: invalid UTF-8, typed: %v", err)
	}
	j := mustJSON(t, lim)
	if err := j.UnmarshalInto([]byte(`{"a":1,"a":2}`), &m); !errors.Is(err, ErrDuplicateKey) {
		t.Errorf("json: duplicate key: %v", err)
	}
}

func TestLimitsValidate(t *testing.T) {
	for _, l := range []Limits{{MaxSize: -1}, {MaxDepth: 3}, {MaxDepth: 65536}, {MaxItems: 15}} {
		if _, err := NewCBOR(l); err == nil {
			t.Errorf("NewCBOR(%+v) accepted", l)
		}
		if _, err := NewJSON(l); err == nil {
			t.Errorf("NewJSON(%+v) accepted", l)
		}
	}
	got := mustCBOR(t, Limits{}).Limits()
	if got != (Limits{MaxSize: DefaultMaxSizeMQTT, MaxDepth: DefaultMaxDepth, MaxItems: DefaultMaxItems}) {
		t.Errorf("defaults %+v", got)
	}
	for _, name := range []string{"json", "cbor"} {
		c, err := New(name, Limits{MaxSize: DefaultMaxSizeWebSocket})
		if err != nil || c.Name() != name {
			t.Errorf("New(%q) = %v, %v", name, c, err)
		}
	}
	if _, err := New("xml", Limits{}); err == nil {
		t.Error("New(xml) accepted")
	}
}

// TestDecodedBytesDoNotAlias: decoded byte strings are copies, so the
// caller may reuse its read buffer.
func TestDecodedBytesDoNotAlias(t *testing.T) {
	c := mustCBOR(t, Limits{})
	in := unhex(t, "42 0102")
	v, err := c.Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	in[1] = 9
	if b := v.([]byte); b[0] != 1 {
		t.Fatal("decoded bytes alias the input")
	}
}
